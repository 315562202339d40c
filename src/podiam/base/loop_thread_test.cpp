#include "podiam/base/loop_thread.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>

namespace podiam {
namespace {

TEST(LoopThreadTest, StopCutsTheSleepShortAndJoins) {
  LoopThread loop;
  std::atomic<int> rounds{0};
  std::atomic<bool> ended{false};
  loop.Start([&](const std::stop_token& stop) {
    while (!stop.stop_requested()) {
      ++rounds;
      loop.Sleep(std::chrono::hours(1), stop);
    }
    ended = true;
  });
  while (rounds.load() == 0) {
    std::this_thread::yield();
  }
  const auto start = std::chrono::steady_clock::now();
  loop.Stop();
  EXPECT_TRUE(ended.load());
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  EXPECT_EQ(rounds.load(), 1);
  loop.Stop();  // idempotent
}

TEST(LoopThreadTest, RestartsWithAFreshTokenAndIgnoresASecondStart) {
  LoopThread loop;
  std::atomic<int> starts{0};
  auto body = [&](const std::stop_token& stop) {
    ++starts;
    while (!stop.stop_requested()) {
      loop.Sleep(std::chrono::hours(1), stop);
    }
  };
  loop.Start(body);
  loop.Start(body);  // already running: ignored
  loop.Stop();
  loop.Start(body);
  loop.Stop();
  EXPECT_EQ(starts.load(), 2);
}

TEST(LoopThreadTest, SleepReturnsAfterTheDelay) {
  LoopThread loop;
  std::stop_source never;
  loop.Sleep(std::chrono::milliseconds(1), never.get_token());
}

}  // namespace
}  // namespace podiam
