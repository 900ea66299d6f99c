#include "replay_window.h"

namespace sluice::cluster {

ReplayVerdict ReplayWindow::accept(uint64_t seq) {
  if (!any_ || seq > highest_) {
    uint64_t shift = any_ ? seq - highest_ : kWidth;
    seen_ = shift >= kWidth ? 0 : seen_ << shift;
    seen_ |= 1;
    highest_ = seq;
    any_ = true;
    return ReplayVerdict::kFresh;
  }
  uint64_t behind = highest_ - seq;
  if (behind >= kWidth) return ReplayVerdict::kTooOld;
  uint64_t bit = uint64_t{1} << behind;
  if (seen_ & bit) return ReplayVerdict::kReplayed;
  seen_ |= bit;
  return ReplayVerdict::kFresh;
}

ReplayVerdict ReplayGuard::accept(const std::string& sender, uint64_t boot_epoch, uint64_t seq) {
  auto [it, inserted] = senders_.try_emplace(sender);
  Run& run = it->second;
  if (inserted || boot_epoch > run.boot_epoch) {
    run.boot_epoch = boot_epoch;
    run.window = ReplayWindow{};
  } else if (boot_epoch < run.boot_epoch) {
    return ReplayVerdict::kStaleRun;
  }
  return run.window.accept(seq);
}

}  // namespace sluice::cluster
