// The ports `podiam webhook`'s admission handler needs: what it knows about ServiceAccounts (a
// cache fed by an informer, and a direct read from the apiserver when the cache does not have the
// ServiceAccount yet: the fix for the reference's #174 race) and which ServiceAccounts an
// association selects for container credentials. The composition root adapts the k8s informers
// and KubeApi to these (webhook/kube_directory.hpp); tests use fakes. Time and randomness come
// from base's Clock and Random.
//
// Thread-safety: implementations are called concurrently from the server's I/O threads.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string_view>

#include "podiam/base/error.hpp"
#include "podiam/k8s/views.hpp"

namespace podiam::webhook {

using SteadyTime = std::chrono::steady_clock::time_point;

// A ServiceAccount's annotations (only the kept ones), shared read-only.
using AccountAnnotations = std::shared_ptr<const k8s::Annotations>;

class ServiceAccountDirectory {
 public:
  virtual ~ServiceAccountDirectory() = default;
  // Non-blocking: the cached ServiceAccount, or nullopt when the cache does not hold it.
  virtual std::optional<AccountAnnotations> Cached(std::string_view namespace_name,
                                                   std::string_view name) = 0;
  // Blocking, until `deadline` at most: reads the ServiceAccount from the apiserver. nullptr when
  // it does not exist (404); an error when the apiserver could not say.
  virtual Result<AccountAnnotations> Fetch(std::string_view namespace_name, std::string_view name,
                                           SteadyTime deadline) = 0;
};

class AssociationDirectory {
 public:
  virtual ~AssociationDirectory() = default;
  // Non-blocking: whether pods of this ServiceAccount get container credentials (a
  // PodIdentityAssociation names it, or the --watch-container-credentials-config file lists it).
  virtual bool Selects(std::string_view namespace_name, std::string_view service_account) = 0;
};

}  // namespace podiam::webhook
