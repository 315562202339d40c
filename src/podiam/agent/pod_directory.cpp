#include "podiam/agent/pod_directory.hpp"

#include <algorithm>

#include "podiam/identity/session_name.hpp"
#include "podiam/k8s/resource.hpp"

namespace podiam::agent {
namespace {

// At most this many direct apiserver lookups per second (burst 20): an unknown caller cannot turn
// the agent into a load generator against the apiserver.
constexpr double kLookupBurst = 20;
constexpr double kLookupsPerSecond = 10;
// A miss is remembered this long per IP before asking the apiserver again.
constexpr auto kNegativeLookupTtl = std::chrono::seconds(1);

bool SameSpec(const std::shared_ptr<const creds::CredentialSpec>& a,
              const std::shared_ptr<const creds::CredentialSpec>& b) {
  if (!a || !b) {
    return a == b;
  }
  return a->key == b->key;
}

}  // namespace

PodDirectory::PodDirectory(k8s::PodCache& pods, k8s::NamespaceCache& namespaces,
                           k8s::ServiceAccountCache& service_accounts,
                           const identity::RolePolicy& policy, creds::CredentialBroker& broker,
                           k8s::KubeApi& api, k8s::EventRecorder* events, const Clock& clock,
                           metrics::Registry& registry, DirectoryOptions options)
    : pods_(pods),
      namespaces_(namespaces),
      service_accounts_(service_accounts),
      policy_(policy),
      broker_(broker),
      api_(api),
      events_(events),
      clock_(clock),
      options_(std::move(options)),
      decisions_(registry.AddCounter(
          "podiam_agent_role_decisions_total",
          "Role decisions made for pods on this node (once per pod, namespace or service "
          "account change), by outcome.",
          {"outcome"})),
      pods_tracked_(registry
                        .AddGauge("podiam_agent_pods_tracked",
                                  "Pods on this node that own an IP and are tracked by the agent.")
                        .Get()),
      direct_lookups_(registry.AddCounter(
          "podiam_agent_direct_lookups_total",
          "Apiserver lookups for callers not yet seen through the watch, by result.", {"result"})),
      lookup_bucket_(kLookupBurst, kLookupsPerSecond, clock.SteadyNow()) {
  pods_.AddHandlers({
      .on_add = [this](const auto& pod) { OnPod(nullptr, pod); },
      .on_update = [this](const auto& old_pod, const auto& new_pod) { OnPod(old_pod, new_pod); },
      .on_delete = [this](const auto& pod) { OnPod(pod, nullptr); },
  });
  auto namespace_changed = [this](const k8s::NamespaceCache::Ptr& ns) {
    for (const auto& pod : pods_.PodsInNamespace(ns->name)) {
      Recompute(*pod);
    }
  };
  namespaces_.AddHandlers({
      .on_add = namespace_changed,
      .on_update = [namespace_changed](const auto&, const auto& ns) { namespace_changed(ns); },
      .on_delete = namespace_changed,
  });
  auto account_changed = [this](const k8s::ServiceAccountCache::Ptr& sa) {
    for (const auto& pod : pods_.PodsByServiceAccount(sa->namespace_name, sa->name)) {
      Recompute(*pod);
    }
  };
  service_accounts_.AddHandlers({
      .on_add = account_changed,
      .on_update = [account_changed](const auto&, const auto& sa) { account_changed(sa); },
      .on_delete = account_changed,
  });
}

PodDirectory::~PodDirectory() = default;

std::shared_ptr<const metadata::Caller> PodDirectory::Find(std::string_view ip) {
  std::shared_lock lock(mu_);
  auto it = by_ip_.find(std::string(ip));
  return it == by_ip_.end() ? nullptr : it->second;
}

std::size_t PodDirectory::Size() const {
  std::shared_lock lock(mu_);
  return by_ip_.size();
}

void PodDirectory::OnPod(const k8s::PodCache::Ptr& old_pod, const k8s::PodCache::Ptr& new_pod) {
  if (new_pod) {
    Recompute(*new_pod);
  } else if (old_pod) {
    Forget(old_pod->Key());
  }
}

std::shared_ptr<const metadata::Caller> PodDirectory::BuildCaller(const k8s::PodView& pod) const {
  // A pod without an IP yet still gets a decision and a spec, so that its credentials are
  // prefetched while its sandbox and network are set up (longer than an AssumeRole): its first
  // request then finds them cached. It is not reachable through Find() until it has an IP.
  if (!k8s::PodCache::OwnsIps(pod) || (!options_.node.empty() && pod.node_name != options_.node)) {
    return nullptr;
  }
  auto ns = namespaces_.Namespace(pod.namespace_name);
  auto sa = service_accounts_.ServiceAccount(pod.namespace_name, pod.service_account_name);
  identity::Subject subject{
      .namespace_name = pod.namespace_name,
      .pod_name = pod.name,
      .service_account = pod.service_account_name,
      .pod_annotations = &pod.annotations,
      .service_account_annotations = sa ? &sa->annotations : nullptr,
      .namespace_annotations = ns ? &ns->annotations : nullptr,
  };
  auto caller = std::make_shared<metadata::Caller>();
  caller->namespace_name = pod.namespace_name;
  caller->pod_name = pod.name;
  caller->pod_uid = pod.uid;
  caller->ip = pod.pod_ips.empty() ? std::string() : pod.pod_ips.front();
  caller->decision = policy_.Decide(subject);
  if (caller->decision.outcome == identity::Outcome::kAllowed) {
    auto spec = std::make_shared<creds::CredentialSpec>();
    std::string_view session_override;
    if (auto it = pod.annotations.find(options_.session_name_key); it != pod.annotations.end()) {
      session_override = it->second;
    }
    spec->key = {
        .role_arn = caller->decision.role->ToString(),
        .external_id = caller->decision.external_id,
        .session_name = identity::SessionName(pod.namespace_name, pod.name, session_override)};
    if (options_.session_tags) {
      spec->tags = {{"kubernetes-namespace", pod.namespace_name},
                    {"kubernetes-pod-name", pod.name},
                    {"kubernetes-service-account", pod.service_account_name},
                    {"kubernetes-pod-uid", pod.uid}};
      if (!options_.cluster_name.empty()) {
        spec->tags.push_back({"cluster-name", options_.cluster_name});
      }
    }
    if (options_.source_identity) {
      spec->source_identity = spec->key.session_name;
    }
    spec->duration_seconds = options_.duration_seconds;
    caller->spec = std::move(spec);
  }
  return caller;
}

void PodDirectory::RefreshIpLocked(const std::string& ip) {
  auto owner = pods_.PodByIp(ip);
  if (owner) {
    auto it = by_pod_.find(owner->Key());
    if (it != by_pod_.end() && it->second.caller && it->second.caller->pod_uid == owner->uid &&
        std::find(it->second.ips.begin(), it->second.ips.end(), ip) != it->second.ips.end()) {
      by_ip_[ip] = it->second.caller;
      return;
    }
  }
  by_ip_.erase(ip);
}

void PodDirectory::Recompute(const k8s::PodView& pod) {
  std::lock_guard writer(update_mu_);
  auto caller = BuildCaller(pod);
  std::shared_ptr<const metadata::Caller> previous;
  {
    std::unique_lock lock(mu_);
    auto& state = by_pod_[pod.Key()];
    previous = state.caller;
    std::vector<std::string> touched = state.ips;
    state.caller = caller;
    state.ips = caller ? pod.pod_ips : std::vector<std::string>{};
    touched.insert(touched.end(), state.ips.begin(), state.ips.end());
    if (!caller) {
      by_pod_.erase(pod.Key());
    }
    for (const auto& ip : touched) {
      RefreshIpLocked(ip);
    }
    pods_tracked_.Set(static_cast<double>(by_pod_.size()));
  }
  auto old_spec = previous ? previous->spec : nullptr;
  auto new_spec = caller ? caller->spec : nullptr;
  if (new_spec && !SameSpec(old_spec, new_spec)) {
    broker_.Retain(*new_spec);
  }
  if (old_spec && !SameSpec(old_spec, new_spec)) {
    broker_.Release(old_spec->key);
  }
  if (caller) {
    Report(pod, *caller, previous.get());
  }
  std::lock_guard wake(wait_mu_);
  changed_.notify_all();
}

void PodDirectory::Forget(const std::string& pod_key) {
  std::lock_guard writer(update_mu_);
  std::shared_ptr<const metadata::Caller> previous;
  {
    std::unique_lock lock(mu_);
    auto it = by_pod_.find(pod_key);
    if (it == by_pod_.end()) {
      return;
    }
    previous = it->second.caller;
    std::vector<std::string> ips = std::move(it->second.ips);
    by_pod_.erase(it);
    for (const auto& ip : ips) {
      RefreshIpLocked(ip);
    }
    pods_tracked_.Set(static_cast<double>(by_pod_.size()));
  }
  if (previous && previous->spec) {
    broker_.Release(previous->spec->key);
  }
}

void PodDirectory::RecomputeAll() {
  for (const auto& pod : pods_.List()) {
    Recompute(*pod);
  }
}

void PodDirectory::Report(const k8s::PodView& pod, const metadata::Caller& caller,
                          const metadata::Caller* previous) {
  const identity::Decision& d = caller.decision;
  if (previous != nullptr && previous->decision.outcome == d.outcome &&
      previous->decision.reason == d.reason) {
    return;  // nothing new to say
  }
  decisions_.WithLabels({identity::OutcomeName(d.outcome)}).Inc();
  log::Level level =
      (d.outcome == identity::Outcome::kDenied || d.outcome == identity::Outcome::kInvalid)
          ? log::Level::kWarn
          : log::Level::kInfo;
  log_.Log(level, "role decision",
           {{"namespace", pod.namespace_name},
            {"pod", pod.name},
            {"outcome", std::string(identity::OutcomeName(d.outcome))},
            {"source", std::string(identity::RoleSourceName(d.source))},
            {"role", d.role ? d.role->ToString() : std::string()},
            {"reason", d.reason}});
  if (events_ != nullptr && level == log::Level::kWarn) {
    events_->Record({.api_version = "v1",
                     .kind = "Pod",
                     .namespace_name = pod.namespace_name,
                     .name = pod.name,
                     .uid = pod.uid},
                    k8s::EventType::kWarning,
                    d.outcome == identity::Outcome::kDenied ? "IAMRoleDenied" : "IAMRoleInvalid",
                    "AssumeRole", d.reason);
  }
}

bool PodDirectory::LookUpDirectly(std::string_view ip) {
  auto now = clock_.SteadyNow();
  {
    std::lock_guard lock(lookup_mu_);
    if (auto it = recent_misses_.find(std::string(ip));
        it != recent_misses_.end() && now - it->second < kNegativeLookupTtl) {
      direct_lookups_.WithLabels({"skipped_recent_miss"}).Inc();
      return false;
    }
    if (!lookup_bucket_.TryTake(now)) {
      direct_lookups_.WithLabels({"rate_limited"}).Inc();
      return false;
    }
  }
  k8s::ListOptions list{.field_selector = "status.podIP=" + std::string(ip)};
  if (!options_.node.empty()) {
    list.field_selector = "spec.nodeName=" + options_.node + "," + list.field_selector;
  }
  auto found = api_.List(k8s::resources::Pods(), "", list);
  if (!found) {
    direct_lookups_.WithLabels({"error"}).Inc();
    log_.Warn("direct pod lookup failed",
              {{"ip", std::string(ip)}, {"error", found.error().ToString()}});
    return false;
  }
  if (found->items.empty()) {
    direct_lookups_.WithLabels({"not_found"}).Inc();
    std::lock_guard lock(lookup_mu_);
    if (recent_misses_.size() > 4096) {
      recent_misses_.clear();
    }
    recent_misses_[std::string(ip)] = now;
    return false;
  }
  direct_lookups_.WithLabels({"found"}).Inc();
  for (auto& item : found->items) {
    // The namespace and service account may be newer than the informers too.
    const std::string& ns = k8s::StringAt(item, "metadata", "namespace");
    if (!namespaces_.Namespace(ns)) {
      if (auto got = api_.Get(k8s::resources::Namespaces(), "", ns)) {
        namespaces_.Event(k8s::WatchEventType::kModified, std::move(*got));
      }
    }
    const std::string& sa = k8s::StringAt(item, "spec", "serviceAccountName");
    if (!sa.empty() && !service_accounts_.ServiceAccount(ns, sa)) {
      if (auto got = api_.Get(k8s::resources::ServiceAccounts(), ns, sa)) {
        service_accounts_.Event(k8s::WatchEventType::kModified, std::move(*got));
      }
    }
    pods_.Event(k8s::WatchEventType::kModified, std::move(item));
  }
  return true;
}

std::shared_ptr<const metadata::Caller> PodDirectory::Await(std::string_view ip,
                                                            metadata::SteadyTime deadline) {
  auto wait_until = [&](metadata::SteadyTime until) -> std::shared_ptr<const metadata::Caller> {
    while (true) {
      // Look under wait_mu_: an update that lands between a look without it and the wait would
      // notify nobody, and the request would sleep the full 50 ms (scripts/bench saw those as
      // the first-credential outliers). Recompute() publishes before it takes wait_mu_.
      std::unique_lock lock(wait_mu_);
      if (auto caller = Find(ip)) {
        return caller;
      }
      auto now = clock_.SteadyNow();
      if (now >= until) {
        return nullptr;
      }
      changed_.wait_for(lock, std::min<std::chrono::steady_clock::duration>(
                                  until - now, std::chrono::milliseconds(50)));
    }
  };
  if (auto caller = wait_until(std::min(deadline, clock_.SteadyNow() + options_.watch_grace))) {
    return caller;
  }
  if (LookUpDirectly(ip)) {
    return wait_until(deadline);
  }
  return Find(ip);
}

}  // namespace podiam::agent
