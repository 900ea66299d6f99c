#include "replay_window.h"

#include <gtest/gtest.h>

namespace sluice::cluster {
namespace {

TEST(ReplayWindow, EachSequenceNumberIsAcceptedOnce) {
  ReplayWindow window;
  EXPECT_EQ(window.accept(10), ReplayVerdict::kFresh);
  EXPECT_EQ(window.accept(10), ReplayVerdict::kReplayed);
  EXPECT_EQ(window.accept(12), ReplayVerdict::kFresh);
  EXPECT_EQ(window.accept(11), ReplayVerdict::kFresh);  // reordered, still inside the window
  EXPECT_EQ(window.accept(11), ReplayVerdict::kReplayed);
  EXPECT_EQ(window.accept(200), ReplayVerdict::kFresh);
  EXPECT_EQ(window.accept(200 - 63), ReplayVerdict::kFresh);
  EXPECT_EQ(window.accept(200 - 64), ReplayVerdict::kTooOld);
  EXPECT_EQ(window.accept(12), ReplayVerdict::kTooOld);
}

TEST(ReplayGuard, ARestartStartsAFreshWindowAndOldRunsAreRefused) {
  ReplayGuard guard;
  EXPECT_EQ(guard.accept("a", 100, 5), ReplayVerdict::kFresh);
  EXPECT_EQ(guard.accept("a", 100, 5), ReplayVerdict::kReplayed);
  EXPECT_EQ(guard.accept("b", 100, 5), ReplayVerdict::kFresh);  // per sender
  EXPECT_EQ(guard.accept("a", 200, 1), ReplayVerdict::kFresh);  // restarted
  EXPECT_EQ(guard.accept("a", 100, 6), ReplayVerdict::kStaleRun);
}

}  // namespace
}  // namespace sluice::cluster
