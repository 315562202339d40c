#include "podiam/callers/pod_directory.hpp"

#include <algorithm>

#include "podiam/callers/pod_credentials.hpp"

namespace podiam::callers {
namespace {

// How long a pod found by a direct look-up is answered from the directory's own store when the
// watch has not delivered it; after that the next request asks again (rate-limited).
constexpr auto kLookedUpTtl = std::chrono::seconds(10);

const creds::CredentialSpec* Spec(const std::shared_ptr<const metadata::Caller>& caller) {
  return caller ? SpecOf(*caller) : nullptr;
}

PodRecord Record(const k8s::PodView& pod, std::shared_ptr<const metadata::Caller> caller) {
  return {.namespace_name = pod.namespace_name,
          .name = pod.name,
          .uid = pod.uid,
          .node_name = pod.node_name,
          .service_account = pod.service_account_name,
          .phase = pod.phase,
          .ips = pod.pod_ips,
          .caller = std::move(caller)};
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
      clock_(clock),
      options_(std::move(options)),
      metrics_(registry),
      prefetch_(broker, options_.prefetch),
      report_(events, metrics_),
      lookup_(api, pods, namespaces, service_accounts, clock, metrics_, options_.node),
      waiting_([this](std::string_view ip) { return Find(ip); },
               [this](std::string_view ip) { return LookUp(ip); }, clock, metrics_,
               {.watch_grace = options_.watch_grace,
                .max_waiting = options_.max_waiting,
                .max_waiting_per_ip = options_.max_waiting_per_ip}) {
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

PodDirectory::~PodDirectory() { Stop(); }

void PodDirectory::Start() { waiting_.Start(); }

void PodDirectory::Stop() { waiting_.Stop(); }

bool PodDirectory::Ready() {
  if (ready_.load(std::memory_order_acquire)) {
    return true;
  }
  if (!options_.synced || options_.synced()) {
    ready_.store(true, std::memory_order_release);
    log_.Info("pods, namespaces and service accounts are listed: answering pods");
    return true;
  }
  return false;
}

bool PodDirectory::IsNodeAddress(std::string_view ip) {
  return options_.is_node_address && options_.is_node_address(ip);
}

std::shared_ptr<const metadata::Caller> PodDirectory::Find(std::string_view ip) {
  std::shared_lock lock(mu_);
  std::string key(ip);
  if (auto it = by_ip_.find(key); it != by_ip_.end()) {
    return it->second;
  }
  if (auto it = looked_up_.find(key);
      it != looked_up_.end() && clock_.SteadyNow() < it->second.until) {
    return it->second.caller;
  }
  return nullptr;
}

void PodDirectory::Await(std::string_view ip, metadata::SteadyTime deadline,
                         metadata::AwaitCallback done) {
  if (auto caller = Find(ip)) {
    return done({.caller = std::move(caller)});
  }
  if (IsNodeAddress(ip)) {
    metrics_.unknown_callers.WithLabels({"node_address"}).Inc();
    return done({});
  }
  if (options_.may_be_pod && !options_.may_be_pod(ip)) {
    metrics_.unknown_callers.WithLabels({"outside_pod_cidr"}).Inc();
    return done({});
  }
  waiting_.Park(ip, deadline, lookup_.RecentMiss(ip, clock_.SteadyNow()), std::move(done));
}

std::optional<PodRecord> PodDirectory::Pod(std::string_view namespace_name, std::string_view name,
                                           std::string_view uid) const {
  auto matches = [&](const k8s::PodView& pod) { return uid.empty() || pod.uid == uid; };
  if (auto pod = pods_.Pod(namespace_name, name); pod && matches(*pod)) {
    std::shared_ptr<const metadata::Caller> caller;
    {
      std::shared_lock lock(mu_);
      auto it = by_pod_.find(pod->Key());
      if (it != by_pod_.end() && it->second.caller && it->second.caller->pod_uid == pod->uid) {
        caller = it->second.caller;
      }
    }
    if (!caller && !options_.keep_role_less) {
      caller = BuildCaller(*pod);  // not kept: decided now, from the same caches
    }
    return Record(*pod, std::move(caller));
  }
  const auto now = clock_.SteadyNow();
  std::shared_lock lock(mu_);
  for (const auto& [ip, entry] : looked_up_) {
    if (now < entry.until && entry.pod->namespace_name == namespace_name &&
        entry.pod->name == name && matches(*entry.pod)) {
      return Record(*entry.pod, entry.caller);
    }
  }
  return std::nullopt;
}

Result<std::optional<PodRecord>> PodDirectory::ReadPod(std::string_view namespace_name,
                                                       std::string_view name,
                                                       std::string_view uid) {
  if (auto known = Pod(namespace_name, name, uid)) {
    return known;
  }
  LookupResult result = lookup_.LookUpPod(namespace_name, name);
  if (result.status == LookupResult::Status::kSkipped) {
    return MakeError(ErrorCode::kUnavailable,
                     "the pod is not in the caches and the apiserver could not be asked");
  }
  if (result.status == LookupResult::Status::kNotFound || result.pods.empty() ||
      (!uid.empty() && result.pods.front().pod->uid != uid)) {
    return std::optional<PodRecord>();
  }
  const FoundPod& found = result.pods.front();
  return std::optional<PodRecord>(
      Record(*found.pod,
             BuildCaller(*found.pod, found.namespace_view.get(), found.service_account.get())));
}

std::size_t PodDirectory::Size() const {
  std::shared_lock lock(mu_);
  return by_ip_.size();
}

void PodDirectory::OnPod(const k8s::PodCache::Ptr& old_pod, const k8s::PodCache::Ptr& new_pod) {
  if (new_pod) {
    Recompute(*new_pod, /*added=*/old_pod == nullptr);
  } else if (old_pod) {
    Forget(old_pod->Key());
  }
}

std::shared_ptr<const metadata::Caller> PodDirectory::BuildCaller(
    const k8s::PodView& pod, const k8s::NamespaceView* ns,
    const k8s::ServiceAccountView* service_account) const {
  // A pod without an IP yet still gets a decision and a spec, so that its credentials are
  // prefetched while its sandbox and network are set up (longer than an AssumeRole): its first
  // request then finds them cached. It is not reachable through Find() until it has an IP.
  if (!k8s::PodCache::OwnsIps(pod) || (!options_.node.empty() && pod.node_name != options_.node)) {
    return nullptr;
  }
  identity::PodRequest request = identity::DecidePod(
      policy_,
      {.namespace_name = pod.namespace_name,
       .pod_name = pod.name,
       .pod_uid = pod.uid,
       .service_account = pod.service_account_name,
       .pod_annotations = &pod.annotations,
       .service_account_annotations =
           service_account != nullptr ? &service_account->annotations : nullptr,
       .namespace_annotations = ns != nullptr ? &ns->annotations : nullptr},
      {.session = options_.session, .duration_seconds = options_.duration_seconds});
  auto caller = std::make_shared<metadata::Caller>();
  caller->namespace_name = pod.namespace_name;
  caller->pod_name = pod.name;
  caller->pod_uid = pod.uid;
  caller->ip = pod.pod_ips.empty() ? std::string() : pod.pod_ips.front();
  caller->decision = std::move(request.decision);
  if (request.spec) {
    caller->credentials = std::make_shared<const PodCredentials>(std::move(*request.spec));
  }
  return caller;
}

std::shared_ptr<const metadata::Caller> PodDirectory::BuildCaller(const k8s::PodView& pod) const {
  auto ns = namespaces_.Namespace(pod.namespace_name);
  auto sa = service_accounts_.ServiceAccount(pod.namespace_name, pod.service_account_name);
  return BuildCaller(pod, ns.get(), sa.get());
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

void PodDirectory::DropLookedUpLocked(const std::string& pod_key, Clock::SteadyTime now) {
  std::erase_if(looked_up_, [&](const auto& entry) {
    return entry.second.until <= now || entry.second.pod->Key() == pod_key;
  });
}

void PodDirectory::Recompute(const k8s::PodView& pod, bool added) {
  std::lock_guard writer(update_mu_);
  auto caller = BuildCaller(pod);
  const bool keep =
      caller && (options_.keep_role_less || caller->decision.outcome != identity::Outcome::kNoRole);
  std::shared_ptr<const metadata::Caller> previous;
  {
    std::unique_lock lock(mu_);
    auto& state = by_pod_[pod.Key()];
    previous = state.caller;
    std::vector<std::string> touched = state.ips;
    state.caller = keep ? caller : nullptr;
    state.ips = keep ? pod.pod_ips : std::vector<std::string>{};
    touched.insert(touched.end(), state.ips.begin(), state.ips.end());
    if (!keep) {
      by_pod_.erase(pod.Key());
    }
    for (const auto& ip : touched) {
      RefreshIpLocked(ip);
    }
    if (!looked_up_.empty()) {
      DropLookedUpLocked(pod.Key(), clock_.SteadyNow());
    }
    metrics_.pods_tracked.Set(static_cast<double>(by_pod_.size()));
  }
  prefetch_.Change(Spec(previous), Spec(caller));
  // A role-less pod that is not kept had no role before either (or it would have been kept):
  // only its first decision is news.
  const bool unchanged_role_less = caller && !keep && !previous && !added;
  if (caller && !unchanged_role_less) {
    report_.Report(pod, caller->decision, previous ? &previous->decision : nullptr);
  }
  waiting_.Poke();
}

void PodDirectory::Forget(const std::string& pod_key) {
  std::lock_guard writer(update_mu_);
  std::shared_ptr<const metadata::Caller> previous;
  {
    std::unique_lock lock(mu_);
    if (!looked_up_.empty()) {
      DropLookedUpLocked(pod_key, clock_.SteadyNow());
    }
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
    metrics_.pods_tracked.Set(static_cast<double>(by_pod_.size()));
  }
  prefetch_.Change(Spec(previous), nullptr);
}

void PodDirectory::RecomputeAll() {
  for (const auto& pod : pods_.List()) {
    Recompute(*pod);
  }
}

LookupResult::Status PodDirectory::LookUp(std::string_view ip) {
  LookupResult result = lookup_.LookUp(ip);
  if (result.status != LookupResult::Status::kFound) {
    return result.status;
  }
  // Best claimant first, as the PodCache ranks them.
  std::sort(result.pods.begin(), result.pods.end(), [](const FoundPod& a, const FoundPod& b) {
    return k8s::PodCache::BetterClaimant(*a.pod, *b.pod);
  });
  std::lock_guard writer(update_mu_);
  const auto now = clock_.SteadyNow();
  std::unique_lock lock(mu_);
  std::erase_if(looked_up_, [&](const auto& entry) { return entry.second.until <= now; });
  std::unordered_map<std::string, int> claimants;
  for (const auto& found : result.pods) {
    auto caller = BuildCaller(*found.pod, found.namespace_view.get(), found.service_account.get());
    if (!caller) {
      continue;
    }
    for (const auto& pod_ip : found.pod->pod_ips) {
      // The watch's word wins; the first (best) claimant of an address wins among these.
      ++claimants[pod_ip];
      if (!by_ip_.contains(pod_ip)) {
        looked_up_.try_emplace(
            pod_ip, LookedUp{.pod = found.pod, .caller = caller, .until = now + kLookedUpTtl});
      }
    }
  }
  if (pods_.duplicate_ips() == k8s::DuplicateIpPolicy::kRefuse) {
    // As the PodCache does: an address several live pods claim is nobody's.
    for (const auto& [pod_ip, count] : claimants) {
      if (count > 1) {
        looked_up_.erase(pod_ip);
      }
    }
  }
  return result.status;
}

}  // namespace podiam::callers
