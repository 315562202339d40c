#include "podiam/base/work_queue.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>

namespace podiam {
namespace {

using namespace std::chrono_literals;

// A gate the test opens: work posted before blocks until then.
struct Gate {
  std::promise<void> open;
  std::shared_future<void> opened = open.get_future().share();
};

TEST(WorkQueueTest, RunsWorkOnItsThreads) {
  std::promise<std::thread::id> ran;
  WorkQueue q({.threads = 2});
  ASSERT_TRUE(q.TryPost("a", [&] { ran.set_value(std::this_thread::get_id()); }));
  auto f = ran.get_future();
  ASSERT_EQ(f.wait_for(5s), std::future_status::ready);
  EXPECT_NE(f.get(), std::this_thread::get_id());
}

// (Everything the work refers to is declared before the queue, so that the queue's destructor
// joins its threads before those go out of scope.)
TEST(WorkQueueTest, OneKeyCannotTakeMoreThanItsShare) {
  Gate gate;
  std::atomic<int> done{0};
  std::promise<void> again;
  WorkQueue q({.threads = 1, .max_queued = 100, .max_per_key = 3});
  auto blocked = [&] {
    gate.opened.wait();
    ++done;
  };
  EXPECT_TRUE(q.TryPost("10.0.0.1", blocked));   // running
  EXPECT_TRUE(q.TryPost("10.0.0.1", blocked));   // queued
  EXPECT_TRUE(q.TryPost("10.0.0.1", blocked));   // queued
  EXPECT_FALSE(q.TryPost("10.0.0.1", blocked));  // over its share
  EXPECT_TRUE(q.TryPost("10.0.0.2", blocked));   // another source still gets in
  gate.open.set_value();
  for (int i = 0; i < 500 && done.load() < 4; ++i) {
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_EQ(done.load(), 4);
  // The share is given back once the work has run.
  EXPECT_TRUE(q.TryPost("10.0.0.1", [&] { again.set_value(); }));
  EXPECT_EQ(again.get_future().wait_for(5s), std::future_status::ready);
}

TEST(WorkQueueTest, TheQueueIsBounded) {
  Gate gate;
  std::promise<void> started;
  WorkQueue q({.threads = 1, .max_queued = 2, .max_per_key = 100});
  EXPECT_TRUE(q.TryPost("a", [&] {
    started.set_value();
    gate.opened.wait();
  }));
  started.get_future().wait();
  EXPECT_TRUE(q.TryPost("b", [] {}));
  EXPECT_TRUE(q.TryPost("c", [] {}));
  EXPECT_EQ(q.Queued(), 2U);
  EXPECT_FALSE(q.TryPost("d", [] {}));
  gate.open.set_value();
}

TEST(WorkQueueTest, StopDropsQueuedWorkAndRefusesMore) {
  std::atomic<int> ran{0};
  Gate gate;
  std::promise<void> started;
  WorkQueue q({.threads = 1});
  EXPECT_TRUE(q.TryPost("a", [&] {
    started.set_value();
    gate.opened.wait();
    ++ran;
  }));
  started.get_future().wait();
  EXPECT_TRUE(q.TryPost("a", [&] { ++ran; }));
  std::thread stopper([&] { q.Stop(); });
  // The one thread is held by the gate, so the queue only empties when Stop() drops it.
  for (int i = 0; i < 500 && q.Queued() != 0; ++i) {
    std::this_thread::sleep_for(10ms);
  }
  gate.open.set_value();
  stopper.join();
  EXPECT_EQ(ran.load(), 1);  // the running one finished, the queued one was dropped
  EXPECT_FALSE(q.TryPost("a", [] {}));
  q.Stop();  // idempotent
}

}  // namespace
}  // namespace podiam
