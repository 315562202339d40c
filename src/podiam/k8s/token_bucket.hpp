// TokenBucket: at most `burst` actions at once, refilled at `per_second`. Used to keep a hot
// failure from flooding the apiserver with Events.
//
// Thread-safety: none; callers lock.
//
//   k8s::TokenBucket bucket(25, 1.0 / 300, clock.SteadyNow());
//   if (bucket.TryTake(clock.SteadyNow())) { send(); }
#pragma once

#include <algorithm>
#include <chrono>

#include "podiam/base/clock.hpp"

namespace podiam::k8s {

class TokenBucket {
 public:
  TokenBucket(double burst, double per_second, Clock::SteadyTime now)
      : burst_(burst), per_second_(per_second), tokens_(burst), last_(now) {}

  [[nodiscard]] bool Available(Clock::SteadyTime now) {
    Refill(now);
    return tokens_ >= 1.0;
  }
  bool TryTake(Clock::SteadyTime now) {
    if (!Available(now)) {
      return false;
    }
    tokens_ -= 1.0;
    return true;
  }
  // Full again: forgetting this bucket changes nothing.
  [[nodiscard]] bool Full(Clock::SteadyTime now) {
    Refill(now);
    return tokens_ >= burst_;
  }

 private:
  void Refill(Clock::SteadyTime now) {
    if (now > last_) {
      tokens_ = std::min(
          burst_, tokens_ + std::chrono::duration<double>(now - last_).count() * per_second_);
      last_ = now;
    }
  }

  double burst_;
  double per_second_;
  double tokens_;
  Clock::SteadyTime last_;
};

}  // namespace podiam::k8s
