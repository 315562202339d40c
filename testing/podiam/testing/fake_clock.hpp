// FakeClock: time that moves only when a test says so.
//
// Thread-safety: Advance() and the getters may race safely (atomics), which lets a test thread move
// time while a server thread reads it.
//
//   testing::FakeClock clock;                  // starts at 2026-01-01T00:00:00Z
//   clock.Advance(std::chrono::minutes(31));
#pragma once

#include <atomic>
#include <chrono>

#include "podiam/base/clock.hpp"

namespace podiam::testing {

class FakeClock final : public Clock {
 public:
  // 2026-01-01T00:00:00Z.
  static constexpr std::chrono::seconds kDefaultEpoch{1767225600};

  explicit FakeClock(std::chrono::system_clock::duration since_epoch = kDefaultEpoch)
      : wall_(since_epoch.count()) {}

  [[nodiscard]] WallTime Now() const override {
    return WallTime(std::chrono::system_clock::duration(wall_.load()));
  }
  [[nodiscard]] SteadyTime SteadyNow() const override {
    return SteadyTime(std::chrono::steady_clock::duration(steady_.load()));
  }

  void Advance(std::chrono::nanoseconds by) {
    wall_ += std::chrono::duration_cast<std::chrono::system_clock::duration>(by).count();
    steady_ += std::chrono::duration_cast<std::chrono::steady_clock::duration>(by).count();
  }
  void SetWall(WallTime t) { wall_ = t.time_since_epoch().count(); }

 private:
  std::atomic<std::chrono::system_clock::rep> wall_;
  std::atomic<std::chrono::steady_clock::rep> steady_{0};
};

}  // namespace podiam::testing
