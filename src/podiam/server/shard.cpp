#include "podiam/server/shard.hpp"

#include "podiam/membership/rendezvous.hpp"

namespace podiam::server {

std::optional<membership::Member> MembershipOwners::PeerOwner(
    const creds::CredentialKey& key) const {
  auto members = members_();
  if (!members || members->size() < 2) {
    return std::nullopt;
  }
  std::vector<std::string> ids;
  ids.reserve(members->size());
  for (const auto& m : *members) {
    ids.push_back(m.identity);
  }
  std::size_t owner = membership::OwnerIndex(ids, membership::KeyHash(key));
  if (owner >= ids.size() || ids[owner] == self_) {
    return std::nullopt;
  }
  return (*members)[owner];
}

ShardMetrics::ShardMetrics(metrics::Registry& registry)
    : members(registry
                  .AddGauge("podiam_server_members",
                            "Live podiam server replicas in this replica's view, itself included.",
                            {})
                  .Get()),
      owned_keys(registry
                     .AddGauge("podiam_server_owned_keys",
                               "Credential keys this replica owns and prefetches.", {})
                     .Get()),
      peer_requests(registry.AddCounter(
          "podiam_server_peer_requests_total",
          "Credentials asked of the owning replica instead of STS, by result.", {"result"})),
      fallbacks(registry
                    .AddCounter("podiam_server_peer_fallbacks_total",
                                "Fetches that went to STS because the owning replica did not "
                                "answer (unreachable, 5xx, timeout).",
                                {})
                    .Get()),
      peer_answers(registry.AddCounter("podiam_server_peer_answers_total",
                                       "Peers' credential requests answered, by HTTP status.",
                                       {"code"})) {}

void OwnedPrefetch::SetOwnedLocked(KnownKey& known, bool owned) {
  if (owned == known.retained) {
    return;
  }
  known.retained = owned;
  if (owned) {
    broker_.Retain(known.spec);
    ++owned_;
  } else {
    broker_.Release(known.spec.key);
    --owned_;
  }
  metrics_.owned_keys.Set(static_cast<double>(owned_));
}

void OwnedPrefetch::Change(const creds::CredentialSpec* before,
                           const creds::CredentialSpec* after) {
  std::lock_guard lock(mu_);
  if (after != nullptr) {
    auto [it, added] = keys_.try_emplace(after->key, KnownKey{.spec = *after});
    KnownKey& known = it->second;
    ++known.pods;
    if (!added) {
      known.spec = *after;
    }
    SetOwnedLocked(known, !owners_.PeerOwner(after->key).has_value());
  }
  if (before != nullptr) {
    auto it = keys_.find(before->key);
    if (it != keys_.end() && --it->second.pods <= 0) {
      SetOwnedLocked(it->second, false);
      keys_.erase(it);
    }
  }
}

void OwnedPrefetch::Rebalance() {
  std::lock_guard lock(mu_);
  for (auto& [key, known] : keys_) {
    SetOwnedLocked(known, !owners_.PeerOwner(key).has_value());
  }
}

std::size_t OwnedPrefetch::Owned() const {
  std::lock_guard lock(mu_);
  return owned_;
}

std::size_t OwnedPrefetch::Known() const {
  std::lock_guard lock(mu_);
  return keys_.size();
}

}  // namespace podiam::server
