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
// Keys are keyed 128-bit SipHash digests of the token (token_key.hpp): the cache holds no token.
// Each entry keeps the token's exp/nbf as parsed when it was stored, so a hit needs no JWT
// decoding: the same bytes (same key) have the same claims. Bounded: past max_entries, expired
// entries go first, then everything (a cache miss only costs a review).
//
// Thread-safety: every method may be called from any thread.
//
//   ReviewCache cache(clock, {});
//   if (auto hit = cache.Get(token)) { ... hit->times, hit->identity or hit->error ... }
//   cache.PutPositive(token, identity, times);   // times: ParseJwtTimes(token)
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
#include "podiam/containercreds/request.hpp"
#include "podiam/containercreds/token_key.hpp"

namespace podiam::containercreds {

struct ReviewCacheOptions {
  std::chrono::seconds max_positive = std::chrono::minutes(10);
  std::chrono::seconds negative = std::chrono::seconds(5);
  std::size_t max_entries = 20000;
  // The SipHash key (16 bytes, from Random::SecureBytes). Empty: all zero (tests only: anyone
  // could then compute keys, e.g. to fill one hash bucket).
  std::string key;
};

struct CachedReview {
  // Set for a positive review; null for a negative one (then `error` says why).
  std::shared_ptr<const TokenIdentity> identity;
  std::string error;
  // The token's time claims, as parsed when the review was stored.
  JwtTimes times;
};

class ReviewCache {
 public:
  ReviewCache(const Clock& clock, ReviewCacheOptions options);

  [[nodiscard]] std::optional<CachedReview> Get(std::string_view token);
  // `times`: the token's claims (ParseJwtTimes); kept until min(exp, now + max_positive).
  void PutPositive(std::string_view token, std::shared_ptr<const TokenIdentity> identity,
                   const JwtTimes& times);
  void PutNegative(std::string_view token, std::string error, const JwtTimes& times);
  // Drops every positive review naming this pod UID. Returns how many.
  std::size_t InvalidatePod(std::string_view pod_uid);
  [[nodiscard]] std::size_t Size() const;

  // The key a token is stored under, exposed for tests.
  [[nodiscard]] TokenKey KeyOf(std::string_view token) const { return hasher_(token); }

 private:
  struct Entry {
    CachedReview review;
    Clock::SteadyTime expires;
  };
  void InsertLocked(TokenKey key, Entry entry);
  void EraseLocked(const TokenKey& key);

  const Clock& clock_;
  ReviewCacheOptions options_;
  TokenHasher hasher_;
  mutable std::mutex mu_;
  std::unordered_map<TokenKey, Entry, TokenKeyHash> entries_;
  std::unordered_map<std::string, std::unordered_set<TokenKey, TokenKeyHash>> by_pod_;  // uid
};

}  // namespace podiam::containercreds
