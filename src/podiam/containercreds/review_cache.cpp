#include "podiam/containercreds/review_cache.hpp"

#include <algorithm>

#include "podiam/aws/sigv4.hpp"

namespace podiam::containercreds {

ReviewCache::ReviewCache(const Clock& clock, ReviewCacheOptions options)
    : clock_(clock), options_(options) {}

std::string ReviewCache::Digest(std::string_view token) { return aws::Sha256Hex(token); }

std::optional<CachedReview> ReviewCache::Get(std::string_view token) {
  std::string key = Digest(token);
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
                              Clock::WallTime exp) {
  auto left = std::chrono::duration_cast<std::chrono::seconds>(exp - clock_.Now());
  auto ttl = std::min(left, options_.max_positive);
  if (ttl <= std::chrono::seconds(0) || !identity) {
    return;
  }
  Entry entry{.review = {.identity = std::move(identity), .error = {}},
              .expires = clock_.SteadyNow() + ttl};
  std::lock_guard lock(mu_);
  InsertLocked(Digest(token), std::move(entry));
}

void ReviewCache::PutNegative(std::string_view token, std::string error) {
  if (options_.negative <= std::chrono::seconds(0)) {
    return;
  }
  Entry entry{.review = {.identity = nullptr, .error = std::move(error)},
              .expires = clock_.SteadyNow() + options_.negative};
  std::lock_guard lock(mu_);
  InsertLocked(Digest(token), std::move(entry));
}

void ReviewCache::InsertLocked(std::string key, Entry entry) {
  if (entries_.size() >= options_.max_entries && !entries_.contains(key)) {
    auto now = clock_.SteadyNow();
    std::vector<std::string> expired;
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
  entries_.emplace(std::move(key), std::move(entry));
}

void ReviewCache::EraseLocked(const std::string& key) {
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
