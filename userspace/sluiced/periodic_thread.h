// A thread that runs one task every period until stopped: for work that must
// not hold up the daemon's loop, which answers the check API (the kernel
// global poll reads a map of up to 65,536 sources: docs/kernel-global.md).
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace sluice {

class PeriodicThread {
 public:
  PeriodicThread() = default;
  PeriodicThread(const PeriodicThread&) = delete;
  PeriodicThread& operator=(const PeriodicThread&) = delete;
  ~PeriodicThread() { stop(); }

  // Runs `task` now and then every `period` (from the start of one run to the
  // start of the next; a run that overruns is followed at once by the next).
  void start(std::chrono::nanoseconds period, std::function<void()> task);
  // Waits for a run in progress to end; no run starts after it. Idempotent.
  void stop();
  bool running() const { return thread_.joinable(); }

 private:
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace sluice
