// WorkQueue: the controller's level-triggered queue of AWSIAMRole keys, as client-go's
// rate-limited delaying queue:
// - a key is queued at most once; a key added while a worker holds it is processed again after
//   Done() (never by two workers at once);
// - AddAfter(key, delay) queues it when the delay has passed (the earliest of several wins);
// - AddRateLimited(key) delays by full-jitter exponential backoff on its consecutive failures,
//   Forget(key) resets them after a success.
// Due times are Clock::SteadyNow() times; TryGet() is the non-blocking step (tests use a
// FakeClock), Get() waits in real time (at most poll_interval between looks at the clock).
//
// Thread-safety: every method may be called from any thread.
//
//   controller::WorkQueue queue(clock, random, {});
//   queue.Add("team-a/app");
//   while (auto key = queue.Get(stop)) { Process(*key); queue.Done(*key); }
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <stop_token>
#include <string>

#include "podiam/base/clock.hpp"
#include "podiam/base/random.hpp"

namespace podiam::controller {

struct WorkQueueOptions {
  std::chrono::milliseconds backoff_initial{500};
  std::chrono::milliseconds backoff_max{std::chrono::minutes(5)};
  std::chrono::milliseconds poll_interval{200};
};

class WorkQueue {
 public:
  WorkQueue(const Clock& clock, Random& random, WorkQueueOptions options);

  void Add(const std::string& key);
  void AddAfter(const std::string& key, std::chrono::nanoseconds delay);
  // Returns the delay chosen.
  std::chrono::nanoseconds AddRateLimited(const std::string& key);
  void Forget(const std::string& key);
  [[nodiscard]] int Failures(const std::string& key) const;

  // A ready key (moving due delayed keys first), or nullopt.
  std::optional<std::string> TryGet();
  // Blocks until a key is ready or `stop` is requested (then nullopt) or ShutDown().
  std::optional<std::string> Get(const std::stop_token& stop);
  void Done(const std::string& key);
  void ShutDown();

  // Ready + delayed keys.
  [[nodiscard]] std::size_t Depth() const;

 private:
  void AddLocked(const std::string& key);
  void PromoteDueLocked(Clock::SteadyTime now);

  const Clock& clock_;
  Random& random_;
  WorkQueueOptions options_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> ready_;
  std::set<std::string> dirty_;       // queued (in ready_) or to re-queue after Done
  std::set<std::string> processing_;  // held by a worker
  std::map<std::string, Clock::SteadyTime> delayed_;
  std::map<std::string, int> failures_;
  bool shut_down_ = false;
};

}  // namespace podiam::controller
