// The ports the server's agent-facing handler needs (docs/server.md, "Agent protocol"):
//
//   TokenReviewer     who an agent's bearer token belongs to: a TokenReview for the server's
//                     audiences (containercreds::TokenAuthenticator, reused: the same adapter
//                     agent::KubeTokenAuthenticator serves both endpoints)
//   PodLookup         the pod an agent names, with the server's own decision about its role
//                     (identity::DecidePod through the namespace policy, memoised per pod change
//                     by callers::PodDirectory in all-nodes mode), from the caches, else from the
//                     apiserver
//   CredentialSource  the pod's credentials from the broker (containercreds' port, reused:
//                     cached on the I/O thread, fetched on a worker)
//
// The decision travels with the pod (ServerPod::decision) because the directory decides when a
// pod, its namespace or its ServiceAccount changes, not per request: the "decider" is the
// directory's DecidePod call, and the handler only reads its result.
//
// Thread-safety: implementations are called concurrently from I/O threads (Find, Ready, Cached)
// and from worker threads (Review, Read, Fetch).
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "podiam/base/error.hpp"
#include "podiam/containercreds/ports.hpp"
#include "podiam/creds/credential_key.hpp"
#include "podiam/identity/policy.hpp"

namespace podiam::server {

using SteadyTime = std::chrono::steady_clock::time_point;
using TokenIdentity = containercreds::TokenIdentity;
using TokenReviewer = containercreds::TokenAuthenticator;
using CredentialSource = containercreds::CredentialSource;

// One pod as the server knows it, with its role decided.
struct ServerPod {
  std::string namespace_name;
  std::string name;
  std::string uid;
  std::string node_name;  // spec.nodeName; "" while unscheduled
  // Whether the pod can have credentials at all: false for hostNetwork and finished pods (no
  // decision is made for them; the agent serves them nothing either).
  bool decided = false;
  identity::Decision decision;
  // What to fetch when decision.outcome is kAllowed; null otherwise.
  std::shared_ptr<const creds::CredentialSpec> spec;
};

class PodLookup {
 public:
  virtual ~PodLookup() = default;
  // Non-blocking: the pod from the caches (that incarnation when `uid` is set), or nullptr.
  virtual std::shared_ptr<const ServerPod> Find(std::string_view namespace_name,
                                                std::string_view name, std::string_view uid) = 0;
  // Blocking: the caches, else the apiserver. nullptr: the pod (that incarnation) does not exist.
  // kUnavailable: the apiserver could not be asked (rate limit, unreachable).
  virtual Result<std::shared_ptr<const ServerPod>> Read(std::string_view namespace_name,
                                                        std::string_view name,
                                                        std::string_view uid) = 0;
  // False until pods, namespaces and ServiceAccounts have been listed.
  virtual bool Ready() = 0;
};

}  // namespace podiam::server
