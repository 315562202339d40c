// ReviewCache: TokenReview answers by token (docs/container-credentials.md, "Caching"), so a pod
// that asks again costs no apiserver call.
//
//   - A positive review is kept until min(the token's exp, now + max_positive) (10 min default):
//     never past the token's own expiry, and a revoked token stops working within that bound.
//   - A negative review (kUnauthenticated) is kept for `negative` (5 s): a flood of one bad token
//     costs one review per period.
//   - Errors (apiserver unreachable) are never stored: the caller does not Put them.
//   - InvalidatePod(uid) drops every review naming that pod: a deleted pod's token is refused at
//     once, not when its entry expires.
// Keys are SHA-256 digests of the token: the cache holds no token. Bounded: past max_entries,
// expired entries go first, then everything (a cache miss only costs a review).
//
// Thread-safety: every method may be called from any thread.
//
//   ReviewCache cache(clock, {});
//   if (auto hit = cache.Get(token)) { ... hit->identity or hit->error ... }
//   cache.PutPositive(token, identity, jwt_exp);
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "podiam/base/clock.hpp"
#include "podiam/containercreds/ports.hpp"

namespace podiam::containercreds {

struct ReviewCacheOptions {
  std::chrono::seconds max_positive = std::chrono::minutes(10);
  std::chrono::seconds negative = std::chrono::seconds(5);
  std::size_t max_entries = 20000;
};

struct CachedReview {
  // Set for a positive review; null for a negative one (then `error` says why).
  std::shared_ptr<const TokenIdentity> identity;
  std::string error;
};

class ReviewCache {
 public:
  ReviewCache(const Clock& clock, ReviewCacheOptions options);

  [[nodiscard]] std::optional<CachedReview> Get(std::string_view token);
  // `exp`: the token's exp claim (wall clock).
  void PutPositive(std::string_view token, std::shared_ptr<const TokenIdentity> identity,
                   Clock::WallTime exp);
  void PutNegative(std::string_view token, std::string error);
  // Drops every positive review naming this pod UID. Returns how many.
  std::size_t InvalidatePod(std::string_view pod_uid);
  [[nodiscard]] std::size_t Size() const;

  // The key a token is stored under (hex SHA-256), exposed for tests.
  static std::string Digest(std::string_view token);

 private:
  struct Entry {
    CachedReview review;
    Clock::SteadyTime expires;
  };
  void InsertLocked(std::string key, Entry entry);
  void EraseLocked(const std::string& key);

  const Clock& clock_;
  ReviewCacheOptions options_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;
  std::unordered_map<std::string, std::unordered_set<std::string>> by_pod_;  // uid -> keys
};

}  // namespace podiam::containercreds
