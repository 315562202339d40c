#include "podiam/containercreds/review_cache.hpp"

#include <algorithm>
#include <utility>
#include <vector>

namespace podiam::containercreds {

ReviewCache::ReviewCache(const Clock& clock, ReviewCacheOptions options)
    : clock_(clock), options_(std::move(options)), hasher_(options_.key) {}

std::optional<CachedReview> ReviewCache::Get(std::string_view token) {
  const TokenKey key = hasher_(token);
  auto now = clock_.SteadyNow();
  std::lock_guard lock(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end()) {
    return std::nullopt;
  }
  if (it->second.expires <= now) {
    EraseLocked(key);
    return std::nullopt;
  }
  return it->second.review;
}

void ReviewCache::PutPositive(std::string_view token, std::shared_ptr<const TokenIdentity> identity,
                              const JwtTimes& times) {
  const Clock::WallTime exp{std::chrono::seconds(times.exp)};
  auto left = std::chrono::duration_cast<std::chrono::seconds>(exp - clock_.Now());
  auto ttl = std::min(left, options_.max_positive);
  if (ttl <= std::chrono::seconds(0) || !identity) {
    return;
  }
  Entry entry{.review = {.identity = std::move(identity), .error = {}, .times = times},
              .expires = clock_.SteadyNow() + ttl};
  const TokenKey key = hasher_(token);
  std::lock_guard lock(mu_);
  InsertLocked(key, std::move(entry));
}

void ReviewCache::PutNegative(std::string_view token, std::string error, const JwtTimes& times) {
  if (options_.negative <= std::chrono::seconds(0)) {
    return;
  }
  Entry entry{.review = {.identity = nullptr, .error = std::move(error), .times = times},
              .expires = clock_.SteadyNow() + options_.negative};
  const TokenKey key = hasher_(token);
  std::lock_guard lock(mu_);
  InsertLocked(key, std::move(entry));
}

void ReviewCache::InsertLocked(TokenKey key, Entry entry) {
  if (entries_.size() >= options_.max_entries && !entries_.contains(key)) {
    auto now = clock_.SteadyNow();
    std::vector<TokenKey> expired;
    for (const auto& [k, e] : entries_) {
      if (e.expires <= now) {
        expired.push_back(k);
      }
    }
    for (const auto& k : expired) {
      EraseLocked(k);
    }
    if (entries_.size() >= options_.max_entries) {
      entries_.clear();
      by_pod_.clear();
    }
  }
  EraseLocked(key);
  if (entry.review.identity && !entry.review.identity->pod_uid.empty()) {
    by_pod_[entry.review.identity->pod_uid].insert(key);
  }
  entries_.emplace(key, std::move(entry));
}

void ReviewCache::EraseLocked(const TokenKey& key) {
  auto it = entries_.find(key);
  if (it == entries_.end()) {
    return;
  }
  if (const auto& id = it->second.review.identity; id && !id->pod_uid.empty()) {
    auto pod = by_pod_.find(id->pod_uid);
    if (pod != by_pod_.end()) {
      pod->second.erase(key);
      if (pod->second.empty()) {
        by_pod_.erase(pod);
      }
    }
  }
  entries_.erase(it);
}

std::size_t ReviewCache::InvalidatePod(std::string_view pod_uid) {
  std::lock_guard lock(mu_);
  auto pod = by_pod_.find(std::string(pod_uid));
  if (pod == by_pod_.end()) {
    return 0;
  }
  auto keys = std::move(pod->second);
  by_pod_.erase(pod);
  for (const auto& key : keys) {
    entries_.erase(key);
  }
  return keys.size();
}

std::size_t ReviewCache::Size() const {
  std::lock_guard lock(mu_);
  return entries_.size();
}

}  // namespace podiam::containercreds
