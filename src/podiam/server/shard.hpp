// Sharding of the server's work across replicas (docs/server.md, "High availability and
// sharding"): who owns a credential key, what that costs in metrics, and the prefetch that only
// keeps owned keys warm.
//
//   KeyOwners        the owner of a key: nullopt when it is this replica (or nobody else is
//                    alive), else the peer; MembershipOwners computes it by rendezvous hashing
//                    over membership::Membership's live members
//   ShardMetrics     podiam_server_members, _owned_keys, _peer_requests_total{result},
//                    _peer_fallbacks_total
//   OwnedPrefetch    PodDirectory's prefetch hook: remembers every pod's spec, Retain()s in the
//                    broker only the keys this replica owns, and on a membership change
//                    (Rebalance) Retain()s the newly owned and Release()s the no longer owned
//
// Thread-safety: every method from any thread (OwnedPrefetch: one mutex; the broker's calls are
// made under it, and the broker never calls back).
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "podiam/creds/credential_broker.hpp"
#include "podiam/creds/credential_key.hpp"
#include "podiam/membership/membership.hpp"
#include "podiam/metrics/registry.hpp"

namespace podiam::server {

class KeyOwners {
 public:
  virtual ~KeyOwners() = default;
  // The peer that owns `key`; nullopt: this replica does.
  [[nodiscard]] virtual std::optional<membership::Member> PeerOwner(
      const creds::CredentialKey& key) const = 0;
};

class MembershipOwners final : public KeyOwners {
 public:
  using Snapshot = std::function<std::shared_ptr<const std::vector<membership::Member>>()>;
  // `members`: sorted live members (Membership::Members); `self`: this replica's identity.
  MembershipOwners(Snapshot members, std::string self)
      : members_(std::move(members)), self_(std::move(self)) {}
  [[nodiscard]] std::optional<membership::Member> PeerOwner(
      const creds::CredentialKey& key) const override;

 private:
  Snapshot members_;
  std::string self_;
};

struct ShardMetrics {
  explicit ShardMetrics(metrics::Registry& registry);
  metrics::Gauge& members;
  metrics::Gauge& owned_keys;
  // result: ok, denied, not_owner, refused, server_error, transport, invalid, no_token.
  metrics::Family<metrics::Counter>& peer_requests;
  metrics::Counter& fallbacks;
  // Answers of this replica's peer endpoint, by HTTP status.
  metrics::Family<metrics::Counter>& peer_answers;  // labels: code
};

class OwnedPrefetch {
 public:
  OwnedPrefetch(creds::CredentialBroker& broker, const KeyOwners& owners, ShardMetrics& metrics)
      : broker_(broker), owners_(owners), metrics_(metrics) {}
  OwnedPrefetch(const OwnedPrefetch&) = delete;
  OwnedPrefetch& operator=(const OwnedPrefetch&) = delete;

  // A pod's request went from `before` to `after` (null: none), as callers::Prefetch::Change.
  void Change(const creds::CredentialSpec* before, const creds::CredentialSpec* after);
  // Ownership may have changed: re-evaluate every known key.
  void Rebalance();
  [[nodiscard]] std::size_t Owned() const;
  [[nodiscard]] std::size_t Known() const;

 private:
  struct KnownKey {
    creds::CredentialSpec spec;  // the latest pod's
    int pods = 0;
    bool retained = false;
  };
  void SetOwnedLocked(KnownKey& known, bool owned);

  creds::CredentialBroker& broker_;
  const KeyOwners& owners_;
  ShardMetrics& metrics_;
  mutable std::mutex mu_;
  std::unordered_map<creds::CredentialKey, KnownKey, creds::CredentialKeyHash> keys_;
  std::size_t owned_ = 0;
};

}  // namespace podiam::server
