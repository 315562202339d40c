// Adapters from the Kubernetes read model to the webhook's ports (ports.hpp):
//   KubeServiceAccounts   ServiceAccountCache (informer) + a direct GET on a miss
//   AssociationCache      PodIdentityAssociations (podiam.io/v1alpha1, informer), indexed by
//                         namespace/serviceAccount
//   IdentitiesFile        the reference's --watch-container-credentials-config file
//                         ({"identities":[{"namespace","serviceAccount"}]}), reloaded on change
//   AnyAssociation        either of the two selects the ServiceAccount
//
// Thread-safety: lookups from any thread; the caches are written by their informer's thread;
// IdentitiesFile::Reload() from one polling thread.
#pragma once

#include <filesystem>
#include <memory>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <string>
#include <unordered_map>

#include "podiam/base/clock.hpp"
#include "podiam/base/log.hpp"
#include "podiam/k8s/cache.hpp"
#include "podiam/k8s/kube_api.hpp"
#include "podiam/webhook/ports.hpp"

namespace podiam::webhook {

class KubeServiceAccounts final : public ServiceAccountDirectory {
 public:
  // `lookup` should have a short request timeout (the admission's budget). `keep` names the
  // annotations kept from a directly read ServiceAccount, as the cache keeps them.
  KubeServiceAccounts(const k8s::ServiceAccountCache& cache, k8s::KubeApi& lookup,
                      k8s::AnnotationFilter keep, const Clock& clock)
      : cache_(cache), lookup_(lookup), keep_(std::move(keep)), clock_(clock) {}
  std::optional<AccountAnnotations> Cached(std::string_view namespace_name,
                                           std::string_view name) override;
  Result<AccountAnnotations> Fetch(std::string_view namespace_name, std::string_view name,
                                   SteadyTime deadline) override;

 private:
  const k8s::ServiceAccountCache& cache_;
  k8s::KubeApi& lookup_;
  k8s::AnnotationFilter keep_;
  const Clock& clock_;
};

// group podiam.io, version v1alpha1, plural podidentityassociations (deploy/crds/).
k8s::Resource PodIdentityAssociations();

struct AssociationView {
  std::string namespace_name;
  std::string name;
  std::string uid;
  std::string resource_version;
  std::string service_account;  // spec.serviceAccount

  [[nodiscard]] std::string Key() const { return namespace_name + "/" + name; }
  [[nodiscard]] std::size_t MemoryBytes() const;
  bool operator==(const AssociationView&) const = default;
};
Result<AssociationView> AssociationFromJson(const k8s::Json& object);

class AssociationCache final : public k8s::Cache<AssociationView> {
 public:
  AssociationCache();
  // Whether any association names namespace/service_account.
  [[nodiscard]] bool Names(std::string_view namespace_name, std::string_view service_account) const;

 protected:
  void IndexAdd(const Ptr& object) override;
  void IndexRemove(const Ptr& object) override;
  [[nodiscard]] std::size_t IndexBytes() const override;

 private:
  std::unordered_map<std::string, int, k8s::StringHash, std::equal_to<>> by_account_;
};

// The identities of a container-credentials config file; kInvalidArgument when it is not that
// JSON. Empty content selects nobody (as the reference).
Result<std::set<std::string, std::less<>>> ParseIdentities(std::string_view content);

class IdentitiesFile {
 public:
  explicit IdentitiesFile(std::filesystem::path path) : path_(std::move(path)) {}
  // Reads the file again when its modification time or size changed. A file that cannot be read
  // or parsed keeps the previous identities (and is logged once per change).
  void Reload();
  [[nodiscard]] bool Selects(std::string_view namespace_name,
                             std::string_view service_account) const;

 private:
  std::filesystem::path path_;
  std::filesystem::file_time_type mtime_{};
  std::uintmax_t size_ = static_cast<std::uintmax_t>(-1);
  mutable std::shared_mutex mu_;
  std::set<std::string, std::less<>> identities_;  // "namespace/serviceAccount"
  log::Logger log_{"webhook"};
};

class AnyAssociation final : public AssociationDirectory {
 public:
  AnyAssociation(const AssociationCache* cache, const IdentitiesFile* file)
      : cache_(cache), file_(file) {}
  bool Selects(std::string_view namespace_name, std::string_view service_account) override {
    return (cache_ != nullptr && cache_->Names(namespace_name, service_account)) ||
           (file_ != nullptr && file_->Selects(namespace_name, service_account));
  }

 private:
  const AssociationCache* cache_;
  const IdentitiesFile* file_;
};

}  // namespace podiam::webhook
