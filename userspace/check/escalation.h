// Escalation: an address that collects more than N refusals in T seconds is
// penalised, dropped at the NIC for P seconds (docs/key-binding.md). This
// counts refusals per address and says when one crosses its rule; the daemon
// writes the penalty. Not thread-safe: its owner locks.
#pragma once

#include <cstdint>
#include <map>

#include "key_bindings.h"
#include "key_link_settings.h"

namespace sluice {

class Escalation {
 public:
  // At most `capacity` addresses are counted at once; past that, the oldest
  // windows are forgotten first when they have closed, else the refusal is
  // not counted (a flood of distinct addresses cannot grow the table).
  explicit Escalation(size_t capacity) : capacity_(capacity) {}

  // Counts one refusal of `source` at `now_ns`. True when this refusal is the
  // one past rule.refusals within rule.within_s: the count starts over (the
  // caller penalises the address).
  bool refused(const struct sluice_source& source, const EscalationRule& rule, uint64_t now_ns);
  void forget(const struct sluice_source& source) { windows_.erase(source); }
  size_t size() const { return windows_.size(); }

 private:
  struct Window {
    uint64_t start_ns = 0;
    uint64_t within_ns = 0;
    uint32_t count = 0;
  };
  size_t capacity_;
  std::map<struct sluice_source, Window, SourceLess> windows_;
};

}  // namespace sluice
