#include "podiam/k8s/pod_cache.hpp"

#include <algorithm>

namespace podiam::k8s {
namespace {

// An index entry: a hash-set node holding a shared_ptr (plus its bucket slot); the per-key
// map entries are counted separately.
constexpr std::size_t kSetEntryBytes = 2 * sizeof(void*) + sizeof(std::shared_ptr<int>) + 8;
constexpr std::size_t kKeyEntryBytes = 2 * sizeof(void*) + sizeof(std::string) + 56 + 8;

std::string ServiceAccountKey(const PodView& pod) {
  return pod.namespace_name + "/" + pod.service_account_name;
}

template <typename Index, typename Ptr>
bool AddTo(Index& index, std::string_view key, const Ptr& pod) {
  auto it = index.find(key);
  if (it == index.end()) {
    it = index.emplace(std::string(key), typename Index::mapped_type()).first;
  }
  return it->second.insert(pod).second;
}

template <typename Index, typename Ptr>
bool RemoveFrom(Index& index, std::string_view key, const Ptr& pod) {
  auto it = index.find(key);
  if (it == index.end()) {
    return false;
  }
  bool erased = it->second.erase(pod) > 0;
  if (it->second.empty()) {
    index.erase(it);
  }
  return erased;
}

}  // namespace

PodCache::PodCache(const PodCacheOptions& options)
    : Cache([keep = AnnotationFilter(options.annotation_keys)](
                const Json& o) { return PodFromJson(o, keep); },
            "Pod"),
      duplicate_ips_(options.duplicate_ips) {}

bool PodCache::OwnsIps(const PodView& pod) { return !pod.host_network && !pod.Terminal(); }

bool PodCache::BetterClaimant(const PodView& a, const PodView& b) {
  if (a.deleting != b.deleting) {
    return !a.deleting;
  }
  if (a.creation_timestamp != b.creation_timestamp) {
    return a.creation_timestamp > b.creation_timestamp;
  }
  if (a.namespace_name != b.namespace_name) {
    return a.namespace_name < b.namespace_name;
  }
  return a.name < b.name;
}

void PodCache::IndexAdd(const Ptr& pod) {
  if (OwnsIps(*pod)) {
    for (const auto& ip : pod->pod_ips) {
      index_entries_ += AddTo(by_ip_, ip, pod) ? 1 : 0;
      auto it = by_ip_.find(ip);
      if (it->second.size() > 1) {
        std::string claimants;
        for (const auto& other : it->second) {
          claimants += (claimants.empty() ? "" : ",") + other->Key() +
                       (other->deleting ? "(terminating)" : "");
        }
        log_.Warn("several pods claim one IP",
                  {{"ip", ip},
                   {"pods", claimants},
                   {"policy",
                    duplicate_ips_ == DuplicateIpPolicy::kRefuse ? "refuse" : "prefer_newest"}});
      }
    }
  }
  if (!pod->service_account_name.empty()) {
    index_entries_ += AddTo(by_service_account_, ServiceAccountKey(*pod), pod) ? 1 : 0;
  }
  index_entries_ += AddTo(by_namespace_, pod->namespace_name, pod) ? 1 : 0;
}

void PodCache::IndexRemove(const Ptr& pod) {
  for (const auto& ip : pod->pod_ips) {
    index_entries_ -= RemoveFrom(by_ip_, ip, pod) ? 1 : 0;
  }
  if (!pod->service_account_name.empty()) {
    index_entries_ -= RemoveFrom(by_service_account_, ServiceAccountKey(*pod), pod) ? 1 : 0;
  }
  index_entries_ -= RemoveFrom(by_namespace_, pod->namespace_name, pod) ? 1 : 0;
}

std::size_t PodCache::IndexBytes() const {
  std::size_t keys = by_ip_.size() + by_service_account_.size() + by_namespace_.size();
  std::size_t buckets =
      by_ip_.bucket_count() + by_service_account_.bucket_count() + by_namespace_.bucket_count();
  return index_entries_ * kSetEntryBytes + keys * kKeyEntryBytes + buckets * sizeof(void*);
}

std::vector<PodCache::Ptr> PodCache::RankedLocked(std::string_view ip) const {
  std::vector<Ptr> out = Members(by_ip_, ip);
  std::sort(out.begin(), out.end(),
            [](const Ptr& a, const Ptr& b) { return BetterClaimant(*a, *b); });
  return out;
}

std::vector<PodCache::Ptr> PodCache::Members(const Index& index, std::string_view key) {
  std::vector<Ptr> out;
  auto it = index.find(key);
  if (it != index.end()) {
    out.assign(it->second.begin(), it->second.end());
  }
  return out;
}

PodCache::Ptr PodCache::PodByIp(std::string_view ip) const {
  auto canonical = CanonicalIp(ip);
  if (!canonical) {
    return nullptr;
  }
  std::shared_lock lock(mu_);
  std::vector<Ptr> ranked = RankedLocked(*canonical);
  if (ranked.empty()) {
    return nullptr;
  }
  if (ranked.size() > 1 && duplicate_ips_ == DuplicateIpPolicy::kRefuse &&
      ranked[0]->deleting == ranked[1]->deleting) {
    return nullptr;  // two claimants of equal standing: refuse to guess
  }
  return ranked.front();
}

std::vector<PodCache::Ptr> PodCache::PodsByIp(std::string_view ip) const {
  auto canonical = CanonicalIp(ip);
  if (!canonical) {
    return {};
  }
  std::shared_lock lock(mu_);
  return RankedLocked(*canonical);
}

std::vector<PodCache::Ptr> PodCache::PodsByServiceAccount(std::string_view namespace_name,
                                                          std::string_view service_account) const {
  std::string key(namespace_name);
  key += '/';
  key += service_account;
  std::shared_lock lock(mu_);
  return Members(by_service_account_, key);
}

std::vector<PodCache::Ptr> PodCache::PodsInNamespace(std::string_view namespace_name) const {
  std::shared_lock lock(mu_);
  return Members(by_namespace_, namespace_name);
}

PodCache::Ptr PodCache::Pod(std::string_view namespace_name, std::string_view name) const {
  std::string key(namespace_name);
  key += '/';
  key += name;
  return Get(key);
}

}  // namespace podiam::k8s
