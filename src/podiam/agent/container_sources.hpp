// The container-credentials handler's ports (containercreds/ports.hpp) over the agent's
// Kubernetes read model, role policy and credential broker (docs/container-credentials.md):
//
//   KubeTokenAuthenticator  TokenReview (k8s::TokenReviewer) for the accepted audiences
//   PodCacheResolver        the node's PodCache (pods on this node only, from the watch)
//   AssociationRoles        PodIdentityAssociation (CRD podidentityassociations.podiam.io), else
//                           the ServiceAccount's role annotation; through the same namespace
//                           policy as the IMDS path; EKS's six session tags; decisions memoised
//                           per pod until a pod, association, ServiceAccount or namespace changes
//   BrokerCredentials       the same creds::CredentialBroker as the IMDS path
//
// AssociationRoles also prefetches: a pod on this node whose ServiceAccount has an association
// has its credentials Retain()ed in the broker as soon as it appears (and Release()d when it goes
// or changes role); deletions are passed to `on_pod_gone` (the handler drops the pod's cached
// token reviews).
//
// Thread-safety: Resolve/Find/Cached from I/O threads, Review/Fetch from workers; cache handlers
// arrive on informer threads.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "podiam/aws/arn.hpp"
#include "podiam/base/log.hpp"
#include "podiam/containercreds/ports.hpp"
#include "podiam/creds/credential_broker.hpp"
#include "podiam/identity/policy.hpp"
#include "podiam/k8s/cache.hpp"
#include "podiam/k8s/pod_cache.hpp"
#include "podiam/k8s/resource.hpp"
#include "podiam/k8s/token_review.hpp"

namespace podiam::agent {

// One entry of an object's status.conditions, as stored.
struct StoredCondition {
  std::string type;
  std::string status;
  std::string reason;
  std::string message;
  std::string last_transition_time;
  std::int64_t observed_generation = 0;
  bool operator==(const StoredCondition&) const = default;
};

// One PodIdentityAssociation, as the agent keeps it.
struct AssociationView {
  std::string namespace_name;
  std::string name;
  std::string uid;
  std::string resource_version;
  std::string service_account;
  std::string role_arn;
  std::string target_role_arn;
  std::string external_id;
  bool disable_session_tags = false;
  std::string policy;
  std::int64_t generation = 0;
  std::int64_t observed_generation = 0;  // status.observedGeneration
  std::vector<StoredCondition> conditions;

  [[nodiscard]] std::string Key() const { return namespace_name + "/" + name; }
  [[nodiscard]] std::size_t MemoryBytes() const;
  bool operator==(const AssociationView&) const = default;
};

Result<AssociationView> AssociationFromJson(const k8s::Json& object);
k8s::Resource PodIdentityAssociations();

// What an association says independently of any pod: its roles parse and the namespace policy
// allows both. `reason` is the condition reason (docs/container-credentials.md, "Status"):
// "Accepted", "InvalidRoleArn" (outcome kInvalid) or "DeniedByNamespacePolicy" (kDenied).
struct AssociationCheck {
  identity::Outcome outcome = identity::Outcome::kAllowed;
  std::string reason;
  std::string message;
  std::optional<aws::RoleArn> role;
  std::optional<aws::RoleArn> target;
};
AssociationCheck CheckAssociation(const AssociationView& association,
                                  const identity::RolePolicy& policy,
                                  const k8s::Annotations* namespace_annotations);

class AssociationCache final : public k8s::Cache<AssociationView> {
 public:
  AssociationCache() : Cache(AssociationFromJson, "PodIdentityAssociation") {}
};

class KubeTokenAuthenticator final : public containercreds::TokenAuthenticator {
 public:
  KubeTokenAuthenticator(k8s::KubeApi& api, std::vector<std::string> audiences)
      : reviewer_(api), audiences_(std::move(audiences)) {}
  Result<containercreds::TokenIdentity> Review(std::string_view token) override;

