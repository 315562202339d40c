// LeaderElector: one active replica among several, over a coordination.k8s.io/v1 Lease, with
// client-go's algorithm and defaults (leaseDuration 15 s, renewDeadline 10 s, retryPeriod 2 s).
//
// - Acquire: every retryPeriod (jittered by up to 1.2x), take the Lease when it is missing, held
//   by us, or its record has not changed for leaseDurationSeconds as measured on OUR clock from
//   when WE last saw it change (clocks of different nodes are never compared).
// - Lead: renew every retryPeriod; if no renewal succeeds for renewDeadline, stop leading (the
//   others may take over once leaseDuration has passed since our last renewal) and go back to
//   acquiring.
// - Every write is a PUT carrying the resourceVersion we read: a concurrent writer makes it fail
//   with 409 and we lose that round instead of overwriting.
// - Stop() while leading releases the Lease (holderIdentity "", leaseDurationSeconds 1) when
//   release_on_cancel is set, so a successor need not wait out the lease.
// Callbacks run on the elector's thread; on_stopped_leading runs after leadership is gone (or
// known to be in doubt), so the caller must stop acting as leader then.
//
// Thread-safety: Start/Stop from one controlling thread; IsLeader and leader() from any thread.
// TryAcquireOrRenew is the loop's step, for tests, not to be called while the loop runs.
//
//   k8s::LeaderElector elector(api, clock, random, k8s_metrics,
//                              {.lease_namespace = "kube-system", .lease_name = "podiam",
//                               .identity = pod_name,
//                               .on_started_leading = [&] { controller.Start(); },
//                               .on_stopped_leading = [&] { controller.Stop(); }});
//   elector.Start();
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
#include "podiam/base/log.hpp"
#include "podiam/base/loop_thread.hpp"
#include "podiam/base/random.hpp"
#include "podiam/k8s/informer.hpp"
#include "podiam/k8s/kube_api.hpp"
#include "podiam/k8s/metrics.hpp"

namespace podiam::k8s {

struct LeaderElectionOptions {
  std::string lease_namespace;
  std::string lease_name;
  std::string identity;  // unique per process, e.g. the pod name
  std::chrono::milliseconds lease_duration{15000};
  std::chrono::milliseconds renew_deadline{10000};
  std::chrono::milliseconds retry_period{2000};
  bool release_on_cancel = true;
  std::function<void()> on_started_leading;
  std::function<void()> on_stopped_leading;
  std::function<void(const std::string& holder)> on_new_leader;  // any holder, us included
  Sleeper sleep;  // empty: an interruptible wait that Stop() cuts short
};

class LeaderElector {
 public:
  // client-go's constraints: leaseDuration > renewDeadline > 1.2 * retryPeriod > 0; names set.
  static Result<void> Validate(const LeaderElectionOptions& options);

  LeaderElector(KubeApi& api, const Clock& clock, Random& random, K8sMetrics& metrics,
                LeaderElectionOptions options);
  ~LeaderElector();
  LeaderElector(const LeaderElector&) = delete;
  LeaderElector& operator=(const LeaderElector&) = delete;

  void Start();
  void Stop();
  void Run(const std::stop_token& stop);

  [[nodiscard]] bool IsLeader() const { return leading_.load(); }
  // The holder we last observed ("" when none).
  [[nodiscard]] std::string leader() const;

  // One attempt to take or keep the Lease; true when we hold it afterwards.
  bool TryAcquireOrRenew();
  // Gives the Lease up if we hold it.
  Result<void> Release();

 private:
  void Sleep(std::chrono::milliseconds delay, const std::stop_token& stop);
  void Observe(const Json& spec, Clock::SteadyTime now);
  Json NewSpec(const Json& old_spec, bool renewal) const;

  KubeApi& api_;
  const Clock& clock_;
  Random& random_;
  K8sMetrics& metrics_;
  LeaderElectionOptions options_;
  log::Logger log_{"k8s.leader"};
  std::atomic<bool> leading_{false};

  mutable std::mutex mu_;
  Json observed_spec_;  // the Lease spec as last read or written
  Clock::SteadyTime observed_time_{};
  std::string observed_holder_;
  LoopThread loop_;  // last: stopped and joined before the members the loop uses go
};

}  // namespace podiam::k8s
