#include "podiam/base/work_queue.hpp"

#include <algorithm>

namespace podiam {

WorkQueue::WorkQueue(WorkQueueOptions options) : options_(options) {
  options_.threads = std::max(1, options_.threads);
  options_.max_per_key = std::max<std::size_t>(1, options_.max_per_key);
  threads_.reserve(static_cast<std::size_t>(options_.threads));
  for (int i = 0; i < options_.threads; ++i) {
    threads_.emplace_back([this] { Run(); });
  }
}

WorkQueue::~WorkQueue() { Stop(); }

bool WorkQueue::TryPost(std::string_view key, std::function<void()> work) {
  {
    std::lock_guard lock(mu_);
    if (stopping_ || queue_.size() >= options_.max_queued) {
      return false;
    }
    std::size_t& mine = per_key_[std::string(key)];
    if (mine >= options_.max_per_key) {
      return false;
    }
    ++mine;
    queue_.push_back({std::string(key), std::move(work)});
  }
  cv_.notify_one();
  return true;
}

void WorkQueue::Run() {
  std::unique_lock lock(mu_);
  while (true) {
    cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (stopping_) {
      return;
    }
    Item item = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    item.work();
    item.work = nullptr;  // destroy what it captured outside the lock
    lock.lock();
    if (auto it = per_key_.find(item.key); it != per_key_.end() && --it->second == 0) {
      per_key_.erase(it);
    }
  }
}

void WorkQueue::Stop() {
  std::deque<Item> dropped;
  {
    std::lock_guard lock(mu_);
    if (stopping_ && threads_.empty()) {
      return;
    }
    stopping_ = true;
    dropped.swap(queue_);
  }
  cv_.notify_all();
  for (auto& t : threads_) {
    if (t.joinable()) {
      t.join();
    }
  }
  threads_.clear();
}

std::size_t WorkQueue::Queued() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

}  // namespace podiam
