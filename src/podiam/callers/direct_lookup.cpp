#include "podiam/callers/direct_lookup.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "podiam/k8s/resource.hpp"

namespace podiam::callers {
namespace {

// At most this many direct apiserver lookups per second (burst 20).
constexpr double kLookupBurst = 20;
constexpr double kLookupsPerSecond = 10;
// A miss is remembered this long per IP before asking the apiserver again.
constexpr auto kNegativeLookupTtl = std::chrono::seconds(2);
// Remembered misses at most; more clear the memory.
constexpr std::size_t kMaxMisses = 4096;

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

}  // namespace

DirectLookup::DirectLookup(k8s::KubeApi& api, const k8s::PodCache& pods,
                           const k8s::NamespaceCache& namespaces,
                           const k8s::ServiceAccountCache& service_accounts, const Clock& clock,
                           CallerMetrics& metrics, std::string node)
    : api_(api),
      pods_(pods),
      namespaces_(namespaces),
      service_accounts_(service_accounts),
      clock_(clock),
      metrics_(metrics),
      node_(std::move(node)),
      bucket_(kLookupBurst, kLookupsPerSecond, clock.SteadyNow()) {}

bool DirectLookup::RecentMiss(std::string_view ip, Clock::SteadyTime now) {
  std::lock_guard lock(mu_);
  auto it = recent_misses_.find(std::string(ip));
  return it != recent_misses_.end() && now - it->second < kNegativeLookupTtl;
}

Result<std::vector<k8s::Json>> DirectLookup::ListPods(std::string_view ip) {
  k8s::ListOptions list{.field_selector = "status.podIP=" + std::string(ip)};
  if (!node_.empty()) {
    list.field_selector = "spec.nodeName=" + node_ + "," + list.field_selector;
  }
  auto found = api_.List(k8s::resources::Pods(), "", list);
  if (found && found->items.empty() && !node_.empty()) {
    // status.podIP is only a pod's first address: on a dual-stack node the other family's
    // address is found by listing the node's pods and keeping those that list it.
    found = api_.List(k8s::resources::Pods(), "", {.field_selector = "spec.nodeName=" + node_});
    if (found) {
      std::erase_if(found->items, [&](const k8s::Json& pod) { return !ListsIp(pod, ip); });
    }
  }
  if (!found) {
    return tl::unexpected(found.error());
  }
  return std::move(found->items);
}

FoundPod DirectLookup::Complete(const k8s::Json& item) {
  FoundPod out;
  if (auto view = pods_.ViewOf(item)) {
    out.pod = std::make_shared<const k8s::PodView>(std::move(*view));
  } else {
    return out;
  }
  // The namespace and service account may be newer than the informers too.
  const std::string& ns = out.pod->namespace_name;
  out.namespace_view = namespaces_.Namespace(ns);
  if (!out.namespace_view) {
    if (auto got = api_.Get(k8s::resources::Namespaces(), "", ns)) {
      if (auto view = namespaces_.ViewOf(*got)) {
        out.namespace_view = std::make_shared<const k8s::NamespaceView>(std::move(*view));
      }
    }
  }
  const std::string& sa = out.pod->service_account_name;
  if (!sa.empty()) {
    out.service_account = service_accounts_.ServiceAccount(ns, sa);
    if (!out.service_account) {
      if (auto got = api_.Get(k8s::resources::ServiceAccounts(), ns, sa)) {
        if (auto view = service_accounts_.ViewOf(*got)) {
          out.service_account = std::make_shared<const k8s::ServiceAccountView>(std::move(*view));
        }
      }
    }
  }
  return out;
}

LookupResult DirectLookup::LookUp(std::string_view ip) {
  using Status = LookupResult::Status;
  auto now = clock_.SteadyNow();
  {
    std::lock_guard lock(mu_);
    if (auto it = recent_misses_.find(std::string(ip));
        it != recent_misses_.end() && now - it->second < kNegativeLookupTtl) {
      metrics_.direct_lookups.WithLabels({"skipped_recent_miss"}).Inc();
      return {.status = Status::kNotFound};
    }
    if (!bucket_.TryTake(now)) {
      metrics_.direct_lookups.WithLabels({"rate_limited"}).Inc();
      return {.status = Status::kSkipped};
    }
  }
  auto found = ListPods(ip);
  if (!found) {
    metrics_.direct_lookups.WithLabels({"error"}).Inc();
    log_.Warn("direct pod lookup failed",
              {{"ip", std::string(ip)}, {"error", found.error().ToString()}});
    return {.status = Status::kSkipped};
  }
  if (found->empty()) {
    metrics_.direct_lookups.WithLabels({"not_found"}).Inc();
    std::lock_guard lock(mu_);
    if (recent_misses_.size() > kMaxMisses) {
      recent_misses_.clear();
    }
    recent_misses_[std::string(ip)] = now;
    return {.status = Status::kNotFound};
  }
  metrics_.direct_lookups.WithLabels({"found"}).Inc();
  LookupResult result{.status = Status::kFound};
  for (const auto& item : *found) {
    if (FoundPod pod = Complete(item); pod.pod) {
      result.pods.push_back(std::move(pod));
    }
  }
  return result;
}

LookupResult DirectLookup::LookUpPod(std::string_view namespace_name, std::string_view name) {
  using Status = LookupResult::Status;
  {
    std::lock_guard lock(mu_);
    if (!bucket_.TryTake(clock_.SteadyNow())) {
      metrics_.direct_lookups.WithLabels({"rate_limited"}).Inc();
      return {.status = Status::kSkipped};
    }
  }
  auto got = api_.Get(k8s::resources::Pods(), namespace_name, name);
  if (!got) {
    if (got.error().code() == ErrorCode::kNotFound) {
      metrics_.direct_lookups.WithLabels({"not_found"}).Inc();
      return {.status = Status::kNotFound};
    }
    metrics_.direct_lookups.WithLabels({"error"}).Inc();
    log_.Warn("direct pod read failed", {{"pod", fmt::format("{}/{}", namespace_name, name)},
                                         {"error", got.error().ToString()}});
    return {.status = Status::kSkipped};
  }
  FoundPod pod = Complete(*got);
  if (!pod.pod || (!node_.empty() && pod.pod->node_name != node_)) {
    metrics_.direct_lookups.WithLabels({"not_found"}).Inc();
    return {.status = Status::kNotFound};
  }
  metrics_.direct_lookups.WithLabels({"found"}).Inc();
  LookupResult result{.status = Status::kFound};
  result.pods.push_back(std::move(pod));
  return result;
}

}  // namespace podiam::callers
