#include "periodic_thread.h"

#include <algorithm>

namespace sluice {

void PeriodicThread::start(std::chrono::nanoseconds period, std::function<void()> task) {
  stop();
  stopping_ = false;
  thread_ = std::thread([this, period, task = std::move(task)] {
    auto next = std::chrono::steady_clock::now();
    std::unique_lock lock(mutex_);
    while (!stopping_) {
      lock.unlock();
      task();
      lock.lock();
      // An overrun is followed at once by one run, not by a catch-up burst.
      next = std::max(next + period, std::chrono::steady_clock::now());
      wake_.wait_until(lock, next, [this] { return stopping_; });
    }
  });
}

void PeriodicThread::stop() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

}  // namespace sluice
