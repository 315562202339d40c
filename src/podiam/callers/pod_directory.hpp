// PodDirectory: "who is at this IP, and what may they have?" It keeps, for every pod it covers,
// the Caller podiam answers that pod with: its identity and the role decision with the
// AssumeRole request (identity::DecidePod), recomputed whenever the pod, its namespace or its
// ServiceAccount changes, so the request path is one hash lookup. It covers the pods on one node
// (the agent: `node`) or on all nodes (the server: `node` empty); the caches it reads should hold
// the same pods (the pod informer's field selector). Around the index it
//   - prefetches (prefetch.hpp): the broker fetches a pod's credentials as soon as the pod has a
//     role, before it even has an IP;
//   - reports (decision_report.hpp): each decision is logged and counted once per change, each
//     denial or invalid annotation is a Warning Event on the pod;
//   - waits for new pods (waiting_room.hpp) without holding a thread, and after `watch_grace`
//     asks the apiserver itself (direct_lookup.hpp). What that look-up finds is kept in the
//     directory's own short-lived store (10 s, or until the watch delivers the pod) and never
//     written into the informers' caches, which only their informers refresh. The node's own
//     addresses and addresses outside --pod-cidr are answered "no pod" at once;
//   - says whether it is Ready(): not before the pod, namespace and ServiceAccount caches are
//     listed; a pod whose namespace is not known yet is kPending (retry), never denied;
//   - answers "which pod is namespace/name" (Pod()), with its UID, node, IPs, phase,
//     ServiceAccount and Caller, for endpoints that learn the pod from a token, not an address.
// Which pod owns an IP is the PodCache's rule: non-terminal, non-hostNetwork pods; duplicates are
// resolved deterministically (newest wins) there.
//
// Thread-safety: Find(), Await() and Pod() from any thread; cache handlers arrive on informer
// threads.
//
//   callers::PodDirectory directory(pods, namespaces, service_accounts, policy, broker, api,
//                                   &events, clock, registry, {.node = "node-1"});
//   directory.Start();  // the waiter and lookup threads
//   std::shared_ptr<const metadata::Caller> caller = directory.Find("10.0.0.7");
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "podiam/base/clock.hpp"
#include "podiam/base/log.hpp"
#include "podiam/callers/decision_report.hpp"
#include "podiam/callers/direct_lookup.hpp"
#include "podiam/callers/metrics.hpp"
#include "podiam/callers/prefetch.hpp"
#include "podiam/callers/waiting_room.hpp"
#include "podiam/creds/credential_broker.hpp"
#include "podiam/identity/pod_request.hpp"
#include "podiam/k8s/cache.hpp"
#include "podiam/k8s/event_recorder.hpp"
#include "podiam/k8s/kube_api.hpp"
#include "podiam/k8s/pod_cache.hpp"
#include "podiam/metadata/ports.hpp"
#include "podiam/metrics/registry.hpp"

namespace podiam::callers {

struct DirectoryOptions {
  // The node whose pods this directory covers (direct look-ups are scoped to it); "": all nodes.
  std::string node;
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
  // Whether to keep a Caller for pods whose decision is "no role". The agent does (Find() answers
  // them by address). The server does not (docs/server.md, "Memory"): most of a cluster's pods
  // have no role, and Pod()/ReadPod() decide such a pod on demand from the caches instead; its
  // Find() then knows only pods with a role (or a denial, an invalid annotation, a pending
  // decision).
  bool keep_role_less = true;
  // Replaces the broker's Retain/Release of prefetching (null: the broker's); the server's
  // sharding retains only the keys its replica owns (prefetch.hpp).
  Prefetch::Hook prefetch;
};

// One pod as the directory knows it (Pod()).
struct PodRecord {
  std::string namespace_name;
  std::string name;
  std::string uid;
  std::string node_name;
  std::string service_account;
  k8s::PodPhase phase = k8s::PodPhase::kUnknown;
  std::vector<std::string> ips;
  // Its decision and credentials; null when the pod owns no IP (hostNetwork, finished) or is not
  // on the directory's node.
  std::shared_ptr<const metadata::Caller> caller;
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

  // The pod namespace/name, from the watch or a recent direct look-up; nullopt when unknown.
  // With `uid`, only that incarnation of the name (a pod recreated under the same name is
  // another pod).
  [[nodiscard]] std::optional<PodRecord> Pod(std::string_view namespace_name, std::string_view name,
                                             std::string_view uid = {}) const;

  // Blocking: Pod(namespace_name, name), else what the apiserver says now (DirectLookup's rate
  // limit; the answer is decided like a watched pod's but not kept, and prefetches nothing).
  // nullopt: no such pod (with `uid`: not that incarnation). kUnavailable: not asked (rate limit)
  // or the apiserver failed.
  Result<std::optional<PodRecord>> ReadPod(std::string_view namespace_name, std::string_view name,
                                           std::string_view uid = {});

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
  // A pod a direct look-up found before the watch delivered it.
  struct LookedUp {
    k8s::PodCache::Ptr pod;
    std::shared_ptr<const metadata::Caller> caller;
    Clock::SteadyTime until;
  };

  void OnPod(const k8s::PodCache::Ptr& old_pod, const k8s::PodCache::Ptr& new_pod);
  // `added`: the pod was just listed or created (the first decision about it is reported even
  // when it is "no role" and role-less pods are not kept).
  void Recompute(const k8s::PodView& pod, bool added = false);
  void Forget(const std::string& pod_key);
  // Re-points `ip` at whichever pod the PodCache says owns it now. Caller holds mu_.
  void RefreshIpLocked(const std::string& ip);
  // Drops the looked-up entries of `pod_key` (the watch has it now) and expired ones. Holds mu_.
  void DropLookedUpLocked(const std::string& pod_key, Clock::SteadyTime now);
  std::shared_ptr<const metadata::Caller> BuildCaller(
      const k8s::PodView& pod, const k8s::NamespaceView* ns,
      const k8s::ServiceAccountView* service_account) const;
  std::shared_ptr<const metadata::Caller> BuildCaller(const k8s::PodView& pod) const;
  // The lookup thread's job: ask the apiserver, keep what it found.
  LookupResult::Status LookUp(std::string_view ip);

  k8s::PodCache& pods_;
  k8s::NamespaceCache& namespaces_;
  k8s::ServiceAccountCache& service_accounts_;
  const identity::RolePolicy& policy_;
  const Clock& clock_;
  DirectoryOptions options_;
  log::Logger log_{"agent"};
  CallerMetrics metrics_;
  Prefetch prefetch_;
  DecisionReport report_;
  DirectLookup lookup_;

  std::mutex update_mu_;  // serialises writers (informer threads, direct lookups)
  mutable std::shared_mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<const metadata::Caller>> by_ip_;
  std::unordered_map<std::string, PodState> by_pod_;     // "namespace/name"
  std::unordered_map<std::string, LookedUp> looked_up_;  // by IP
  std::atomic<bool> ready_{false};

  WaitingRoom waiting_;  // last: its threads use everything above
};

}  // namespace podiam::callers
