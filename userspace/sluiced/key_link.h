// Joins the request layer's answers to the data path (docs/key-binding.md):
// after a successful check with a key, the client's address is bound to the
// key (the data path then judges it by the key's tier against the key's own
// bucket); an address refused too often is penalised (dropped at the NIC for
// a while). Answers are observed on any thread; the maps are written from the
// daemon's loop in batches (flush()), never per request.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "checker.h"
#include "dataplane.h"
#include "escalation.h"
#include "key_bindings.h"
#include "key_link_settings.h"

namespace sluice {

// The address as the data path keys it: `host` masked to its aggregation prefix.
struct sluice_source source_of(const Cidr& host, uint32_t v4_prefix_len, uint32_t v6_prefix_len);

// What KeyLink needs of the daemon's configuration, computed at each commit.
struct KeyLinkView {
  KeyBindingSettings binding;
  EscalationSettings escalation;
  uint32_t v4_prefix_len = 32, v6_prefix_len = 64;
  // Never bound, never penalised: the allow list, key_binding.proxies and the
  // check API's trusted proxies.
  std::vector<Cidr> exempt;
  struct KernelTier {
    uint32_t index = 0;
    uint64_t rank = 0;  // packets/s; UINT64_MAX unlimited
  };
  std::map<std::string, KernelTier> kernel_tier;  // request tier -> its kernel tier
};

struct PenaltyInfo {
  struct sluice_source source;
  std::string address;      // as the check saw it
  std::string tier;         // request tier whose rule it crossed ("" anonymous)
  std::string rule;         // EscalationRule::describe(), or "(set by an earlier daemon)"
  uint64_t expires_ns = 0;  // CLOCK_MONOTONIC
  uint64_t expires_unix = 0;
};

struct KeyLinkCounters {
  uint64_t bindings = 0;           // live bindings now
  uint64_t bind_refused_full = 0;  // bindings refused: table full
  uint64_t bind_kept = 0;          // a second key's claim refused by the two-keys rule
  uint64_t escalations = 0;        // penalties imposed
  uint64_t penalties = 0;          // penalties in force now
  uint64_t map_errors = 0;         // map writes that failed (logged)
};

class KeyLink {
 public:
  // Switches to a new configuration; tables whose TTL or size changed start over.
  void configure(KeyLinkView view);
  bool active() const;

  // One answer of the check API (any thread).
  void observe(const Decision& decision, uint64_t now_ns);

  // On the loop: deletes what expired and writes what changed to every data
  // plane; every `sweep_every` calls also removes expired entries that an
  // earlier daemon left in the maps (and shows their penalties).
  void flush(const std::vector<Dataplane*>& dataplanes, uint64_t now_ns);

  std::vector<PenaltyInfo> penalties() const;
  // Lifts the penalty of `address` (aggregated) now; false when it has none.
  bool lift(const Cidr& address, const std::vector<Dataplane*>& dataplanes);
  // The penalty of an address, for the usage API.
  std::optional<PenaltyInfo> penalty_of(const Cidr& address) const;
  KeyLinkCounters counters() const;

 private:
  bool exempt(const Cidr& host) const;
  void bind(const Identity& identity, const Cidr& host, const struct sluice_source& source,
            uint64_t now_ns);
  void escalate(const Identity& identity, const struct sluice_source& source, uint64_t now_ns);
  void sweep_maps(const std::vector<Dataplane*>& dataplanes, uint64_t now_ns);

  mutable std::mutex mutex_;
  std::shared_ptr<const KeyLinkView> view_;
  std::unique_ptr<KeyBindings> bindings_;
  std::unique_ptr<Escalation> escalation_;
  std::map<struct sluice_source, PenaltyInfo, SourceLess> penalties_;
  std::vector<PenaltyInfo> new_penalties_;  // to write at the next flush
  KeyLinkCounters counters_;
  uint64_t flushes_ = 0;
};

// Prometheus text for the counters (sluice_key_* and sluice_penalt*).
std::string key_link_metrics(const KeyLinkCounters& counters);

}  // namespace sluice
