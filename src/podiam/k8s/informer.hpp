// Informer: keeps a Cache in step with the apiserver by list + watch, the way client-go's
// reflector does.
//
//   1. List (paginated, page_size per page; an expired continue token restarts the list) and
//      replace the cache, which emits synthetic add/update/delete deltas. Synced from then on.
//   2. Watch from the list's resourceVersion with allowWatchBookmarks; every event and bookmark
//      advances the resourceVersion. timeoutSeconds is drawn from [watch_timeout,
//      2*watch_timeout), so that many agents do not reconnect in lockstep.
//   3. The watch ends: closed by the server -> watch again from the last resourceVersion;
//      410 Gone/Expired (HTTP 410 or an ERROR event) -> list again at once (step 1), which
//      repairs anything missed; any other error -> back off and watch again. Backoff is
//      exponential from initial_backoff to max_backoff with "equal jitter" (half fixed, half
//      random), and resets after a list or a watch that delivered events. A watch that ends
//      within a second having delivered nothing also counts as a failure, so a server that
//      keeps closing at once cannot make the informer spin.
//
// Stop() ends the loop promptly, also in the middle of a watch: the stop token reaches the
// transport (ClientRequest::stop), which cancels the blocked read.
//
// Thread-safety: Start/Stop from one controlling thread; HasSynced, WaitForSync and
// resource_version from any thread. Relist/WatchOnce are the loop's steps, for tests and
// benchmarks, and must not be called while the loop runs.
//
//   k8s::PodCache pods;
//   k8s::Informer informer(api, pods, k8s_metrics, clock, random,
//                          {.resource = k8s::resources::Pods(),
//                           .field_selector = "spec.nodeName=" + node});
//   informer.Start();
//   if (!informer.WaitForSync(std::chrono::seconds(30))) { ... }
//   ...
//   informer.Stop();
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <stop_token>
#include <string>
#include <thread>

#include "podiam/base/clock.hpp"
#include "podiam/base/error.hpp"
#include "podiam/base/log.hpp"
#include "podiam/base/loop_thread.hpp"
#include "podiam/base/random.hpp"
#include "podiam/k8s/cache.hpp"
#include "podiam/k8s/kube_api.hpp"
#include "podiam/k8s/metrics.hpp"

namespace podiam::k8s {

// Blocks the loop for a backoff; tests inject one that advances a FakeClock.
using Sleeper = std::function<void(std::chrono::milliseconds)>;

struct InformerOptions {
  Resource resource;
  std::string namespace_name;  // "" = all namespaces
  std::string label_selector;
  std::string field_selector;  // e.g. "spec.nodeName=node-1"
  int page_size = 500;
  std::chrono::seconds watch_timeout{300};
  std::chrono::milliseconds initial_backoff{500};
  std::chrono::milliseconds max_backoff{30000};
  Sleeper sleep;  // empty: an interruptible wait that Stop() cuts short
};

class Informer {
 public:
  Informer(KubeApi& api, InformerSink& sink, K8sMetrics& metrics, const Clock& clock,
           Random& random, InformerOptions options);
  ~Informer();
  Informer(const Informer&) = delete;
  Informer& operator=(const Informer&) = delete;

  // Runs the loop on a thread of its own. After Stop(), Start() resumes watching from the last
  // resourceVersion (the cache is kept).
  void Start();
  void Stop();
  // The loop itself, on the calling thread, until `stop` is requested.
  void Run(const std::stop_token& stop);

  [[nodiscard]] bool HasSynced() const { return synced_.load(); }
  // Waits in real time for the first list; false on timeout.
  bool WaitForSync(std::chrono::milliseconds timeout) const;
  [[nodiscard]] std::string resource_version() const;

  // The loop's steps.
  Result<void> Relist();
  Result<void> WatchOnce(const std::stop_token& stop);
  // Delay before the n-th consecutive retry (n >= 1).
  [[nodiscard]] std::chrono::milliseconds Backoff(int failures);

 private:
  void Sleep(std::chrono::milliseconds delay, const std::stop_token& stop);
  void SetResourceVersion(const std::string& rv);
  void UpdateGauges();

  KubeApi& api_;
  InformerSink& sink_;
  K8sMetrics& metrics_;
  const Clock& clock_;
  Random& random_;
  InformerOptions options_;
  log::Logger log_{"k8s.informer"};
  const std::string& resource_label_;

  bool need_list_ = true;
  bool listed_once_ = false;
  std::uint64_t events_ = 0;
  std::atomic<bool> synced_{false};
  mutable std::mutex mu_;  // resource_version_, synced_cv_
  mutable std::condition_variable synced_cv_;
  std::string resource_version_;
  LoopThread loop_;  // last: stopped and joined before the members the loop uses go
};

}  // namespace podiam::k8s
