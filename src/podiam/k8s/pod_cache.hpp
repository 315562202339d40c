// PodCache: the pods an informer sees (typically those of one node), as PodViews, with the
// indexes podiam's request path needs: by IP, by ServiceAccount, by namespace.
//
// Who owns an IP (PodByIp):
// - hostNetwork pods never do: their IP is the node's.
// - Succeeded and Failed pods never do: the API keeps their podIP while the CNI has already given
//   it to a new pod.
// - A terminating pod (deletionTimestamp set, phase still Running) still does: its containers may
//   still run and its sandbox holds the address until the kubelet has torn it down, so dropping
//   it at deletionTimestamp would leave a running workload unserved during its grace period. It
//   yields, though, to a claimant that is not terminating: the IP can only have been handed out
//   again once the old sandbox is gone, even if the API has not caught up yet.
// - Every address in status.podIPs counts (dual-stack); status.podIP when podIPs is absent.
//   Addresses are canonicalised, so "fd00:0::5" and "fd00::5" are one key.
// - Several remaining claimants are a conflict, logged when it arises. kPreferNewest (default)
//   picks the newest creationTimestamp, then the smallest namespace/name: a new pod can only
//   hold an address after the CNI freed it, so the newest one is almost always the real owner
//   and the stale record is about to be corrected. kRefuse returns nullptr instead, as kube2iam
//   and kiam do; choose it when serving a wrong pod's credentials is worse than serving none.
//
// Thread-safety: as Cache (concurrent readers, one writer).
//
//   k8s::PodCache pods({.annotation_keys = {"iam.amazonaws.com/role"}});
//   k8s::Informer informer(api, pods, metrics, clock, random,
//                          {.resource = k8s::resources::Pods(),
//                           .field_selector = "spec.nodeName=" + node});
//   informer.Start();
//   if (auto pod = pods.PodByIp(peer_ip)) { use(pod->annotations); }
#pragma once

#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "podiam/k8s/cache.hpp"
#include "podiam/k8s/views.hpp"

namespace podiam::k8s {

enum class DuplicateIpPolicy { kPreferNewest, kRefuse };

struct PodCacheOptions {
  std::vector<std::string> annotation_keys;  // exact keys, or prefixes ending in '*'
  DuplicateIpPolicy duplicate_ips = DuplicateIpPolicy::kPreferNewest;
};

class PodCache final : public Cache<PodView> {
 public:
  explicit PodCache(const PodCacheOptions& options = {});

  // The pod that owns `ip` now (rules above), or nullptr.
  [[nodiscard]] Ptr PodByIp(std::string_view ip) const;
  // Every pod eligible to own `ip`, best claimant first.
  [[nodiscard]] std::vector<Ptr> PodsByIp(std::string_view ip) const;
  // Pods of any phase running as namespace/service_account.
  [[nodiscard]] std::vector<Ptr> PodsByServiceAccount(std::string_view namespace_name,
                                                      std::string_view service_account) const;
  [[nodiscard]] std::vector<Ptr> PodsInNamespace(std::string_view namespace_name) const;
  [[nodiscard]] Ptr Pod(std::string_view namespace_name, std::string_view name) const;

  // True if `pod` may own an IP at all (not hostNetwork, not Succeeded/Failed).
  static bool OwnsIps(const PodView& pod);
  // The order claimants of one IP are ranked in: not terminating first, then newest, then key.
  static bool BetterClaimant(const PodView& a, const PodView& b);
  [[nodiscard]] DuplicateIpPolicy duplicate_ips() const { return duplicate_ips_; }

 protected:
  void IndexAdd(const Ptr& pod) override;
  void IndexRemove(const Ptr& pod) override;
  [[nodiscard]] std::size_t IndexBytes() const override;

 private:
  using PtrSet = std::unordered_set<Ptr>;
  using Index = std::unordered_map<std::string, PtrSet, StringHash, std::equal_to<>>;

  [[nodiscard]] std::vector<Ptr> RankedLocked(std::string_view ip) const;
  static std::vector<Ptr> Members(const Index& index, std::string_view key);

  DuplicateIpPolicy duplicate_ips_;
  log::Logger log_{"k8s.pods"};
  Index by_ip_;
  Index by_service_account_;  // "namespace/serviceaccount"
  Index by_namespace_;
  std::size_t index_entries_ = 0;
};

}  // namespace podiam::k8s
