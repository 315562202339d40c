#include "podiam/agent/association_status.hpp"

#include <array>
#include <chrono>
#include <utility>
#include <vector>

#include "podiam/k8s/timestamps.hpp"

namespace podiam::agent {
namespace {

constexpr std::array<std::string_view, 2> kTypes = {"Accepted", "Ready"};
constexpr std::chrono::seconds kRetryAfter{10};

const StoredCondition* FindCondition(const AssociationView& v, std::string_view type) {
  for (const auto& c : v.conditions) {
    if (c.type == type) {
      return &c;
    }
  }
  return nullptr;
}

bool IsOurs(std::string_view type) { return type == kTypes[0] || type == kTypes[1]; }

}  // namespace

std::optional<k8s::Json> AssociationStatusPatch(const AssociationView& stored,
                                                const AssociationCheck& check,
                                                Clock::WallTime now) {
  const std::string status = check.outcome == identity::Outcome::kAllowed ? "True" : "False";
  bool differs = stored.observed_generation != stored.generation;
  for (std::string_view type : kTypes) {
    const StoredCondition* c = FindCondition(stored, type);
    differs = differs || c == nullptr || c->status != status || c->reason != check.reason ||
              c->message != check.message || c->observed_generation != stored.generation;
  }
  if (!differs) {
    return std::nullopt;
  }
  k8s::Json conditions = k8s::Json::array();
  for (const auto& c : stored.conditions) {  // other writers' conditions stay as they are
    if (!IsOurs(c.type)) {
      k8s::Json other = {{"type", c.type}, {"status", c.status}};
      if (!c.reason.empty()) {
        other["reason"] = c.reason;
      }
      if (!c.message.empty()) {
        other["message"] = c.message;
      }
      if (!c.last_transition_time.empty()) {
        other["lastTransitionTime"] = c.last_transition_time;
      }
      if (c.observed_generation != 0) {
        other["observedGeneration"] = c.observed_generation;
      }
      conditions.push_back(std::move(other));
    }
  }
  for (std::string_view type : kTypes) {
    const StoredCondition* c = FindCondition(stored, type);
    const std::string since =
        c != nullptr && c->status == status && !c->last_transition_time.empty()
            ? c->last_transition_time
            : k8s::FormatTime(now);
    conditions.push_back({{"type", type},
                          {"status", status},
                          {"observedGeneration", stored.generation},
                          {"lastTransitionTime", since},
                          {"reason", check.reason},
                          {"message", check.message}});
  }
  // resourceVersion: a precondition; a concurrent write (another agent's) makes this one a 409.
  return k8s::Json{
      {"metadata", {{"resourceVersion", stored.resource_version}}},
      {"status", {{"observedGeneration", stored.generation}, {"conditions", conditions}}}};
}

AssociationStatusWriter::AssociationStatusWriter(k8s::KubeApi& api, AssociationCache& associations,
                                                 k8s::NamespaceCache& namespaces,
                                                 const identity::RolePolicy& policy,
                                                 const Clock& clock)
    : api_(api),
      associations_(associations),
      namespaces_(namespaces),
      policy_(policy),
      clock_(clock) {
  associations_.AddHandlers(
      {.on_add = [this](const auto& a) { Enqueue(a->Key()); },
       .on_update = [this](const auto&, const auto& a) { Enqueue(a->Key()); }});
  namespaces_.AddHandlers(
      {.on_add = [this](const auto& n) { EnqueueNamespace(n->name); },
       .on_update = [this](const auto&, const auto& n) { EnqueueNamespace(n->name); }});
}

AssociationStatusWriter::~AssociationStatusWriter() { Stop(); }

void AssociationStatusWriter::Enqueue(const std::string& key) {
  {
    std::lock_guard lock(mu_);
    pending_.insert(key);
  }
  cv_.notify_one();
}

void AssociationStatusWriter::EnqueueNamespace(const std::string& namespace_name) {
  for (const auto& a : associations_.List()) {
    if (a->namespace_name == namespace_name) {
      Enqueue(a->Key());
    }
  }
}

void AssociationStatusWriter::Start() {
  std::lock_guard lock(mu_);
  if (thread_.joinable()) {
    return;
  }
  stopping_ = false;
  thread_ = std::thread([this] {
    std::unique_lock held(mu_);
    while (!stopping_) {
      cv_.wait_for(held, kRetryAfter, [this] { return stopping_ || !pending_.empty(); });
      if (stopping_) {
        return;
      }
      held.unlock();
      Flush();
      held.lock();
    }
  });
}

void AssociationStatusWriter::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) {
    thread_.join();
  }
}

int AssociationStatusWriter::Flush() {
  std::set<std::string> keys;
  {
    std::lock_guard lock(mu_);
    const Clock::SteadyTime now = clock_.SteadyNow();
    keys.swap(pending_);
    for (auto it = retry_.begin(); it != retry_.end();) {
      if (it->second <= now) {
        keys.insert(it->first);
        it = retry_.erase(it);
      } else {
        ++it;
      }
    }
  }
  int patches = 0;
  for (const auto& key : keys) {
    if (!Write(key, &patches)) {
      std::lock_guard lock(mu_);
      retry_[key] = clock_.SteadyNow() + kRetryAfter;
    }
  }
  return patches;
}

bool AssociationStatusWriter::Write(const std::string& key, int* patches) {
  auto association = associations_.Get(key);
  if (!association) {
    return true;  // deleted meanwhile
  }
  auto ns = namespaces_.Get(association->namespace_name);
  if (!ns) {
    return true;  // the namespace's arrival enqueues it again
  }
  const AssociationCheck check = CheckAssociation(*association, policy_, &ns->annotations);
  auto patch = AssociationStatusPatch(*association, check, clock_.Now());
  if (!patch) {
    return true;
  }
  ++*patches;
  auto written = api_.MergePatch(PodIdentityAssociations(), association->namespace_name,
                                 association->name, *patch, "status");
  if (written) {
    log_.Info("PodIdentityAssociation status written",
              {{"association", key},
               {"reason", check.reason},
               {"generation", static_cast<long long>(association->generation)}});
    return true;
  }
  switch (written.error().code()) {
    case ErrorCode::kConflict:  // another agent wrote first, or the object changed: the watch
    case ErrorCode::kNotFound:  // brings the new version (and its own write if still needed)
      log_.Debug("PodIdentityAssociation status not written",
                 {{"association", key}, {"error", written.error().ToString()}});
      return true;
    case ErrorCode::kPermissionDenied:
      if (!warned_forbidden_) {
        warned_forbidden_ = true;
        log_.Warn(
            "cannot write PodIdentityAssociation status: the agent's RBAC needs patch on "
            "podidentityassociations/status (deploy/agent/rbac.yaml)",
            {{"error", written.error().ToString()}});
      }
      return true;
    default:
      log_.Warn("PodIdentityAssociation status write failed; retrying",
                {{"association", key}, {"error", written.error().ToString()}});
      return false;
  }
}

}  // namespace podiam::agent