 private:
  k8s::TokenReviewer reviewer_;
  std::vector<std::string> audiences_;
};

class PodCacheResolver final : public containercreds::PodResolver {
 public:
  PodCacheResolver(const k8s::PodCache& pods, std::function<bool()> synced)
      : pods_(pods), synced_(std::move(synced)) {}
  std::shared_ptr<const containercreds::PodInfo> Find(std::string_view namespace_name,
                                                      std::string_view name) override;
  bool Ready() override;

  static containercreds::PodInfo Info(const k8s::PodView& pod);

 private:
  const k8s::PodCache& pods_;
  std::function<bool()> synced_;
  std::atomic<bool> ready_{false};
  // Info() of each pod version the cache holds, made once (every request asks for its pod): by
  // the PodView's address, valid while `view` still owns it; dead ones go at the next insertion.
  struct Made {
    std::weak_ptr<const k8s::PodView> view;
    std::shared_ptr<const containercreds::PodInfo> info;
  };
  std::mutex made_mu_;
  std::unordered_map<const k8s::PodView*, Made> made_;
};

struct AssociationRolesOptions {
  std::string cluster_name;      // --cluster-name: tag eks-cluster-name
  std::string cluster_arn;       // --cluster-arn: tag eks-cluster-arn
  bool from_annotations = true;  // --container-credentials-from-annotations
  std::optional<int> duration_seconds;
  std::function<void(const std::string& pod_uid)> on_pod_gone;
};

class AssociationRoles final : public containercreds::RoleResolver {
 public:
  // Registers handlers on the caches: construct before the informers start.
  AssociationRoles(AssociationCache& associations, k8s::PodCache& pods,
                   k8s::NamespaceCache& namespaces, k8s::ServiceAccountCache& service_accounts,
                   const identity::RolePolicy& policy, creds::CredentialBroker& broker,
                   AssociationRolesOptions options);
  ~AssociationRoles() override;
  AssociationRoles(const AssociationRoles&) = delete;
  AssociationRoles& operator=(const AssociationRoles&) = delete;

  std::shared_ptr<const containercreds::RoleChoice> Resolve(
      const containercreds::PodInfo& pod) override;

  // The decision itself, uncached (exposed for tests).
  [[nodiscard]] containercreds::RoleChoice Decide(const containercreds::PodInfo& pod) const;
  // For the late wiring of the handler.
  void SetOnPodGone(std::function<void(const std::string&)> f);

 private:
  void Changed();
  void Reconsider(const k8s::PodView& pod);
  void Forget(const std::string& pod_key);

  AssociationCache& associations_;
  k8s::PodCache& pods_;
  k8s::NamespaceCache& namespaces_;
  k8s::ServiceAccountCache& service_accounts_;
  const identity::RolePolicy& policy_;
  creds::CredentialBroker& broker_;
  AssociationRolesOptions options_;
  log::Logger log_{"container-credentials"};

  std::atomic<std::uint64_t> generation_{0};
  struct Memo {
    std::uint64_t generation = 0;
    std::string pod_uid;
    std::shared_ptr<const containercreds::RoleChoice> choice;
  };
  std::mutex mu_;
  std::unordered_map<std::string, Memo> memo_;  // by pod key
  std::mutex prefetch_mu_;
  std::unordered_map<std::string, creds::CredentialKey> retained_;  // by pod key
};

class BrokerCredentials final : public containercreds::CredentialSource {
 public:
  explicit BrokerCredentials(creds::CredentialBroker& broker) : broker_(broker) {}
  std::shared_ptr<const aws::Credentials> Cached(const creds::CredentialSpec& spec) override {
    return broker_.Cached(spec.key);
  }
  Result<aws::Credentials> Fetch(const creds::CredentialSpec& spec,
                                 containercreds::SteadyTime deadline) override {
    return broker_.Get(spec, deadline);
  }

 private:
  creds::CredentialBroker& broker_;
};

}  // namespace podiam::agent
