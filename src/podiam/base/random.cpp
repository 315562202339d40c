#include "podiam/base/random.hpp"

#include <openssl/rand.h>

namespace podiam {

SystemRandom::SystemRandom() : engine_(std::random_device{}()) {}

double SystemRandom::Uniform01() {
  std::lock_guard lock(mu_);
  return std::uniform_real_distribution<double>(0.0, 1.0)(engine_);
}

std::string SystemRandom::SecureBytes(std::size_t count) {
  std::string out(count, '\0');
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): OpenSSL takes unsigned char*.
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(count)) != 1) {
    return {};
  }
  return out;
}

}  // namespace podiam
