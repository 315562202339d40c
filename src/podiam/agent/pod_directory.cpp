#include "podiam/agent/pod_directory.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "podiam/k8s/resource.hpp"

namespace podiam::agent {
namespace {

// At most this many direct apiserver lookups per second (burst 20): an unknown caller cannot turn
// the agent into a load generator against the apiserver.
constexpr double kLookupBurst = 20;
constexpr double kLookupsPerSecond = 10;
// A miss is remembered this long per IP before asking the apiserver again.
constexpr auto kNegativeLookupTtl = std::chrono::seconds(2);
// IPs waiting for a direct lookup at most; more just wait for the watch until their deadline.
constexpr std::size_t kMaxLookupQueue = 256;
// The waiter thread looks at the clock at least this often (FakeClock in tests moves by itself).
constexpr auto kWaiterSlice = std::chrono::milliseconds(50);

// Whether a pod object lists `ip` among status.podIPs (or as status.podIP).
bool ListsIp(const k8s::Json& pod, std::string_view ip) {
  auto status = pod.find("status");
  if (status == pod.end() || !status->is_object()) {
    return false;
  }
  if (auto one = status->find("podIP"); one != status->end() && one->is_string() && *one == ip) {
    return true;
  }
  auto many = status->find("podIPs");
  if (many == status->end() || !many->is_array()) {
    return false;
  }
  return std::any_of(many->begin(), many->end(), [&](const k8s::Json& entry) {
    auto it = entry.is_object() ? entry.find("ip") : entry.end();
    return entry.is_object() && it != entry.end() && it->is_string() && *it == ip;
  });
}

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
      unknown_callers_(registry.AddCounter(
          "podiam_agent_unknown_callers_total",
          "Metadata requests from addresses no pod on this node owns, by how they were answered: "
          "node_address and outside_pod_cidr at once, not_found after the wait, overloaded when "
          "too many were already waiting.",
          {"reason"})),
      waiting_gauge_(registry
                         .AddGauge("podiam_agent_waiting_requests",
                                   "Metadata requests parked until their caller's pod is known.")
                         .Get()),
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

PodDirectory::~PodDirectory() { Stop(); }

void PodDirectory::Start() {
  std::lock_guard lock(wait_mu_);
  if (running_ || stopping_) {
    return;
  }
  running_ = true;
  waiter_thread_ = std::thread([this] { WaiterLoop(); });
  lookup_thread_ = std::thread([this] { LookupLoop(); });
}

void PodDirectory::Stop() {
  {
    std::scoped_lock lock(wait_mu_, lookup_mu_);
    stopping_ = true;
  }
  wait_cv_.notify_all();
  lookup_cv_.notify_all();
  if (waiter_thread_.joinable()) {
    waiter_thread_.join();
  }
  if (lookup_thread_.joinable()) {
    lookup_thread_.join();
  }
  std::unordered_map<std::string, Waiting> left;
  {
    std::lock_guard lock(wait_mu_);
    left.swap(waiting_);
    waiter_count_ = 0;
    running_ = false;
  }
  for (auto& [ip, w] : left) {
    for (auto& waiter : w.waiters) {
      waiter.done({});
    }
  }
}

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

void PodDirectory::Poke() {
  {
    std::lock_guard lock(wait_mu_);
    dirty_ = true;
  }
  wait_cv_.notify_one();
}

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
  if (!ns && policy_.options().namespace_restrictions) {
    // Not seen yet (the namespace watch lags the pod's, or the list is not done): unknown is not
    // "no annotations", so no denial, no Event; Recompute() runs again when it arrives.
    caller->decision = {.outcome = identity::Outcome::kPending,
                        .reason = fmt::format("namespace {} is not known to the agent yet; retry",
                                              pod.namespace_name)};
    return caller;
  }
  caller->decision = policy_.Decide(subject);
  if (caller->decision.outcome == identity::Outcome::kAllowed) {
    auto spec = std::make_shared<creds::CredentialSpec>();
    std::string_view annotation;
    if (auto it = pod.annotations.find(options_.session_name_key); it != pod.annotations.end()) {
      annotation = it->second;
    }
    identity::Session session =
        identity::DeriveSession({.namespace_name = pod.namespace_name,
                                 .pod_name = pod.name,
                                 .pod_uid = pod.uid,
                                 .service_account = pod.service_account_name,
                                 .annotation = annotation},
                                options_.session);
    spec->key = {.role_arn = caller->decision.role->ToString(),
                 .external_id = caller->decision.external_id,
                 .session_name = std::move(session.name),
                 .owner = std::move(session.owner),
                 .tags = std::move(session.tags),
                 .source_identity = std::move(session.source_identity),
                 .duration_seconds = options_.duration_seconds};
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
  Poke();
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
  if (d.outcome == identity::Outcome::kPending) {
    log_.Debug("role decision pending", {{"namespace", pod.namespace_name}, {"pod", pod.name}});
    return;
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

PodDirectory::Lookup PodDirectory::LookUpDirectly(std::string_view ip) {
  auto now = clock_.SteadyNow();
  {
    std::lock_guard lock(lookup_mu_);
    if (auto it = recent_misses_.find(std::string(ip));
        it != recent_misses_.end() && now - it->second < kNegativeLookupTtl) {
      direct_lookups_.WithLabels({"skipped_recent_miss"}).Inc();
      return Lookup::kNotFound;
    }
    if (!lookup_bucket_.TryTake(now)) {
      direct_lookups_.WithLabels({"rate_limited"}).Inc();
      return Lookup::kSkipped;
    }
  }
  k8s::ListOptions list{.field_selector = "status.podIP=" + std::string(ip)};
  if (!options_.node.empty()) {
    list.field_selector = "spec.nodeName=" + options_.node + "," + list.field_selector;
  }
  auto found = api_.List(k8s::resources::Pods(), "", list);
  if (found && found->items.empty() && !options_.node.empty()) {
    // status.podIP is only a pod's first address: on a dual-stack node the other family's
    // address is found by listing the node's pods and keeping those that list it.
    found =
        api_.List(k8s::resources::Pods(), "", {.field_selector = "spec.nodeName=" + options_.node});
    if (found) {
      std::erase_if(found->items, [&](const k8s::Json& pod) { return !ListsIp(pod, ip); });
    }
  }
  if (!found) {
    direct_lookups_.WithLabels({"error"}).Inc();
    log_.Warn("direct pod lookup failed",
              {{"ip", std::string(ip)}, {"error", found.error().ToString()}});
    return Lookup::kSkipped;
  }
  if (found->items.empty()) {
    direct_lookups_.WithLabels({"not_found"}).Inc();
    std::lock_guard lock(lookup_mu_);
    if (recent_misses_.size() > 4096) {
      recent_misses_.clear();
    }
    recent_misses_[std::string(ip)] = now;
    return Lookup::kNotFound;
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
  return Lookup::kFound;
}

void PodDirectory::Await(std::string_view ip, metadata::SteadyTime deadline,
                         metadata::AwaitCallback done) {
  if (auto caller = Find(ip)) {
    return done({.caller = std::move(caller)});
  }
  if (IsNodeAddress(ip)) {
    unknown_callers_.WithLabels({"node_address"}).Inc();
    return done({});
  }
  if (options_.may_be_pod && !options_.may_be_pod(ip)) {
    unknown_callers_.WithLabels({"outside_pod_cidr"}).Inc();
    return done({});
  }
  const auto now = clock_.SteadyNow();
  bool recent_miss = false;
  {
    std::lock_guard lock(lookup_mu_);
    auto it = recent_misses_.find(std::string(ip));
    recent_miss = it != recent_misses_.end() && now - it->second < kNegativeLookupTtl;
  }
  {
    std::unique_lock lock(wait_mu_);
    // Look again under wait_mu_: Recompute() publishes before it pokes, so a pod published
    // between the look above and here is seen now or by the waiter thread's next round.
    if (auto caller = Find(ip)) {
      lock.unlock();
      return done({.caller = std::move(caller)});
    }
    if (!running_ || stopping_ || now >= deadline) {
      lock.unlock();
      return done({});
    }
    auto& waiting = waiting_[std::string(ip)];
    if (waiter_count_ >= options_.max_waiting ||
        waiting.waiters.size() >= options_.max_waiting_per_ip) {
      if (waiting.waiters.empty()) {
        waiting_.erase(std::string(ip));
      }
      lock.unlock();
      unknown_callers_.WithLabels({"overloaded"}).Inc();
      return done({.overloaded = true});
    }
    // A recent miss only waits the grace for the watch: the apiserver said "nobody" a moment ago.
    const auto grace_end = std::min(deadline, now + options_.watch_grace);
    waiting.waiters.push_back({.deadline = recent_miss ? grace_end : deadline,
                               .lookup_at = recent_miss ? metadata::SteadyTime::max() : grace_end,
                               .done = std::move(done)});
    ++waiter_count_;
    waiting_gauge_.Set(static_cast<double>(waiter_count_));
    dirty_ = true;
  }
  wait_cv_.notify_one();
}

void PodDirectory::WaiterLoop() {
  using Completion = std::pair<metadata::AwaitCallback, metadata::AwaitResult>;
  std::unique_lock lock(wait_mu_);
  while (!stopping_) {
    dirty_ = false;
    const auto now = clock_.SteadyNow();
    auto next = now + kWaiterSlice;
    std::vector<Completion> ready;
    std::vector<std::string> lookups;
    for (auto it = waiting_.begin(); it != waiting_.end();) {
      auto& [ip, w] = *it;
      auto caller = Find(ip);
      if (caller || w.miss) {
        if (!caller) {
          unknown_callers_.WithLabels({"not_found"}).Inc(static_cast<double>(w.waiters.size()));
        }
        for (auto& waiter : w.waiters) {
          ready.emplace_back(std::move(waiter.done), metadata::AwaitResult{.caller = caller});
        }
        waiter_count_ -= w.waiters.size();
        it = waiting_.erase(it);
        continue;
      }
      std::erase_if(w.waiters, [&](Waiter& waiter) {
        if (waiter.deadline > now) {
          return false;
        }
        unknown_callers_.WithLabels({"not_found"}).Inc();
        ready.emplace_back(std::move(waiter.done), metadata::AwaitResult{});
        --waiter_count_;
        return true;
      });
      for (const auto& waiter : w.waiters) {
        next = std::min(next, waiter.deadline);
        if (!w.lookup_requested) {
          if (waiter.lookup_at <= now) {
            w.lookup_requested = true;
            lookups.push_back(ip);
          } else {
            next = std::min(next, waiter.lookup_at);
          }
        }
      }
      it = w.waiters.empty() ? waiting_.erase(it) : std::next(it);
    }
    waiting_gauge_.Set(static_cast<double>(waiter_count_));
    lock.unlock();
    for (auto& [done, result] : ready) {
      done(std::move(result));
    }
    ready.clear();
    if (!lookups.empty()) {
      {
        std::lock_guard queue_lock(lookup_mu_);
        for (auto& ip : lookups) {
          if (lookup_queue_.size() < kMaxLookupQueue) {
            lookup_queue_.push_back(std::move(ip));
          } else {
            direct_lookups_.WithLabels({"queue_full"}).Inc();
          }
        }
      }
      lookup_cv_.notify_one();
    }
    lock.lock();
    if (!dirty_ && !stopping_) {
      auto wait = std::clamp<std::chrono::steady_clock::duration>(
          next - clock_.SteadyNow(), std::chrono::milliseconds(1), kWaiterSlice);
      wait_cv_.wait_for(lock, wait, [this] { return dirty_ || stopping_; });
    }
  }
}

void PodDirectory::LookupLoop() {
  std::unique_lock lock(lookup_mu_);
  while (true) {
    lookup_cv_.wait(lock, [this] { return stopping_ || !lookup_queue_.empty(); });
    if (stopping_) {
      return;
    }
    std::string ip = std::move(lookup_queue_.front());
    lookup_queue_.pop_front();
    lock.unlock();
    // Found: the pod went into the caches and Recompute() poked the waiter thread.
    if (LookUpDirectly(ip) == Lookup::kNotFound) {
      {
        std::lock_guard wait_lock(wait_mu_);
        if (auto it = waiting_.find(ip); it != waiting_.end()) {
          it->second.miss = true;
        }
        dirty_ = true;
      }
      wait_cv_.notify_one();
    }
    lock.lock();
  }
}

}  // namespace podiam::agent
