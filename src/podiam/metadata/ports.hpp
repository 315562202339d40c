// The ports the pod-facing handlers need: who is at this IP (CallerDirectory), their credentials
// (CredentialSource) and, optionally, the node's real metadata service for the few paths an
// operator explicitly allows (MetadataUpstream). callers::PodDirectory and callers::BrokerSource
// adapt the Kubernetes read model, identity::RolePolicy and creds::CredentialBroker to these.
//
// Thread-safety: implementations are called concurrently from I/O threads (Find, Cached) and from
// worker threads (Await, Fetch, Get).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "podiam/aws/credentials.hpp"
#include "podiam/base/error.hpp"
#include "podiam/http/message.hpp"
#include "podiam/identity/policy.hpp"

namespace podiam::metadata {

using SteadyTime = std::chrono::steady_clock::time_point;

// What a CredentialSource needs to get one caller's credentials (for the agent: the AssumeRole
// request). Opaque here: the adapter that builds Callers defines it (callers::PodCredentials) and
// its CredentialSource reads it back; metadata/ only carries the pointer.
class CredentialHandle {
 public:
  virtual ~CredentialHandle() = default;
};

// A pod on this node, as the agent sees it, with the decision about its role already made.
struct Caller {
  std::string namespace_name;
  std::string pod_name;
  std::string pod_uid;
  std::string ip;
  identity::Decision decision;
  // What to fetch, when the decision allows a role (precomputed once per pod change so the
  // request path only looks it up); null otherwise.
  std::shared_ptr<const CredentialHandle> credentials;
};

// How an Await() ended: the caller, or none (nobody owns that address by the deadline), or
// `overloaded` (too many requests are already waiting: answer "retry later" at once).
struct AwaitResult {
  std::shared_ptr<const Caller> caller;
  bool overloaded = false;
};
using AwaitCallback = std::function<void(AwaitResult)>;

class CallerDirectory {
 public:
  virtual ~CallerDirectory() = default;
  // Non-blocking: the pod that owns `ip` now, or nullptr when none is known yet.
  virtual std::shared_ptr<const Caller> Find(std::string_view ip) = 0;
  // Non-blocking: calls `done` exactly once, inline or later from another thread, when a pod
  // owning `ip` is known (from the watch, or by asking the apiserver), when it is certain there is
  // none, or at the deadline. Waiting holds no thread.
  virtual void Await(std::string_view ip, SteadyTime deadline, AwaitCallback done) = 0;
  // False until every cache a decision depends on (pods, namespaces, ServiceAccounts) has been
  // listed: until then no answer about a pod is final, and the handler says "retry" (503).
  virtual bool Ready() = 0;
  // Whether `ip` is one of the node's own addresses (the node itself, hostNetwork pods, the
  // kubelet's probes): such a caller is never a pod with a role of its own.
  virtual bool IsNodeAddress(std::string_view ip) = 0;
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
