#include "periodic_thread.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>

namespace sluice {
namespace {

using namespace std::chrono_literals;

TEST(PeriodicThread, RunsAtOnceAndAgainEveryPeriod) {
  PeriodicThread thread;
  std::atomic<int> runs{0};
  std::promise<void> third;
  thread.start(1ms, [&] {
    if (++runs == 3) third.set_value();
  });
  EXPECT_EQ(third.get_future().wait_for(10s), std::future_status::ready);
  thread.stop();
  EXPECT_FALSE(thread.running());
}

TEST(PeriodicThread, StopWaitsForTheRunInProgressAndNoneStartsAfter) {
  PeriodicThread thread;
  std::atomic<int> runs{0};
  std::atomic<bool> finished{false};
  std::promise<void> entered;
  thread.start(1ms, [&] {
    if (++runs > 1) return;
    entered.set_value();
    std::this_thread::sleep_for(50ms);  // the caller's stop() must wait for this
    finished = true;
  });
  entered.get_future().wait();
  thread.stop();
  EXPECT_TRUE(finished);
  const int after_stop = runs;
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(runs, after_stop);
  thread.stop();  // idempotent
}

TEST(PeriodicThread, ALongPeriodDoesNotDelayStop) {
  PeriodicThread thread;
  std::promise<void> ran;
  thread.start(std::chrono::hours(1), [&] { ran.set_value(); });
  ran.get_future().wait();
  const auto before = std::chrono::steady_clock::now();
  thread.stop();
  EXPECT_LT(std::chrono::steady_clock::now() - before, 5s);  // not an hour
}

}  // namespace
}  // namespace sluice
