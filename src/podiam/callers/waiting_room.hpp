// Where metadata requests from an address no known pod owns wait for their pod, without holding a
// thread: Park() keeps the request's callback; a waiter thread completes it as soon as Find()
// sees the pod (the directory Poke()s on every change), and after `watch_grace` a lookup thread
// runs the injected apiserver look-up (DirectLookup), so a pod that asks the instant its IP is set
// still gets its own role. "No pod" comes at the deadline, or at once when the look-up says
// nobody has the address. Parked requests are capped in all and per address: a flood from
// unknown addresses costs memory it cannot grow and delays nobody else.
//
// Thread-safety: Park() and Poke() from any thread; callbacks run on the waiter thread, the
// lookup thread, or inline in Park() and Stop().
//
//   callers::WaitingRoom room(find, look_up, clock, metrics, {.watch_grace = 250ms});
//   room.Start();
//   room.Park("10.0.0.7", deadline, /*recent_miss=*/false, done);
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "podiam/base/clock.hpp"
#include "podiam/callers/direct_lookup.hpp"
#include "podiam/callers/metrics.hpp"
#include "podiam/metadata/ports.hpp"

namespace podiam::callers {

struct WaitingOptions {
  // How long a request waits for the watch before the apiserver is asked.
  std::chrono::milliseconds watch_grace{250};
  // Requests parked at most, in all and per address; more are told "overloaded".
  std::size_t max_waiting = 4096;
  std::size_t max_waiting_per_ip = 32;
};

class WaitingRoom {
 public:
  using FindFn = std::function<std::shared_ptr<const metadata::Caller>(std::string_view ip)>;
  // Blocking, on the lookup thread. kFound: whatever was found is visible to FindFn already.
  using LookUpFn = std::function<LookupResult::Status(std::string_view ip)>;

  WaitingRoom(FindFn find, LookUpFn look_up, const Clock& clock, CallerMetrics& metrics,
              WaitingOptions options);
  ~WaitingRoom();
  WaitingRoom(const WaitingRoom&) = delete;
  WaitingRoom& operator=(const WaitingRoom&) = delete;

  // Calls `done` exactly once. `recent_miss`: the apiserver said "nobody" a moment ago, so only
  // the watch grace is waited, with no look-up.
  void Park(std::string_view ip, metadata::SteadyTime deadline, bool recent_miss,
            metadata::AwaitCallback done);
  // Something a parked request waits for may have changed.
  void Poke();

  // Starts the waiter and lookup threads (Park() answers "no pod" at once until then); Stop()
  // completes every parked request with "no pod" and joins them. The destructor Stop()s.
  void Start();
  void Stop();

 private:
  struct Waiter {
    metadata::SteadyTime deadline;
    metadata::SteadyTime lookup_at;  // time_point::max(): no lookup wanted
    metadata::AwaitCallback done;
  };
  struct Waiting {
    std::vector<Waiter> waiters;
    bool lookup_requested = false;
    bool miss = false;  // the apiserver said nobody has this IP
  };

  void WaiterLoop();
  void LookupLoop();

  FindFn find_;
  LookUpFn look_up_;
  const Clock& clock_;
  CallerMetrics& metrics_;
  WaitingOptions options_;

  std::mutex wait_mu_;
  std::condition_variable wait_cv_;
  std::unordered_map<std::string, Waiting> waiting_;  // guarded by wait_mu_
  std::size_t waiter_count_ = 0;                      // guarded by wait_mu_
  bool dirty_ = false;                                // guarded by wait_mu_
  bool running_ = false;                              // guarded by wait_mu_
  bool stopping_ = false;                             // guarded by wait_mu_ and lookup_mu_
  std::thread waiter_thread_;
  std::thread lookup_thread_;

  std::mutex lookup_mu_;
  std::condition_variable lookup_cv_;
  std::deque<std::string> lookup_queue_;  // guarded by lookup_mu_
};

}  // namespace podiam::callers
