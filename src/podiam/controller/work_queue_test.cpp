#include "podiam/controller/work_queue.hpp"

#include <gtest/gtest.h>

#include "podiam/testing/fake_clock.hpp"
#include "podiam/testing/fake_random.hpp"

namespace podiam::controller {
namespace {

using std::chrono::seconds;

TEST(WorkQueueTest, DeduplicatesAndNeverHandsOutAKeyTwiceAtOnce) {
  testing::FakeClock clock;
  testing::FakeRandom random;
  WorkQueue q(clock, random, {});
  q.Add("a");
  q.Add("a");
  q.Add("b");
  EXPECT_EQ(q.Depth(), 2U);
  auto a = q.TryGet();
  ASSERT_EQ(a, "a");
  q.Add("a");  // while held: again after Done
  EXPECT_EQ(q.TryGet(), "b");
  EXPECT_EQ(q.TryGet(), std::nullopt);
  q.Done("a");
  EXPECT_EQ(q.TryGet(), "a");
  q.Done("a");
  q.Done("b");
  EXPECT_EQ(q.TryGet(), std::nullopt);
}

TEST(WorkQueueTest, DelaysUntilDueKeepingTheEarliest) {
  testing::FakeClock clock;
  testing::FakeRandom random;
  WorkQueue q(clock, random, {});
  q.AddAfter("a", seconds(10));
  q.AddAfter("a", seconds(5));
  q.AddAfter("a", seconds(20));
  EXPECT_EQ(q.TryGet(), std::nullopt);
  clock.Advance(seconds(5));
  EXPECT_EQ(q.TryGet(), "a");
  q.Done("a");
  EXPECT_EQ(q.TryGet(), std::nullopt);
  EXPECT_EQ(q.Depth(), 0U);
}

TEST(WorkQueueTest, RateLimitedRetriesBackOffExponentiallyUntilForgotten) {
  testing::FakeClock clock;
  testing::FakeRandom random(1.0);
  WorkQueue q(clock, random, {.backoff_initial = seconds(1), .backoff_max = seconds(8)});
  EXPECT_EQ(q.AddRateLimited("a"), seconds(1));
  EXPECT_EQ(q.AddRateLimited("a"), seconds(2));  // (still delayed; the earliest due time wins)
  EXPECT_EQ(q.AddRateLimited("a"), seconds(4));
  EXPECT_EQ(q.AddRateLimited("a"), seconds(8));
  EXPECT_EQ(q.AddRateLimited("a"), seconds(8));
  EXPECT_EQ(q.Failures("a"), 5);
  q.Forget("a");
  EXPECT_EQ(q.Failures("a"), 0);
  EXPECT_EQ(q.AddRateLimited("a"), seconds(1));
}

TEST(WorkQueueTest, ShutDownEndsGet) {
  testing::FakeClock clock;
  testing::FakeRandom random;
  WorkQueue q(clock, random, {});
  q.ShutDown();
  std::stop_source stop;
  EXPECT_EQ(q.Get(stop.get_token()), std::nullopt);
  q.Add("a");
  EXPECT_EQ(q.Depth(), 0U);
}

}  // namespace
}  // namespace podiam::controller
