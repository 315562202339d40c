// AssociationStatusWriter: keeps status.conditions of PodIdentityAssociation objects true
// (docs/container-credentials.md, "Status of an association").
//
// Every agent runs one, and they do not fight: the conditions depend only on the association and
// its namespace's policy annotations (never on a node or a pod), so every agent computes the same
// status; an agent writes only when what is stored differs, with a JSON merge patch of the
// `status` subresource carrying metadata.resourceVersion as a precondition. Of N agents that see
// a change at once, one write succeeds and the others get 409 Conflict and drop theirs; the watch
// then brings the new status, which matches, and nobody writes again.
//
// Conditions: `Accepted` and `Ready`, both True with reason `Accepted`, or both False with reason
// `InvalidRoleArn` or `DeniedByNamespacePolicy`; `observedGeneration` on each and on the status.
// `lastTransitionTime` changes only when a condition's status does.
//
// Thread-safety: the cache handlers enqueue from informer threads; Flush() runs on the writer
// thread (Start/Stop) or, in tests, on the test's thread.
#pragma once

#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include "podiam/agent/container_sources.hpp"
#include "podiam/base/clock.hpp"
#include "podiam/base/log.hpp"
#include "podiam/identity/policy.hpp"
#include "podiam/k8s/cache.hpp"
#include "podiam/k8s/kube_api.hpp"

namespace podiam::agent {

// The merge patch that makes `stored`'s status say `check`, or nullopt when it already does.
std::optional<k8s::Json> AssociationStatusPatch(const AssociationView& stored,
                                                const AssociationCheck& check, Clock::WallTime now);

class AssociationStatusWriter {
 public:
  // Registers handlers on the caches: construct before the informers start.
  AssociationStatusWriter(k8s::KubeApi& api, AssociationCache& associations,
                          k8s::NamespaceCache& namespaces, const identity::RolePolicy& policy,
                          const Clock& clock);
  ~AssociationStatusWriter();
  AssociationStatusWriter(const AssociationStatusWriter&) = delete;
  AssociationStatusWriter& operator=(const AssociationStatusWriter&) = delete;

  void Start();
  void Stop();
  // Writes what is pending (and retries that are due); returns the number of PATCHes sent.
  int Flush();

 private:
  void Enqueue(const std::string& key);
  void EnqueueNamespace(const std::string& namespace_name);
  // False when the write should be retried later.
  bool Write(const std::string& key, int* patches);

  k8s::KubeApi& api_;
  AssociationCache& associations_;
  k8s::NamespaceCache& namespaces_;
  const identity::RolePolicy& policy_;
  const Clock& clock_;
  log::Logger log_{"container-credentials"};

  std::mutex mu_;
  std::condition_variable cv_;
  std::set<std::string> pending_;
  std::map<std::string, Clock::SteadyTime> retry_;
  bool stopping_ = false;
  bool warned_forbidden_ = false;
  std::thread thread_;
};

}  // namespace podiam::agent
