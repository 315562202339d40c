// PodDirectory: the agent's answer to "who is at this IP, and what may they have?" It keeps, for
// every pod on this node, the identity::Decision about its role and the CredentialSpec to fetch,
// recomputed whenever the pod, its namespace or its ServiceAccount changes — so the request path
// is one hash lookup. Around that it:
//   - prefetches: Retain()s the pod's credentials in the broker as soon as the pod is on this
//     node with a role, before it even has an IP (its sandbox and network take longer to set up
//     than an AssumeRole), and Release()s them when the pod goes (or changes role);
//   - reports: every denial or invalid annotation is logged, counted and recorded as a Warning
//     Event on the pod — once per change, not per request;
//   - waits for new pods without holding a thread: Await() parks the request's callback; a waiter
//     thread completes it as soon as the watch delivers the pod, and after `watch_grace` a lookup
//     thread asks the apiserver directly (pods on this node with that status.podIP, rate-limited,
//     misses remembered), so a pod that asks the instant its IP is set still gets its own role,
//     and an unknown caller never gets any role. The node's own addresses and addresses outside
//     --pod-cidr are answered at once; parked requests are capped in all and per address, so a
//     flood from unknown addresses costs memory it cannot grow and delays nobody else;
//   - says whether it is Ready(): not before the pod, namespace and ServiceAccount caches are
//     listed, and a pod whose namespace is not known yet is kPending (retry), never denied.
// Which pod owns an IP is the PodCache's rule: non-terminal, non-hostNetwork pods; duplicates are
// resolved deterministically (newest wins) there.
//
// Thread-safety: Find() and Await() from any thread; cache handlers arrive on informer threads.
//
//   agent::PodDirectory directory(pods, namespaces, service_accounts, policy, broker, api, &events,
//                                 clock, registry, {.node = "node-1"});
//   directory.Start();  // the waiter and lookup threads
//   std::shared_ptr<const metadata::Caller> caller = directory.Find("10.0.0.7");
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "podiam/base/clock.hpp"
#include "podiam/base/log.hpp"
#include "podiam/creds/credential_broker.hpp"
#include "podiam/identity/policy.hpp"
#include "podiam/identity/session_name.hpp"
#include "podiam/k8s/cache.hpp"
#include "podiam/k8s/event_recorder.hpp"
#include "podiam/k8s/kube_api.hpp"
#include "podiam/k8s/pod_cache.hpp"
#include "podiam/k8s/token_bucket.hpp"
#include "podiam/metadata/ports.hpp"
#include "podiam/metrics/registry.hpp"

namespace podiam::agent {

struct DirectoryOptions {
  std::string node;  // this node's name (direct lookups are scoped to it)
  std::string session_name_key{identity::annotations::kSessionName};  // kiam
  identity::SessionOptions session;     // --session-scope, --session-tags, --cluster-name, ...
  std::optional<int> duration_seconds;  // --session-duration
  // How long Await() waits for the watch before asking the apiserver itself.
  std::chrono::milliseconds watch_grace{250};
  // Whether the informers have listed everything (null: always). Ready() latches the first true.
  std::function<bool()> synced;
  // The node's own addresses (null: none known) and whether an address can be a pod's at all
  // (null: any; --pod-cidr): callers failing either are answered "no pod" at once.
  std::function<bool(std::string_view)> is_node_address;
  std::function<bool(std::string_view)> may_be_pod;
  // Requests parked in Await() at most, in all and per address; more are told "overloaded".
  std::size_t max_waiting = 4096;
  std::size_t max_waiting_per_ip = 32;
};

class PodDirectory final : public metadata::CallerDirectory {
 public:
  // Registers handlers on the caches; construct before the informers start. Everything passed
  // in must outlive the directory. `events` may be null.
  PodDirectory(k8s::PodCache& pods, k8s::NamespaceCache& namespaces,
               k8s::ServiceAccountCache& service_accounts, const identity::RolePolicy& policy,
               creds::CredentialBroker& broker, k8s::KubeApi& api, k8s::EventRecorder* events,
               const Clock& clock, metrics::Registry& registry, DirectoryOptions options);
  ~PodDirectory() override;
  PodDirectory(const PodDirectory&) = delete;
  PodDirectory& operator=(const PodDirectory&) = delete;

  std::shared_ptr<const metadata::Caller> Find(std::string_view ip) override;
  void Await(std::string_view ip, metadata::SteadyTime deadline,
             metadata::AwaitCallback done) override;
  bool Ready() override;
  bool IsNodeAddress(std::string_view ip) override;

  // Starts the waiter and lookup threads (Await() answers "no pod" at once until then); Stop()
  // completes every parked request with "no pod" and joins them. The destructor Stop()s.
  void Start();
  void Stop();

  // Re-decides every pod (for tests and after a policy reload).
  void RecomputeAll();
  [[nodiscard]] std::size_t Size() const;

 private:
  struct PodState {
    std::shared_ptr<const metadata::Caller> caller;  // null when the pod owns no IP
    std::vector<std::string> ips;                    // IPs this pod claimed
  };

  void OnPod(const k8s::PodCache::Ptr& old_pod, const k8s::PodCache::Ptr& new_pod);
  void Recompute(const k8s::PodView& pod);
  void Forget(const std::string& pod_key);
  // Re-points `ip` at whichever pod the PodCache says owns it now. Caller holds mu_.
  void RefreshIpLocked(const std::string& ip);
  std::shared_ptr<const metadata::Caller> BuildCaller(const k8s::PodView& pod) const;
  void Report(const k8s::PodView& pod, const metadata::Caller& caller,
              const metadata::Caller* previous);
  enum class Lookup { kFound, kNotFound, kSkipped };
  Lookup LookUpDirectly(std::string_view ip);
  void WaiterLoop();
  void LookupLoop();
  // Wakes the waiter thread: something it waits for may have changed.
  void Poke();

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

  k8s::PodCache& pods_;
  k8s::NamespaceCache& namespaces_;
  k8s::ServiceAccountCache& service_accounts_;
  const identity::RolePolicy& policy_;
  creds::CredentialBroker& broker_;
  k8s::KubeApi& api_;
  k8s::EventRecorder* events_;
  const Clock& clock_;
  DirectoryOptions options_;
  log::Logger log_{"agent"};
  metrics::Family<metrics::Counter>& decisions_;  // labels: outcome
  metrics::Gauge& pods_tracked_;
  metrics::Family<metrics::Counter>& direct_lookups_;  // labels: result

  std::mutex update_mu_;  // serialises writers (informer threads, direct lookups)
  mutable std::shared_mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<const metadata::Caller>> by_ip_;
  std::unordered_map<std::string, PodState> by_pod_;  // "namespace/name"
  std::atomic<bool> ready_{false};
  metrics::Family<metrics::Counter>& unknown_callers_;  // labels: reason
  metrics::Gauge& waiting_gauge_;

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
  std::deque<std::string> lookup_queue_;                                 // guarded by lookup_mu_
  k8s::TokenBucket lookup_bucket_;                                       // guarded by lookup_mu_
  std::unordered_map<std::string, metadata::SteadyTime> recent_misses_;  // guarded by lookup_mu_
};

}  // namespace podiam::agent
