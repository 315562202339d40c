// FakeRandom: deterministic randomness. Uniform01 returns a fixed value (default 0.5) and
// SecureBytes returns a counter pattern, so jittered delays and tokens are predictable in tests.
//
// Thread-safety: not thread-safe.
#pragma once

#include <string>

#include "podiam/base/random.hpp"

namespace podiam::testing {

class FakeRandom final : public Random {
 public:
  explicit FakeRandom(double value = 0.5) : value_(value) {}
  double Uniform01() override { return value_; }
  std::string SecureBytes(std::size_t count) override {
    std::string out(count, '\0');
    for (auto& c : out) {
      c = static_cast<char>(counter_++);
    }
    return out;
  }
  void set_value(double value) { value_ = value; }

 private:
  double value_;
  unsigned char counter_ = 0;
};

}  // namespace podiam::testing
