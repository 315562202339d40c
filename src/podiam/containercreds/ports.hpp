// The ports the container-credentials handler needs (docs/container-credentials.md): who a
// ServiceAccount token belongs to (TokenAuthenticator, a TokenReview), the pod it names
// (PodResolver), the role that pod's ServiceAccount may have (RoleResolver: a
// PodIdentityAssociation, else the ServiceAccount annotation, through the namespace policy) and
// its credentials (CredentialSource). The agent's composition root adapts the Kubernetes read
// model, identity::RolePolicy and creds::CredentialBroker to these
// (agent/container_sources.hpp).
//
// Thread-safety: implementations are called concurrently from I/O threads (Find, Resolve, Cached,
// Ready) and from worker threads (Review, Fetch).
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "podiam/aws/credentials.hpp"
#include "podiam/base/error.hpp"
#include "podiam/creds/credential_key.hpp"
#include "podiam/identity/policy.hpp"

namespace podiam::containercreds {

using SteadyTime = std::chrono::steady_clock::time_point;

// What a TokenReview said about an authenticated token.
struct TokenIdentity {
  std::string username;  // "system:serviceaccount:<ns>:<sa>"
  std::string service_account_namespace;
  std::string service_account_name;
  std::vector<std::string> audiences;
  // From status.user.extra (authentication.kubernetes.io/...): empty for tokens not bound to a pod.
  std::string pod_name;
  std::string pod_uid;
  std::string node_name;
};

class TokenAuthenticator {
 public:
  virtual ~TokenAuthenticator() = default;
  // Blocking. kUnauthenticated: the apiserver does not accept the token for any accepted audience
  // (a final answer, cached briefly). Any other error: the apiserver could not be asked (never
  // cached; the pod is told to retry).
  virtual Result<TokenIdentity> Review(std::string_view token) = 0;
};

// A pod on this node, as the agent's pod cache sees it.
struct PodInfo {
  std::string namespace_name;
  std::string name;
  std::string uid;
  std::string node_name;
  std::string service_account;
  std::vector<std::string> ips;
  bool host_network = false;
  bool finished = false;  // Succeeded or Failed
};

class PodResolver {
 public:
  virtual ~PodResolver() = default;
  // Non-blocking: the pod with that name on this node now, or nullptr.
  virtual std::shared_ptr<const PodInfo> Find(std::string_view namespace_name,
                                              std::string_view name) = 0;
  // False until every cache a decision depends on has been listed.
  virtual bool Ready() = 0;
};

// Which role a pod gets, decided (kAllowed: `spec` is set).
struct RoleChoice {
  identity::Outcome outcome = identity::Outcome::kNoRole;
  std::shared_ptr<const creds::CredentialSpec> spec;
  std::string account;  // the role's account: the response's AccountId
  std::string source;   // "association" or "annotation", for logs
  std::string reason;   // why, for refusals (no secrets)
};

class RoleResolver {
 public:
  virtual ~RoleResolver() = default;
  // Non-blocking.
  virtual std::shared_ptr<const RoleChoice> Resolve(const PodInfo& pod) = 0;
};

class CredentialSource {
 public:
  virtual ~CredentialSource() = default;
  // Non-blocking: servable cached credentials, or nullptr.
  virtual std::shared_ptr<const aws::Credentials> Cached(const creds::CredentialSpec& spec) = 0;
  // Blocking: fetches (or joins an in-flight fetch) until the deadline.
  virtual Result<aws::Credentials> Fetch(const creds::CredentialSpec& spec,
                                         SteadyTime deadline) = 0;
};

}  // namespace podiam::containercreds
