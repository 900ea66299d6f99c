// Replay protection per sender, as IPsec does it (RFC 4303 3.4.3): a sliding
// window of the last 64 sequence numbers of the sender's current run. A
// sender's run is its boot epoch: a higher epoch (a restart) starts a fresh
// window, a lower one is an old run's message and is refused. Only
// authenticated datagrams reach it, so a forger cannot move a window.
#pragma once

#include <cstdint>
#include <map>
#include <string>

namespace sluice::cluster {

enum class ReplayVerdict { kFresh, kReplayed, kTooOld, kStaleRun };

class ReplayWindow {
 public:
  static constexpr uint64_t kWidth = 64;
  // Accepts `seq` once; later copies and anything kWidth behind the newest are refused.
  ReplayVerdict accept(uint64_t seq);

 private:
  uint64_t highest_ = 0;
  uint64_t seen_ = 0;  // bit i: highest_ - i was accepted
  bool any_ = false;
};

class ReplayGuard {
 public:
  ReplayVerdict accept(const std::string& sender, uint64_t boot_epoch, uint64_t seq);
  void forget(const std::string& sender) { senders_.erase(sender); }

 private:
  struct Run {
    uint64_t boot_epoch = 0;
    ReplayWindow window;
  };
  std::map<std::string, Run> senders_;
};

}  // namespace sluice::cluster
