// A fixed pool of threads for blocking work, with a bounded queue and a per-key share: no key (a
// pod's source address) can have more than `max_per_key` items queued or running, and nothing is
// accepted past `max_queued`. TryPost() says no at once instead of letting a queue grow, so an
// overloaded caller gets a fast "retry" and one source can never starve the others.
//
// Thread-safety: TryPost() from any thread. Stop() (and the destructor) let running work finish,
// drop what is still queued, and join.
//
//   WorkQueue queue({.threads = 16, .max_queued = 1024, .max_per_key = 8});
//   if (!queue.TryPost(peer_ip, [=] { ... })) { answer 503 }
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

namespace podiam {

struct WorkQueueOptions {
  int threads = 16;
  std::size_t max_queued = 1024;  // waiting, not counting running
  std::size_t max_per_key = 8;    // queued + running, per key
};

class WorkQueue {
 public:
  explicit WorkQueue(WorkQueueOptions options);
  ~WorkQueue();
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  // False when stopped, when the queue is full, or when `key` already has max_per_key items.
  [[nodiscard]] bool TryPost(std::string_view key, std::function<void()> work);
  void Stop();

  [[nodiscard]] std::size_t Queued() const;

 private:
  struct Item {
    std::string key;
    std::function<void()> work;
  };
  void Run();

  WorkQueueOptions options_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Item> queue_;
  std::unordered_map<std::string, std::size_t> per_key_;  // queued + running
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace podiam
