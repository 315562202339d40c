// LoopThread: one background thread that runs a loop until Stop(), and a sleep for that loop that
// Stop() cuts short. The start/stop/sleep logic of the Kubernetes informer and leader elector
// (and of any later watch or controller loop) in one place.
//
// Thread-safety: Start() and Stop() from one controlling thread; Sleep() from the loop.
//
//   LoopThread loop;
//   loop.Start([this](const std::stop_token& stop) {
//     while (!stop.stop_requested()) { Work(); loop.Sleep(std::chrono::seconds(1), stop); }
//   });
//   loop.Stop();  // wakes the sleep and joins
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <stop_token>
#include <thread>

namespace podiam {

class LoopThread {
 public:
  LoopThread() = default;
  // Stop()s.
  ~LoopThread();
  LoopThread(const LoopThread&) = delete;
  LoopThread& operator=(const LoopThread&) = delete;

  // Runs `loop` on a new thread with a fresh stop token. Does nothing while a loop is running.
  void Start(std::function<void(const std::stop_token&)> loop);
  // Requests a stop, wakes Sleep() and joins. Does nothing when no loop is running.
  void Stop();

  // Waits for `delay`, or until `stop` is requested (by Stop() or whoever owns the token).
  void Sleep(std::chrono::milliseconds delay, const std::stop_token& stop);

 private:
  std::mutex mu_;
  std::condition_variable_any sleep_cv_;
  std::stop_source stop_source_;
  std::thread thread_;
};

}  // namespace podiam
