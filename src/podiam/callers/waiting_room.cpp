#include "podiam/callers/waiting_room.hpp"

#include <algorithm>

namespace podiam::callers {
namespace {

// IPs waiting for a direct lookup at most; more just wait for the watch until their deadline.
constexpr std::size_t kMaxLookupQueue = 256;
// The waiter thread looks at the clock at least this often (FakeClock in tests moves by itself).
constexpr auto kWaiterSlice = std::chrono::milliseconds(50);

}  // namespace

WaitingRoom::WaitingRoom(FindFn find, LookUpFn look_up, const Clock& clock, CallerMetrics& metrics,
                         WaitingOptions options)
    : find_(std::move(find)),
      look_up_(std::move(look_up)),
      clock_(clock),
      metrics_(metrics),
      options_(options) {}

WaitingRoom::~WaitingRoom() { Stop(); }

void WaitingRoom::Start() {
  std::lock_guard lock(wait_mu_);
  if (running_ || stopping_) {
    return;
  }
  running_ = true;
  waiter_thread_ = std::thread([this] { WaiterLoop(); });
  lookup_thread_ = std::thread([this] { LookupLoop(); });
}

void WaitingRoom::Stop() {
  {
    std::scoped_lock lock(wait_mu_, lookup_mu_);
    stopping_ = true;
  }
  wait_cv_.notify_all();
  lookup_cv_.notify_all();
  if (waiter_thread_.joinable()) {
    waiter_thread_.join();
  }
  if (lookup_thread_.joinable()) {
    lookup_thread_.join();
  }
  std::unordered_map<std::string, Waiting> left;
  {
    std::lock_guard lock(wait_mu_);
    left.swap(waiting_);
    waiter_count_ = 0;
    running_ = false;
  }
  for (auto& [ip, w] : left) {
    for (auto& waiter : w.waiters) {
      waiter.done({});
    }
  }
}

void WaitingRoom::Poke() {
  {
    std::lock_guard lock(wait_mu_);
    dirty_ = true;
  }
  wait_cv_.notify_one();
}

void WaitingRoom::Park(std::string_view ip, metadata::SteadyTime deadline, bool recent_miss,
                       metadata::AwaitCallback done) {
  const auto now = clock_.SteadyNow();
  {
    std::unique_lock lock(wait_mu_);
    // Look again under wait_mu_: the directory publishes before it pokes, so a pod published
    // between the caller's look and here is seen now or by the waiter thread's next round.
    if (auto caller = find_(ip)) {
      lock.unlock();
      return done({.caller = std::move(caller)});
    }
    if (!running_ || stopping_ || now >= deadline) {
      lock.unlock();
      return done({});
    }
    auto& waiting = waiting_[std::string(ip)];
    if (waiter_count_ >= options_.max_waiting ||
        waiting.waiters.size() >= options_.max_waiting_per_ip) {
      if (waiting.waiters.empty()) {
        waiting_.erase(std::string(ip));
      }
      lock.unlock();
      metrics_.unknown_callers.WithLabels({"overloaded"}).Inc();
      return done({.overloaded = true});
    }
    // A recent miss only waits the grace for the watch: the apiserver said "nobody" a moment ago.
    const auto grace_end = std::min(deadline, now + options_.watch_grace);
    waiting.waiters.push_back({.deadline = recent_miss ? grace_end : deadline,
                               .lookup_at = recent_miss ? metadata::SteadyTime::max() : grace_end,
                               .done = std::move(done)});
    ++waiter_count_;
    metrics_.waiting.Set(static_cast<double>(waiter_count_));
    dirty_ = true;
  }
  wait_cv_.notify_one();
}

void WaitingRoom::WaiterLoop() {
  using Completion = std::pair<metadata::AwaitCallback, metadata::AwaitResult>;
  std::unique_lock lock(wait_mu_);
  while (!stopping_) {
    dirty_ = false;
    const auto now = clock_.SteadyNow();
    auto next = now + kWaiterSlice;
    std::vector<Completion> ready;
    std::vector<std::string> lookups;
    for (auto it = waiting_.begin(); it != waiting_.end();) {
      auto& [ip, w] = *it;
      auto caller = find_(ip);
      if (caller || w.miss) {
        if (!caller) {
          metrics_.unknown_callers.WithLabels({"not_found"})
              .Inc(static_cast<double>(w.waiters.size()));
        }
        for (auto& waiter : w.waiters) {
          ready.emplace_back(std::move(waiter.done), metadata::AwaitResult{.caller = caller});
        }
        waiter_count_ -= w.waiters.size();
        it = waiting_.erase(it);
        continue;
      }
      std::erase_if(w.waiters, [&](Waiter& waiter) {
        if (waiter.deadline > now) {
          return false;
        }
        metrics_.unknown_callers.WithLabels({"not_found"}).Inc();
        ready.emplace_back(std::move(waiter.done), metadata::AwaitResult{});
        --waiter_count_;
        return true;
      });
      for (const auto& waiter : w.waiters) {
        next = std::min(next, waiter.deadline);
        if (!w.lookup_requested) {
          if (waiter.lookup_at <= now) {
            w.lookup_requested = true;
            lookups.push_back(ip);
          } else {
            next = std::min(next, waiter.lookup_at);
          }
        }
      }
      it = w.waiters.empty() ? waiting_.erase(it) : std::next(it);
    }
    metrics_.waiting.Set(static_cast<double>(waiter_count_));
    lock.unlock();
    for (auto& [done, result] : ready) {
      done(std::move(result));
    }
    ready.clear();
    if (!lookups.empty()) {
      {
        std::lock_guard queue_lock(lookup_mu_);
        for (auto& ip : lookups) {
          if (lookup_queue_.size() < kMaxLookupQueue) {
            lookup_queue_.push_back(std::move(ip));
          } else {
            metrics_.direct_lookups.WithLabels({"queue_full"}).Inc();
          }
        }
      }
      lookup_cv_.notify_one();
    }
    lock.lock();
    if (!dirty_ && !stopping_) {
      auto wait = std::clamp<std::chrono::steady_clock::duration>(
          next - clock_.SteadyNow(), std::chrono::milliseconds(1), kWaiterSlice);
      wait_cv_.wait_for(lock, wait, [this] { return dirty_ || stopping_; });
    }
  }
}

void WaitingRoom::LookupLoop() {
  std::unique_lock lock(lookup_mu_);
  while (true) {
    lookup_cv_.wait(lock, [this] { return stopping_ || !lookup_queue_.empty(); });
    if (stopping_) {
      return;
    }
    std::string ip = std::move(lookup_queue_.front());
    lookup_queue_.pop_front();
    lock.unlock();
    // Found: the directory published the pod; the poke below lets the waiter thread see it now.
    bool miss = look_up_(ip) == LookupResult::Status::kNotFound;
    {
      std::lock_guard wait_lock(wait_mu_);
      if (auto it = waiting_.find(ip); miss && it != waiting_.end()) {
        it->second.miss = true;
      }
      dirty_ = true;
    }
    wait_cv_.notify_one();
    lock.lock();
  }
}

}  // namespace podiam::callers
