// Randomness as a port: jitter, IMDS tokens, request ids. Tests inject a seeded or scripted source.
//
// Thread-safety: SystemRandom is safe from any thread (it locks); fakes are not.
//
//   auto delay = backoff * random.Uniform01();
#pragma once

#include <cstdint>
#include <mutex>
#include <random>
#include <string>

namespace podiam {

class Random {
 public:
  virtual ~Random() = default;
  // Uniform in [0, 1).
  virtual double Uniform01() = 0;
  // Cryptographically strong bytes (tokens). Returns an empty string only if the OS fails.
  virtual std::string SecureBytes(std::size_t count) = 0;
};

// Jitter from a mutex-guarded Mersenne twister seeded from the OS; secure bytes from OpenSSL.
class SystemRandom final : public Random {
 public:
  SystemRandom();
  double Uniform01() override;
  std::string SecureBytes(std::size_t count) override;

 private:
  std::mutex mu_;
  std::mt19937_64 engine_;
};

}  // namespace podiam
