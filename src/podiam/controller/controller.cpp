#include "podiam/controller/controller.hpp"

namespace podiam::controller {

Controller::Controller(Reconciler& reconciler, std::vector<RoleCache*> roles,
                       k8s::NamespaceCache& namespaces, const Clock& clock, Random& random,
                       ControllerMetrics& metrics, ControllerOptions options)
    : reconciler_(reconciler),
      roles_(std::move(roles)),
      metrics_(metrics),
      options_(options),
      queue_(clock, random, options.queue) {
  for (std::size_t kind = 0; kind < roles_.size(); ++kind) {
    roles_[kind]->AddHandlers(
        {.on_add = [this, kind](const RoleCache::Ptr& r) { queue_.Add(KeyOf(kind, *r)); },
         .on_update = [this, kind](const RoleCache::Ptr& /*old_role*/,
                                   const RoleCache::Ptr& r) { queue_.Add(KeyOf(kind, *r)); },
         .on_delete =
             [this, kind](const RoleCache::Ptr& r) {
               reconciler_.Deleted(*r);
               queue_.Forget(KeyOf(kind, *r));
             }});
  }
  namespaces.AddHandlers({.on_update = [this](const k8s::NamespaceCache::Ptr& /*old_ns*/,
                                              const k8s::NamespaceCache::Ptr& ns) {
    for (std::size_t kind = 0; kind < roles_.size(); ++kind) {
      for (const auto& r : roles_[kind]->List()) {
        if (r->namespace_name == ns->name) {
          queue_.Add(KeyOf(kind, *r));
        }
      }
    }
  }});
}

Controller::~Controller() { Stop(); }

std::string Controller::KeyOf(std::size_t kind, const RoleObject& role) {
  return std::to_string(kind) + "|" + role.Key();
}

void Controller::Process(const std::string& key) {
  auto bar = key.find('|');
  std::size_t kind = std::stoul(key.substr(0, bar));
  auto role = kind < roles_.size() ? roles_[kind]->Get(key.substr(bar + 1)) : nullptr;
  if (role != nullptr) {
    ReconcileResult r = reconciler_.Reconcile(*role);
    if (r.retry) {
      queue_.AddRateLimited(key);
      if (r.requeue_after) {  // a cap on the backoff: the earlier of the two wins
        queue_.AddAfter(key, *r.requeue_after);
      }
    } else {
      queue_.Forget(key);
      if (r.requeue_after) {
        queue_.AddAfter(key, *r.requeue_after);
      }
    }
  }
  queue_.Done(key);
  metrics_.queue_depth.Set(static_cast<double>(queue_.Depth()));
}

bool Controller::ProcessOne() {
  auto key = queue_.TryGet();
  if (!key) {
    return false;
  }
  Process(*key);
  return true;
}

void Controller::Worker(const std::stop_token& stop) {
  while (auto key = queue_.Get(stop)) {
    Process(*key);
  }
}

void Controller::Start() {
  std::lock_guard lock(workers_mu_);
  if (!workers_.empty()) {
    return;
  }
  for (std::size_t kind = 0; kind < roles_.size(); ++kind) {
    for (const auto& r : roles_[kind]->List()) {
      queue_.Add(KeyOf(kind, *r));
    }
  }
  for (int i = 0; i < std::max(1, options_.workers); ++i) {
    workers_.emplace_back([this](const std::stop_token& stop) { Worker(stop); });
  }
}

void Controller::Pause() {
  std::lock_guard lock(workers_mu_);
  workers_.clear();  // request_stop + join
}

void Controller::Stop() {
  queue_.ShutDown();
  Pause();
}

BrokerCredentials::BrokerCredentials(creds::CredentialBroker& broker, const Clock& clock,
                                     std::chrono::milliseconds wait)
    : broker_(broker), clock_(clock), wait_(wait) {}

Result<aws::Credentials> BrokerCredentials::Get(const std::string& owner,
                                                const creds::CredentialSpec& spec) {
  {
    std::lock_guard lock(mu_);
    auto it = retained_.find(owner);
    if (it == retained_.end() || !(it->second == spec.key)) {
      if (it != retained_.end()) {
        broker_.Release(it->second);
      }
      broker_.Retain(spec);
      retained_[owner] = spec.key;
    }
  }
  if (auto cached = broker_.Cached(spec.key)) {
    return *cached;
  }
  return broker_.Get(spec, clock_.SteadyNow() + wait_);
}

std::optional<Error> BrokerCredentials::RefreshError(const std::string& owner) {
  std::lock_guard lock(mu_);
  auto it = retained_.find(owner);
  return it == retained_.end() ? std::nullopt : broker_.LastError(it->second);
}

void BrokerCredentials::ForgetAll() {
  std::lock_guard lock(mu_);
  for (const auto& [owner, key] : retained_) {
    broker_.Release(key);
  }
  retained_.clear();
}

void BrokerCredentials::Forget(const std::string& owner) {
  std::lock_guard lock(mu_);
  if (auto it = retained_.find(owner); it != retained_.end()) {
    broker_.Release(it->second);
    retained_.erase(it);
  }
}

}  // namespace podiam::controller
