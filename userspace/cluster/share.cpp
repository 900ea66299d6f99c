#include "share.h"

#include <algorithm>

namespace sluice::cluster {

uint64_t sync_timeout_ns(uint64_t sync_interval_ns) {
  return std::max(kSyncTimeoutIntervals * sync_interval_ns, kMinSyncTimeoutNs);
}

size_t members_in_sync(const std::vector<MemberInfo>& members,
                       const std::function<uint64_t(const std::string&)>& last_sync_ns,
                       uint64_t now_ns, uint64_t timeout_ns, std::vector<std::string>* left_out) {
  size_t count = 0;
  for (const auto& member : members) {
    if (member.self) {
      ++count;
      continue;
    }
    const uint64_t synced = last_sync_ns(member.name);
    bool counts = false;
    if (member.state == MemberState::kAlive || member.state == MemberState::kSuspect) {
      const uint64_t fresh =
          member.state == MemberState::kAlive ? std::max(synced, member.state_since_ns) : synced;
      counts = fresh != 0 && now_ns <= fresh + timeout_ns;
    }
    if (counts)
      ++count;
    else if (left_out && now_ns > synced + timeout_ns)
      left_out->push_back(member.name);
  }
  return count;
}

double partition_share(size_t in_sync, size_t counted) {
  const size_t total = std::max<size_t>(1, counted);
  return std::min(1.0, static_cast<double>(in_sync) / static_cast<double>(total));
}

}  // namespace sluice::cluster
