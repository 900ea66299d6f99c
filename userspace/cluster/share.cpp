#include "share.h"

#include <algorithm>

namespace sluice::cluster {

uint64_t sync_timeout_ns(uint64_t sync_interval_ns) {
  return std::max(kSyncTimeoutIntervals * sync_interval_ns, kMinSyncTimeoutNs);
}

ConsumptionLedger::Limits ledger_limits(uint64_t sync_interval_ns) {
  ConsumptionLedger::Limits limits;
  limits.rejoin_after_ns = sync_timeout_ns(sync_interval_ns);
  return limits;
}

size_t members_in_sync(const std::vector<MemberInfo>& members,
                       const std::function<uint64_t(const std::string&)>& last_sync_ns,
                       uint64_t now_ns, uint64_t timeout_ns) {
  size_t count = 0;
  for (const auto& member : members) {
    if (member.self) {
      ++count;
      continue;
    }
    if (member.state != MemberState::kAlive && member.state != MemberState::kSuspect) continue;
    uint64_t fresh = last_sync_ns(member.name);
    if (member.state == MemberState::kAlive) fresh = std::max(fresh, member.state_since_ns);
    if (fresh != 0 && now_ns <= fresh + timeout_ns) ++count;
  }
  return count;
}

double partition_share(size_t in_sync, size_t counted) {
  const size_t total = std::max<size_t>(1, counted);
  return std::min(1.0, static_cast<double>(in_sync) / static_cast<double>(total));
}

}  // namespace sluice::cluster
