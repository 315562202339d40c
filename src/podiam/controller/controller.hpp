// Controller: the informers' AWSIAMRoles -> WorkQueue -> Reconciler, on worker threads, plus the
// production adapters of the reconciler's ports (the credential broker, the Event recorder).
//
// Every add or update of a role queues its key; a namespace update queues the roles in that
// namespace (its policy may have changed); a delete forgets the role's credentials (the garbage
// collector removes the Secret). A reconcile that failed transiently is retried with backoff,
// and every role is looked at again when its credentials have been refreshed (or after resync).
//
// Thread-safety: Start/Stop from the controlling thread; handlers run on informer threads.
//
//   controller::RoleCache roles;                        // fed by an Informer
//   controller::Controller c(reconciler, {&roles}, namespaces, clock, random, metrics, {});
//   c.Start(); ... c.Stop();
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "podiam/base/clock.hpp"
#include "podiam/base/random.hpp"
#include "podiam/controller/metrics.hpp"
#include "podiam/controller/ports.hpp"
#include "podiam/controller/reconciler.hpp"
#include "podiam/controller/role_object.hpp"
#include "podiam/controller/work_queue.hpp"
#include "podiam/creds/credential_broker.hpp"
#include "podiam/k8s/cache.hpp"
#include "podiam/k8s/event_recorder.hpp"

namespace podiam::controller {

class RoleCache final : public k8s::Cache<RoleObject> {
 public:
  RoleCache() : Cache(ParseRoleObject, "AWSIAMRole") {}
};

struct ControllerOptions {
  int workers = 4;
  WorkQueueOptions queue;
};

class Controller {
 public:
  // `roles`: one cache per served kind (podiam.io, and zalando.org when enabled).
  Controller(Reconciler& reconciler, std::vector<RoleCache*> roles, k8s::NamespaceCache& namespaces,
             const Clock& clock, Random& random, ControllerMetrics& metrics,
             ControllerOptions options);
  ~Controller();
  Controller(const Controller&) = delete;
  Controller& operator=(const Controller&) = delete;

  // Starts the workers (again, after Pause()), and queues every cached role.
  void Start();
  // Stops the workers but keeps the queue (leadership lost: another replica acts).
  void Pause();
  // Pause() and close the queue for good.
  void Stop();
  // One queued key, if any is ready, on the calling thread (tests). False when none was.
  bool ProcessOne();

  WorkQueue& queue() { return queue_; }

 private:
  static std::string KeyOf(std::size_t kind, const RoleObject& role);
  void Process(const std::string& key);
  void Worker(const std::stop_token& stop);

  Reconciler& reconciler_;
  std::vector<RoleCache*> roles_;
  ControllerMetrics& metrics_;
  ControllerOptions options_;
  WorkQueue queue_;
  std::mutex workers_mu_;
  std::vector<std::jthread> workers_;
};

// CredentialSource over the agent's broker: Retain()s each role's spec (so the broker prefetches
// and refreshes it), Release()s it when the role goes or its spec changes, and waits up to
// `wait` for a first fetch.
class BrokerCredentials final : public CredentialSource {
 public:
  BrokerCredentials(creds::CredentialBroker& broker, const Clock& clock,
                    std::chrono::milliseconds wait);
  Result<aws::Credentials> Get(const std::string& owner,
                               const creds::CredentialSpec& spec) override;
  std::optional<Error> RefreshError(const std::string& owner) override;
  void Forget(const std::string& owner) override;
  // Releases every role's credentials (leadership lost: stop refreshing them).
  void ForgetAll();

 private:
  creds::CredentialBroker& broker_;
  const Clock& clock_;
  std::chrono::milliseconds wait_;
  std::mutex mu_;
  std::map<std::string, creds::CredentialKey> retained_;  // by role uid
};

// EventSink over k8s::EventRecorder (action "Reconcile").
class RecorderEvents final : public EventSink {
 public:
  explicit RecorderEvents(k8s::EventRecorder& recorder) : recorder_(recorder) {}
  void Record(const k8s::ObjectReference& regarding, k8s::EventType type, std::string_view reason,
              std::string_view note) override {
    recorder_.Record(regarding, type, reason, "Reconcile", note);
  }

 private:
  k8s::EventRecorder& recorder_;
};

}  // namespace podiam::controller
