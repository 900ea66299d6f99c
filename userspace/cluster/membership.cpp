#include "membership.h"

#include <algorithm>
#include <cmath>

namespace sluice::cluster {
namespace {

bool reachable(MemberState state) {
  return state == MemberState::kAlive || state == MemberState::kSuspect;
}

bool gone(MemberState state) {
  return state == MemberState::kDead || state == MemberState::kLeft;
}

// Whether `update` overrides what we hold, by SWIM's precedence: a higher
// incarnation wins; at the same incarnation suspect beats alive and dead or
// left beat both; nothing but a higher incarnation revives a dead member.
bool overrides(const MemberUpdate& update, const MemberInfo& known) {
  switch (update.state) {
    case MemberState::kAlive:
      return update.incarnation > known.incarnation;
    case MemberState::kSuspect:
      if (gone(known.state)) return update.incarnation > known.incarnation;
      return update.incarnation > known.incarnation ||
             (update.incarnation == known.incarnation && known.state == MemberState::kAlive);
    case MemberState::kDead:
    case MemberState::kLeft:
      if (gone(known.state)) return update.incarnation > known.incarnation;
      return update.incarnation >= known.incarnation;
  }
  return false;
}

}  // namespace

Membership::Membership(MembershipConfig config, Send send, uint64_t now_ns)
    : config_(std::move(config)),
      send_(std::move(send)),
      random_(config_.seed ? config_.seed : std::random_device{}()) {
  self_.name = config_.self;
  self_.address = config_.address;
  self_.state_since_ns = now_ns;
  self_.self = true;
  next_probe_ns_ = now_ns + config_.probe_interval_ns;
  next_sync_ns_ = now_ns + config_.sync_interval_ns;
  now_ns_ = now_ns;
}

void Membership::join(const std::vector<PeerAddress>& seeds) {
  for (const auto& seed : seeds)
    if (seed != self_.address) send_sync(seed, true);
}

void Membership::leave() {
  self_.state = MemberState::kLeft;
  Sync sync{false, {update_of(self_)}};
  for (const auto& [name, member] : members_)
    if (reachable(member.info.state)) send_(member.info.address, sync);
}

uint64_t Membership::suspicion_timeout_ns() const {
  double scale = std::max(1.0, std::log10(static_cast<double>(members_.size() + 1)));
  return static_cast<uint64_t>(config_.suspicion_mult * scale *
                               static_cast<double>(config_.probe_interval_ns));
}

uint64_t Membership::scaled_by_health(uint64_t duration_ns) const {
  return duration_ns * (health_ + 1);
}

void Membership::adjust_health(int delta) {
  const int ceiling = static_cast<int>(std::max(1U, config_.awareness_max)) - 1;
  health_ = static_cast<unsigned>(std::clamp(static_cast<int>(health_) + delta, 0, ceiling));
}

unsigned Membership::retransmit_limit() const {
  double scale = std::ceil(std::log10(static_cast<double>(members_.size() + 2)));
  return std::max(3U, static_cast<unsigned>(config_.retransmit_mult * scale));
}

MemberUpdate Membership::update_of(const MemberInfo& info) const {
  return {info.state, info.name, info.incarnation, info.address};
}

void Membership::gossip(const MemberUpdate& update) {
  std::erase_if(rumours_, [&](const Rumour& r) { return r.update.name == update.name; });
  rumours_.push_back({update, 0});
}

std::vector<MemberUpdate> Membership::piggyback(size_t budget) {
  std::stable_sort(rumours_.begin(), rumours_.end(),
                   [](const Rumour& a, const Rumour& b) { return a.sent < b.sent; });
  std::vector<MemberUpdate> out;
  size_t used = 0;
  for (auto& rumour : rumours_) {
    size_t size = encoded_size(rumour.update);
    if (used + size > budget || out.size() == 255) break;
    used += size;
    out.push_back(rumour.update);
    ++rumour.sent;
  }
  const unsigned limit = retransmit_limit();
  std::erase_if(rumours_, [&](const Rumour& r) { return r.sent >= limit; });
  return out;
}

void Membership::refute(uint64_t incarnation) {
  // Others suspected us: likely we were too slow to answer (Lifeguard).
  adjust_health(+1);
  self_.incarnation = std::max(self_.incarnation, incarnation) + 1;
  gossip(update_of(self_));
}

void Membership::set_state(Member& member, MemberState state, uint64_t incarnation,
                           uint64_t now_ns) {
  if (member.info.state != state) member.info.state_since_ns = now_ns;
  member.info.state = state;
  member.info.incarnation = incarnation;
  if (state == MemberState::kSuspect) member.suspect_deadline_ns = now_ns + suspicion_timeout_ns();
}

void Membership::apply(const MemberUpdate& update, uint64_t now_ns) {
  if (update.name.empty()) return;
  if (update.name == self_.name) {
    if (self_.state == MemberState::kLeft) return;
    if (update.state != MemberState::kAlive && update.incarnation >= self_.incarnation)
      refute(update.incarnation);
    else if (update.state == MemberState::kAlive && update.incarnation > self_.incarnation)
      self_.incarnation = update.incarnation;
    return;
  }
  auto [it, inserted] = members_.try_emplace(update.name);
  Member& member = it->second;
  if (inserted) {
    member.info.name = update.name;
    member.info.address = update.address;
    member.info.state = update.state;
    member.info.incarnation = update.incarnation;
    member.info.state_since_ns = now_ns;
    if (update.state == MemberState::kSuspect)
      member.suspect_deadline_ns = now_ns + suspicion_timeout_ns();
    gossip(update);
    return;
  }
  if (!overrides(update, member.info)) return;
  member.info.address = update.address;
  set_state(member, update.state, update.incarnation, now_ns);
  gossip(update);
}

void Membership::touch(const std::string& sender, const PeerAddress& from, uint64_t now_ns) {
  auto it = members_.find(sender);
  if (it == members_.end()) return;
  it->second.info.last_contact_ns = now_ns;
  if (reachable(it->second.info.state)) it->second.info.address = from;
}

void Membership::send_sync(const PeerAddress& to, bool reply_wanted) {
  // Self first, then the others; a cluster too large for one datagram sends
  // what fits and relies on gossip for the rest.
  Sync sync{reply_wanted, {update_of(self_)}};
  size_t used = 2 + encoded_size(sync.members.front());
  const size_t budget = body_budget(self_.name);
  for (const auto& [name, member] : members_) {
    MemberUpdate update = update_of(member.info);
    if (used + encoded_size(update) > budget || sync.members.size() == 255) break;
    used += encoded_size(update);
    sync.members.push_back(std::move(update));
  }
  send_(to, sync);
}

void Membership::receive(const std::string& sender, const PeerAddress& from, const Body& body,
                         uint64_t now_ns) {
  now_ns_ = std::max(now_ns_, now_ns);
  if (self_.state == MemberState::kLeft) return;
  touch(sender, from, now_ns);
  if (const auto* ping = std::get_if<Ping>(&body)) {
    for (const auto& update : ping->updates) apply(update, now_ns);
    if (ping->target != self_.name) return;
    send_(from, Ack{ping->probe, piggyback(body_budget(self_.name) - 6)});
  } else if (const auto* ack = std::get_if<Ack>(&body)) {
    for (const auto& update : ack->updates) apply(update, now_ns);
    if (auto relay = relays_.find(ack->probe); relay != relays_.end()) {
      send_(relay->second.requester, Ack{relay->second.requester_probe, {}});
      relays_.erase(relay);
    } else if (pending_ && ack->probe == pending_probe_) {
      pending_.reset();
      adjust_health(-1);
    }
  } else if (const auto* request = std::get_if<PingReq>(&body)) {
    uint32_t probe = next_probe_++;
    relays_[probe] = {from, request->probe, now_ns + config_.probe_interval_ns};
    send_(request->target_address, Ping{probe, request->target, {}});
  } else if (const auto* sync = std::get_if<Sync>(&body)) {
    for (const auto& update : sync->members) apply(update, now_ns);
    if (sync->reply_wanted) send_sync(from, false);
  }
}

// Whom to ping. A healthy node follows a schedule the members share: the
// reachable members and self, by name, form a ring of n; in probe period k
// of the fleet's clock, the member at position p pings the one at
// p + 1 + (k mod (n - 1)). For one k that is a permutation, so while the
// members agree on the ring and their clocks within a fraction of a period,
// every member is pinged once in every period, by a different member each
// time, and a dead one is pinged within a period of its death. memberlist's
// per-member shuffled round-robin can leave a member unpinged for
// 2(n - 1) - 1 periods by each of the others: its first probe came up to 3 s
// after a death in five nodes, which put the death's notice (that probe, a
// period, the suspicion) past 5 s one time in ten
// (Membership.DeathsAreNoticed...).
// A node whose local health slows its probes (every score + 1 periods, so it
// would take only some of the fleet's steps) walks its own shuffled
// round-robin instead, as memberlist does: it still reaches every member
// within two rounds, whatever the ring does meanwhile.
void Membership::start_probe(uint64_t now_ns) {
  const std::string* name = health_ == 0 ? scheduled_target(now_ns) : next_in_round();
  if (!name) return;
  const auto& target = members_.at(*name);
  pending_probe_ = next_probe_++;
  pending_ = Pending{*name, now_ns, false};
  const size_t base = 1 + 4 + 1 + name->size() + 1;
  send_(target.info.address,
        Ping{pending_probe_, *name, piggyback(body_budget(self_.name) - base)});
}

const std::string* Membership::scheduled_target(uint64_t now_ns) const {
  std::vector<const std::string*> ring{&self_.name};
  for (const auto& [name, member] : members_)
    if (reachable(member.info.state)) ring.push_back(&name);
  if (ring.size() < 2) return nullptr;
  std::sort(ring.begin(), ring.end(), [](const auto* a, const auto* b) { return *a < *b; });
  const size_t self_at = std::find(ring.begin(), ring.end(), &self_.name) - ring.begin();
  const uint64_t fleet_ns = now_ns + static_cast<uint64_t>(fleet_clock_offset_ns_);
  const size_t step = 1 + (fleet_ns / config_.probe_interval_ns) % (ring.size() - 1);
  return ring[(self_at + step) % ring.size()];
}

const std::string* Membership::next_in_round() {
  if (probe_index_ >= probe_order_.size()) {
    probe_order_.clear();
    for (const auto& [name, member] : members_)
      if (reachable(member.info.state)) probe_order_.push_back(name);
    std::shuffle(probe_order_.begin(), probe_order_.end(), random_);
    probe_index_ = 0;
  }
  while (probe_index_ < probe_order_.size()) {
    auto it = members_.find(probe_order_[probe_index_++]);
    if (it != members_.end() && reachable(it->second.info.state)) return &it->first;
  }
  return nullptr;
}

void Membership::finish_probe(uint64_t now_ns) {
  if (!pending_) return;
  auto it = members_.find(pending_->target);
  pending_.reset();
  // No ack, direct or indirect. Without nacks from the helpers (memberlist's
  // refinement) we cannot tell a dead target from our own slowness, so every
  // failed probe counts against us, as memberlist does when it expects none.
  adjust_health(+1);
  if (it == members_.end() || it->second.info.state != MemberState::kAlive) return;
  set_state(it->second, MemberState::kSuspect, it->second.info.incarnation, now_ns);
  gossip(update_of(it->second.info));
}

void Membership::tick(uint64_t now_ns) {
  now_ns_ = std::max(now_ns_, now_ns);
  if (self_.state == MemberState::kLeft) return;
  for (auto& [name, member] : members_) {
    if (member.info.state == MemberState::kSuspect && now_ns >= member.suspect_deadline_ns) {
      set_state(member, MemberState::kDead, member.info.incarnation, now_ns);
      gossip(update_of(member.info));
    }
  }
  std::erase_if(relays_, [&](const auto& entry) { return entry.second.expires_ns <= now_ns; });

  if (pending_ && !pending_->indirect_sent &&
      now_ns >= pending_->sent_ns + scaled_by_health(config_.probe_timeout_ns)) {
    pending_->indirect_sent = true;
    std::vector<const Member*> helpers;
    for (const auto& [name, member] : members_)
      if (name != pending_->target && member.info.state == MemberState::kAlive)
        helpers.push_back(&member);
    std::shuffle(helpers.begin(), helpers.end(), random_);
    if (helpers.size() > config_.indirect_probes) helpers.resize(config_.indirect_probes);
    const auto& target = members_.at(pending_->target).info;
    for (const auto* helper : helpers)
      send_(helper->info.address, PingReq{pending_probe_, target.name, target.address});
  }
  if (now_ns >= next_probe_ns_) {
    finish_probe(now_ns);
    start_probe(now_ns);
    next_probe_ns_ = now_ns + scaled_by_health(config_.probe_interval_ns);
  }
  if (now_ns >= next_gossip_ns_ && !rumours_.empty()) {
    std::vector<const Member*> live;
    for (const auto& [name, member] : members_)
      if (reachable(member.info.state)) live.push_back(&member);
    std::shuffle(live.begin(), live.end(), random_);
    if (live.size() > config_.gossip_fanout) live.resize(config_.gossip_fanout);
    if (!live.empty()) {
      Sync gossip_message{false, piggyback(body_budget(self_.name) - 2)};
      for (const auto* member : live) send_(member->info.address, gossip_message);
    }
    next_gossip_ns_ = now_ns + config_.gossip_interval_ns;
  }
  if (now_ns >= next_sync_ns_) {
    // One live member repairs lost gossip; one dead member finds a healed
    // partition or a restarted node (nobody probes the dead).
    std::vector<const Member*> live, dead;
    for (const auto& [name, member] : members_) {
      if (reachable(member.info.state)) live.push_back(&member);
      if (member.info.state == MemberState::kDead) dead.push_back(&member);
    }
    for (auto* group : {&live, &dead}) {
      if (group->empty()) continue;
      std::uniform_int_distribution<size_t> pick(0, group->size() - 1);
      send_sync((*group)[pick(random_)]->info.address, true);
    }
    next_sync_ns_ = now_ns + config_.sync_interval_ns;
  }
}

std::vector<MemberInfo> Membership::members() const {
  std::vector<MemberInfo> out{self_};
  for (const auto& [name, member] : members_) out.push_back(member.info);
  return out;
}

std::vector<MemberInfo> Membership::reachable_peers() const {
  std::vector<MemberInfo> out;
  for (const auto& [name, member] : members_)
    if (reachable(member.info.state)) out.push_back(member.info);
  return out;
}

size_t Membership::visible_count() const {
  size_t count = 1;
  for (const auto& [name, member] : members_) count += reachable(member.info.state) ? 1 : 0;
  return count;
}

size_t Membership::counted_count() const {
  size_t count = 1;
  for (const auto& [name, member] : members_) {
    const auto& info = member.info;
    if (reachable(info.state) || (info.state == MemberState::kDead &&
                                  now_ns_ - info.state_since_ns < config_.forget_dead_after_ns))
      ++count;
  }
  return count;
}

}  // namespace sluice::cluster
