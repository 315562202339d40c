// The ports the pod-facing handlers need: who is at this IP (CallerDirectory), their credentials
// (CredentialSource) and, optionally, the node's real metadata service for the few paths an
// operator explicitly allows (MetadataUpstream). The agent's composition root adapts the
// Kubernetes read model, identity::RolePolicy and creds::CredentialBroker to these.
//
// Thread-safety: implementations are called concurrently from I/O threads (Find, Cached) and from
// worker threads (Await, Fetch, Get).
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "podiam/aws/credentials.hpp"
#include "podiam/base/error.hpp"
#include "podiam/creds/credential_key.hpp"
#include "podiam/http/message.hpp"
#include "podiam/identity/policy.hpp"

namespace podiam::metadata {

using SteadyTime = std::chrono::steady_clock::time_point;

// A pod on this node, as the agent sees it, with the decision about its role already made.
struct Caller {
  std::string namespace_name;
  std::string pod_name;
  std::string pod_uid;
  std::string ip;
  identity::Decision decision;
  // What to ask STS for, when the decision allows a role (precomputed once per pod change so the
  // request path only looks it up).
  std::shared_ptr<const creds::CredentialSpec> spec;
};

class CallerDirectory {
 public:
  virtual ~CallerDirectory() = default;
  // Non-blocking: the pod that owns `ip` now, or nullptr when none is known yet.
  virtual std::shared_ptr<const Caller> Find(std::string_view ip) = 0;
  // Blocking: waits until a pod owning `ip` is known (from the watch, or by asking the apiserver)
  // or the deadline passes. nullptr when there is none.
  virtual std::shared_ptr<const Caller> Await(std::string_view ip, SteadyTime deadline) = 0;
};

class CredentialSource {
 public:
  virtual ~CredentialSource() = default;
  // Non-blocking: servable cached credentials for this caller's role, or nullptr.
  virtual std::shared_ptr<const aws::Credentials> Cached(const Caller& caller) = 0;
  // Blocking: fetches (or waits for an in-flight fetch) until the deadline.
  virtual Result<aws::Credentials> Fetch(const Caller& caller, SteadyTime deadline) = 0;
};

class MetadataUpstream {
 public:
  virtual ~MetadataUpstream() = default;
  // GET of an allowed, non-credential path on the node's own metadata service.
  virtual Result<http::Response> Get(std::string_view path, SteadyTime deadline) = 0;
};

}  // namespace podiam::metadata
