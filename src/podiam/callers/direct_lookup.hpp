// Asks the apiserver who owns an IP, for a caller the pod watch has not delivered yet (a pod that
// asks the instant its IP is set). Rate-limited (burst 20, 10/s) so an unknown caller cannot turn
// podiam into a load generator against the apiserver, and a miss is remembered per IP for 2 s.
// The answer is returned, never written into the informers' caches: those are refreshed by their
// informers only. The pod's namespace and ServiceAccount come from the caches when they have them,
// else from the apiserver too (they may be as new as the pod).
//
// Scope: with a node name, pods on that node whose status.podIP is the address, and on a
// dual-stack node (status.podIP is only the first address) the node's pods that list it in
// status.podIPs; without one (all nodes), pods anywhere whose status.podIP is the address.
//
// Thread-safety: LookUp() and RecentMiss() from any thread; LookUp() blocks on the apiserver.
//
//   callers::DirectLookup lookup(api, pods, namespaces, accounts, clock, metrics, "node-1");
//   callers::LookupResult r = lookup.LookUp("10.0.0.7");
#pragma once

#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "podiam/base/clock.hpp"
#include "podiam/base/log.hpp"
#include "podiam/callers/metrics.hpp"
#include "podiam/k8s/cache.hpp"
#include "podiam/k8s/kube_api.hpp"
#include "podiam/k8s/pod_cache.hpp"
#include "podiam/k8s/token_bucket.hpp"

namespace podiam::callers {

// One pod the apiserver says has the address, with what a role decision needs about it.
struct FoundPod {
  k8s::PodCache::Ptr pod;
  k8s::NamespaceCache::Ptr namespace_view;        // null: not known even to the apiserver
  k8s::ServiceAccountCache::Ptr service_account;  // null: none, or not known
};

struct LookupResult {
  enum class Status {
    kFound,     // `pods` holds the pods that have the address
    kNotFound,  // the apiserver says nobody has it (now or within the last 2 s)
    kSkipped,   // not asked (rate limit) or the apiserver failed: nothing is known
  };
  Status status = Status::kSkipped;
  std::vector<FoundPod> pods;
};

class DirectLookup {
 public:
  // The caches are only read (and lend their view conversion). All must outlive this.
  DirectLookup(k8s::KubeApi& api, const k8s::PodCache& pods, const k8s::NamespaceCache& namespaces,
               const k8s::ServiceAccountCache& service_accounts, const Clock& clock,
               CallerMetrics& metrics, std::string node);

  LookupResult LookUp(std::string_view ip);
  // The pod namespace/name, for callers that learn a pod by name (the server, from an agent's
  // request): kFound with that one pod, kNotFound (the apiserver says there is none, or it is on
  // another node than this lookup's), kSkipped (rate limit, apiserver error). Same rate limit.
  LookupResult LookUpPod(std::string_view namespace_name, std::string_view name);
  // Whether the apiserver said "nobody" for `ip` within the miss TTL.
  bool RecentMiss(std::string_view ip, Clock::SteadyTime now);

 private:
  Result<std::vector<k8s::Json>> ListPods(std::string_view ip);
  FoundPod Complete(const k8s::Json& item);

  k8s::KubeApi& api_;
  const k8s::PodCache& pods_;
  const k8s::NamespaceCache& namespaces_;
  const k8s::ServiceAccountCache& service_accounts_;
  const Clock& clock_;
  CallerMetrics& metrics_;
  std::string node_;
  log::Logger log_{"agent"};

  std::mutex mu_;
  k8s::TokenBucket bucket_;                                           // guarded by mu_
  std::unordered_map<std::string, Clock::SteadyTime> recent_misses_;  // guarded by mu_
};

}  // namespace podiam::callers
