#include "podiam/controller/work_queue.hpp"

#include <algorithm>
#include <cmath>

namespace podiam::controller {

WorkQueue::WorkQueue(const Clock& clock, Random& random, WorkQueueOptions options)
    : clock_(clock), random_(random), options_(options) {}

void WorkQueue::AddLocked(const std::string& key) {
  if (shut_down_ || dirty_.contains(key)) {
    return;
  }
  dirty_.insert(key);
  delayed_.erase(key);
  if (!processing_.contains(key)) {
    ready_.push_back(key);
    cv_.notify_one();
  }
}

void WorkQueue::Add(const std::string& key) {
  std::lock_guard lock(mu_);
  AddLocked(key);
}

void WorkQueue::AddAfter(const std::string& key, std::chrono::nanoseconds delay) {
  if (delay <= std::chrono::nanoseconds::zero()) {
    Add(key);
    return;
  }
  std::lock_guard lock(mu_);
  if (shut_down_ || dirty_.contains(key)) {
    return;  // already due sooner
  }
  auto due = clock_.SteadyNow() + delay;
  auto [it, inserted] = delayed_.emplace(key, due);
  if (!inserted && due < it->second) {
    it->second = due;
  }
  cv_.notify_one();
}

std::chrono::nanoseconds WorkQueue::AddRateLimited(const std::string& key) {
  std::chrono::nanoseconds delay{};
  {
    std::lock_guard lock(mu_);
    int n = ++failures_[key];
    double cap = std::min(
        static_cast<double>(options_.backoff_max.count()),
        static_cast<double>(options_.backoff_initial.count()) * std::pow(2.0, std::min(n - 1, 30)));
    // Equal jitter: half fixed, half random, so a retry never comes at once.
    delay = std::chrono::duration_cast<std::chrono::nanoseconds>(
        std::chrono::duration<double, std::milli>(cap / 2 + random_.Uniform01() * cap / 2));
  }
  AddAfter(key, delay);
  return delay;
}

void WorkQueue::Forget(const std::string& key) {
  std::lock_guard lock(mu_);
  failures_.erase(key);
}

int WorkQueue::Failures(const std::string& key) const {
  std::lock_guard lock(mu_);
  auto it = failures_.find(key);
  return it == failures_.end() ? 0 : it->second;
}

void WorkQueue::PromoteDueLocked(Clock::SteadyTime now) {
  for (auto it = delayed_.begin(); it != delayed_.end();) {
    if (it->second <= now) {
      std::string key = it->first;
      it = delayed_.erase(it);
      AddLocked(key);
    } else {
      ++it;
    }
  }
}

std::optional<std::string> WorkQueue::TryGet() {
  std::lock_guard lock(mu_);
  PromoteDueLocked(clock_.SteadyNow());
  if (ready_.empty() || shut_down_) {
    return std::nullopt;
  }
  std::string key = std::move(ready_.front());
  ready_.pop_front();
  dirty_.erase(key);
  processing_.insert(key);
  return key;
}

std::optional<std::string> WorkQueue::Get(const std::stop_token& stop) {
  std::unique_lock lock(mu_);
  while (!stop.stop_requested() && !shut_down_) {
    PromoteDueLocked(clock_.SteadyNow());
    if (!ready_.empty()) {
      std::string key = std::move(ready_.front());
      ready_.pop_front();
      dirty_.erase(key);
      processing_.insert(key);
      return key;
    }
    cv_.wait_for(lock, options_.poll_interval);
  }
  return std::nullopt;
}

void WorkQueue::Done(const std::string& key) {
  std::lock_guard lock(mu_);
  processing_.erase(key);
  if (dirty_.contains(key) && !shut_down_) {
    ready_.push_back(key);
    cv_.notify_one();
  }
}

void WorkQueue::ShutDown() {
  std::lock_guard lock(mu_);
  shut_down_ = true;
  cv_.notify_all();
}

std::size_t WorkQueue::Depth() const {
  std::lock_guard lock(mu_);
  return ready_.size() + delayed_.size();
}

}  // namespace podiam::controller
