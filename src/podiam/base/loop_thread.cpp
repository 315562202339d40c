#include "podiam/base/loop_thread.hpp"

#include <utility>

namespace podiam {

LoopThread::~LoopThread() { Stop(); }

void LoopThread::Start(std::function<void(const std::stop_token&)> loop) {
  if (thread_.joinable()) {
    return;
  }
  stop_source_ = std::stop_source();
  thread_ =
      std::thread([loop = std::move(loop), token = stop_source_.get_token()] { loop(token); });
}

void LoopThread::Stop() {
  if (!thread_.joinable()) {
    return;
  }
  {
    std::lock_guard lock(mu_);
    stop_source_.request_stop();
  }
  sleep_cv_.notify_all();
  thread_.join();
}

void LoopThread::Sleep(std::chrono::milliseconds delay, const std::stop_token& stop) {
  std::unique_lock lock(mu_);
  sleep_cv_.wait_for(lock, stop, delay, [] { return false; });
}

}  // namespace podiam
