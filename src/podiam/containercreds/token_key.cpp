#include "podiam/containercreds/token_key.hpp"

#include <bit>
#include <cstring>

namespace podiam::containercreds {
namespace {

// Little-endian, as SipHash reads its input.
std::uint64_t Load64(const unsigned char* p) {
  std::uint64_t v = 0;
  if constexpr (std::endian::native == std::endian::little) {
    std::memcpy(&v, p, sizeof(v));
  } else {
    for (int i = 7; i >= 0; --i) {
      v = (v << 8U) | p[i];
    }
  }
  return v;
}

struct State {
  std::uint64_t v0, v1, v2, v3;
  void Round() {
    v0 += v1;
    v1 = std::rotl(v1, 13);
    v1 ^= v0;
    v0 = std::rotl(v0, 32);
    v2 += v3;
    v3 = std::rotl(v3, 16);
    v3 ^= v2;
    v0 += v3;
    v3 = std::rotl(v3, 21);
    v3 ^= v0;
    v2 += v1;
    v1 = std::rotl(v1, 17);
    v1 ^= v2;
    v2 = std::rotl(v2, 32);
  }
  void Compress(std::uint64_t m) {
    v3 ^= m;
    Round();
    Round();
    v0 ^= m;
  }
  std::uint64_t Finalize() {
    Round();
    Round();
    Round();
    Round();
    return v0 ^ v1 ^ v2 ^ v3;
  }
};

}  // namespace

TokenHasher::TokenHasher(std::string_view key) {
  unsigned char k[16] = {};
  for (std::size_t i = 0; i < key.size() && i < sizeof(k); ++i) {
    k[i] = static_cast<unsigned char>(key[i]);
  }
  k0_ = Load64(k);
  k1_ = Load64(k + 8);
}

TokenKey TokenHasher::operator()(std::string_view token) const {
  State s{.v0 = 0x736f6d6570736575ULL ^ k0_,
          .v1 = 0x646f72616e646f6dULL ^ k1_ ^ 0xeeULL,  // 0xee: the 128-bit variant
          .v2 = 0x6c7967656e657261ULL ^ k0_,
          .v3 = 0x7465646279746573ULL ^ k1_};
  const auto* p = reinterpret_cast<const unsigned char*>(token.data());
  const std::size_t n = token.size();
  const std::size_t whole = n - n % 8;
  for (std::size_t i = 0; i < whole; i += 8) {
    s.Compress(Load64(p + i));
  }
  std::uint64_t last = static_cast<std::uint64_t>(n) << 56U;
  for (std::size_t i = 0; i < n % 8; ++i) {
    last |= static_cast<std::uint64_t>(p[whole + i]) << (8U * i);
  }
  s.Compress(last);
  s.v2 ^= 0xeeULL;
  TokenKey out;
  out.lo = s.Finalize();
  s.v1 ^= 0xddULL;
  out.hi = s.Finalize();
  return out;
}

void TokenHasher::Bytes(const TokenKey& key, unsigned char out[16]) {
  for (int i = 0; i < 8; ++i) {
    out[i] = static_cast<unsigned char>(key.lo >> (8U * static_cast<unsigned>(i)));
    out[8 + i] = static_cast<unsigned char>(key.hi >> (8U * static_cast<unsigned>(i)));
  }
}

}  // namespace podiam::containercreds
