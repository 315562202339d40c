// Time as a port. Domain code asks a Clock; it never calls std::chrono::*_clock::now() itself, so
// tests drive time with testing::FakeClock.
//
// Thread-safety: implementations are safe to call from any thread.
//
//   void Cache::Refresh(const Clock& clock) { if (clock.Now() > expiry_ - margin_) { ... } }
#pragma once

#include <chrono>

namespace podiam {

class Clock {
 public:
  using WallTime = std::chrono::system_clock::time_point;
  using SteadyTime = std::chrono::steady_clock::time_point;

  virtual ~Clock() = default;
  // Calendar time: credential expiry, SigV4 dates, log timestamps.
  [[nodiscard]] virtual WallTime Now() const = 0;
  // Monotonic time: timeouts, rate limits, durations.
  [[nodiscard]] virtual SteadyTime SteadyNow() const = 0;
};

class SystemClock final : public Clock {
 public:
  [[nodiscard]] WallTime Now() const override { return std::chrono::system_clock::now(); }
  [[nodiscard]] SteadyTime SteadyNow() const override { return std::chrono::steady_clock::now(); }
};

}  // namespace podiam
