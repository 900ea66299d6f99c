// SWIM membership (Das, Gupta, Motivala 2002) as HashiCorp memberlist runs
// it: every probe interval one member is pinged (which one: a schedule the
// members share, membership.cpp); without an ack within the probe timeout,
// k others are asked to ping it (indirect probes); without any
// ack by the end of the interval it becomes suspect, and dead when no one
// refutes within the suspicion timeout. A member refutes a suspicion about
// itself by raising its incarnation. Updates ride on pings and acks, each sent
// a bounded number of times; a full state sync joins a node and repairs lost
// gossip every sync interval.
//
// A pure state machine: time comes in as arguments and datagrams leave through
// a callback, so tests run whole clusters on a simulated network and clock.
// Not thread-safe; ClusterNode serialises calls.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "wire.h"

namespace sluice::cluster {

struct MembershipConfig {
  std::string self;
  PeerAddress address;
  uint64_t probe_interval_ns = 1'000'000'000;  // memberlist LAN: 1 s
  uint64_t probe_timeout_ns = 500'000'000;     // memberlist LAN: 500 ms
  unsigned indirect_probes = 3;                // memberlist LAN: 3
  // Suspicion lasts suspicion_mult * max(1, log10(members)) probe intervals.
  // memberlist uses 4 (5-6 s to notice a death); 2 notices it within 5 s.
  unsigned suspicion_mult = 2;
  unsigned retransmit_mult = 4;  // sends per update: mult * log10(n+1), at least 3
  // Pending rumours also go to `gossip_fanout` random members this often
  // (memberlist LAN: 200 ms, 3), so a death spreads without waiting for probes.
  uint64_t gossip_interval_ns = 200'000'000;
  unsigned gossip_fanout = 3;
  uint64_t sync_interval_ns = 2'000'000'000;  // full sync with one live and one dead member
  // A member dead this long no longer counts towards the cluster size (shares).
  uint64_t forget_dead_after_ns = 60'000'000'000;
  uint64_t seed = 0;  // random source for probe order and indirect probes (0: random)
  // Lifeguard's local health multiplier (Dadgar, Phillips, Currey 2018;
  // memberlist's "awareness"): a score from 0 to awareness_max - 1 that rises
  // when one of our probes gets no ack at all or when we must refute a
  // suspicion about ourselves, and falls with every acked probe. Our probe
  // timeout and probe interval are scaled by score + 1: a node too busy to
  // read its acks in time probes more slowly and waits longer before it
  // suspects anyone, instead of accusing healthy members. memberlist: 8;
  // 1 turns it off.
  unsigned awareness_max = 8;
};

struct MemberInfo {
  std::string name;
  PeerAddress address;
  MemberState state = MemberState::kAlive;
  uint64_t incarnation = 0;
  uint64_t state_since_ns = 0;   // when it entered this state
  uint64_t last_contact_ns = 0;  // last datagram from it (0: never)
  bool self = false;
};

class Membership {
 public:
  using Send = std::function<void(const PeerAddress&, const Body&)>;
  Membership(MembershipConfig config, Send send, uint64_t now_ns);

  // Asks each seed for its member list (a Sync with reply wanted).
  void join(const std::vector<PeerAddress>& seeds);
  // Announces a graceful leave to every member.
  void leave();
  void tick(uint64_t now_ns);
  // The fleet's clock (wall-clock time) minus the one tick() is given: the
  // probe schedule is a function of the fleet's time, so that members agree
  // on it. 0 when every member is given the same clock (tests).
  void set_fleet_clock_offset(int64_t offset_ns) { fleet_clock_offset_ns_ = offset_ns; }
  // A datagram authenticated as coming from `sender` at `from`.
  void receive(const std::string& sender, const PeerAddress& from, const Body& body,
               uint64_t now_ns);

  std::vector<MemberInfo> members() const;  // self first, then by name
  // Members alive or suspect (self included) and members that count towards
  // the cluster's size (not left, not dead for longer than forget_dead_after).
  size_t visible_count() const;
  size_t counted_count() const;
  std::vector<MemberInfo> reachable_peers() const;  // alive or suspect, self excluded
  const MembershipConfig& config() const { return config_; }
  uint64_t incarnation() const { return self_.incarnation; }
  // The local health score (0: healthy); probes are scaled by score + 1.
  unsigned local_health() const { return health_; }

 private:
  struct Member {
    MemberInfo info;
    uint64_t suspect_deadline_ns = 0;
  };
  struct Pending {  // our own probe in flight
    std::string target;
    uint64_t sent_ns = 0;
    bool indirect_sent = false;
  };
  struct Relay {  // a ping we make for someone else's PingReq
    PeerAddress requester;
    uint32_t requester_probe = 0;
    uint64_t expires_ns = 0;
  };
  struct Rumour {
    MemberUpdate update;
    unsigned sent = 0;
  };

  void apply(const MemberUpdate& update, uint64_t now_ns);
  void set_state(Member& member, MemberState state, uint64_t incarnation, uint64_t now_ns);
  void refute(uint64_t incarnation);
  void gossip(const MemberUpdate& update);
  std::vector<MemberUpdate> piggyback(size_t budget);
  MemberUpdate update_of(const MemberInfo& info) const;
  void start_probe(uint64_t now_ns);
  const std::string* scheduled_target(uint64_t now_ns) const;
  const std::string* next_in_round();
  void finish_probe(uint64_t now_ns);
  void send_sync(const PeerAddress& to, bool reply_wanted);
  void touch(const std::string& sender, const PeerAddress& from, uint64_t now_ns);
  uint64_t suspicion_timeout_ns() const;
  uint64_t scaled_by_health(uint64_t duration_ns) const;
  void adjust_health(int delta);
  unsigned retransmit_limit() const;

  MembershipConfig config_;
  Send send_;
  MemberInfo self_;
  std::map<std::string, Member> members_;  // everyone but self
  int64_t fleet_clock_offset_ns_ = 0;
  std::vector<std::string> probe_order_;  // the round of an unhealthy node
  size_t probe_index_ = 0;
  uint32_t next_probe_ = 1;
  std::optional<Pending> pending_;
  uint32_t pending_probe_ = 0;
  std::map<uint32_t, Relay> relays_;
  std::vector<Rumour> rumours_;
  uint64_t next_probe_ns_ = 0;
  uint64_t next_sync_ns_ = 0;
  uint64_t next_gossip_ns_ = 0;
  uint64_t now_ns_ = 0;  // latest time seen, for counted_count()
  unsigned health_ = 0;  // Lifeguard's local health score, < awareness_max
  std::mt19937_64 random_;
};

}  // namespace sluice::cluster
