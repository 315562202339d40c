// PodDirectory: the agent's answer to "who is at this IP, and what may they have?" It keeps, for
// every pod on this node, the identity::Decision about its role and the CredentialSpec to fetch,
// recomputed whenever the pod, its namespace or its ServiceAccount changes — so the request path
// is one hash lookup. Around that it:
//   - prefetches: Retain()s the pod's credentials in the broker as soon as the pod is on this
//     node with a role, before it even has an IP (its sandbox and network take longer to set up
//     than an AssumeRole), and Release()s them when the pod goes (or changes role);
//   - reports: every denial or invalid annotation is logged, counted and recorded as a Warning
//     Event on the pod — once per change, not per request;
//   - waits for new pods: Await() waits briefly for the watch and then asks the apiserver
//     directly (pods on this node with that status.podIP), so a pod that asks the instant its IP
//     is set still gets its own role, and an unknown caller never gets any role.
// Which pod owns an IP is the PodCache's rule: non-terminal, non-hostNetwork pods; duplicates are
// resolved deterministically (newest wins) there.
//
// Thread-safety: Find() and Await() from any thread; cache handlers arrive on informer threads.
//
//   agent::PodDirectory directory(pods, namespaces, service_accounts, policy, broker, api, &events,
//                                 clock, registry, {.node = "node-1"});
//   std::shared_ptr<const metadata::Caller> caller = directory.Find("10.0.0.7");
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <unordered_map>

#include "podiam/base/clock.hpp"
#include "podiam/base/log.hpp"
#include "podiam/creds/credential_broker.hpp"
#include "podiam/identity/policy.hpp"
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
  std::string session_name_key = "iam.amazonaws.com/session-name";  // kiam
  bool session_tags = false;                                        // --session-tags
  std::string cluster_name;             // --cluster-name (tag cluster-name when set)
  bool source_identity = false;         // --source-identity
  std::optional<int> duration_seconds;  // --session-duration
  // How long Await() waits for the watch before asking the apiserver itself.
  std::chrono::milliseconds watch_grace{250};
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
  std::shared_ptr<const metadata::Caller> Await(std::string_view ip,
                                                metadata::SteadyTime deadline) override;

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
  bool LookUpDirectly(std::string_view ip);

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
  std::mutex wait_mu_;
  std::condition_variable changed_;
  std::mutex lookup_mu_;
  k8s::TokenBucket lookup_bucket_;                                       // guarded by lookup_mu_
  std::unordered_map<std::string, metadata::SteadyTime> recent_misses_;  // guarded by lookup_mu_
};

}  // namespace podiam::agent
