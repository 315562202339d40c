// TokenKey: what the review cache stores a token under instead of the token
// (docs/container-credentials.md, "Caching"): SipHash-2-4 with its 128-bit output (Aumasson and
// Bernstein, "SipHash: a fast short-input PRF", 2012; the reference implementation's 128-bit
// variant) under a random 16-byte key chosen at start-up. A keyed PRF, so nobody without the key
// can produce two tokens with one key (or many tokens in one hash bucket); 128 bits, so an
// accidental collision among the cache's entries is out of reach (about n²/2¹²⁹). Cheap: a
// SHA-256 of a 1.2 KB token cost ~41,000 instructions per request through OpenSSL's EVP, this
// ~5,400 (docs/benchmarks.md, "Container credentials").
//
// Thread-safety: TokenHasher is immutable after construction.
//
//   TokenHasher hasher(random.SecureBytes(16));
//   TokenKey key = hasher(token);
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace podiam::containercreds {

struct TokenKey {
  std::uint64_t lo = 0;
  std::uint64_t hi = 0;
  bool operator==(const TokenKey&) const = default;
};

struct TokenKeyHash {
  std::size_t operator()(const TokenKey& k) const { return static_cast<std::size_t>(k.lo); }
};

class TokenHasher {
 public:
  // The first 16 bytes of `key` (zero-padded when shorter: tests only).
  explicit TokenHasher(std::string_view key);
  TokenKey operator()(std::string_view token) const;

  // The 16 output bytes as the reference implementation writes them (lo, then hi, little-endian).
  static void Bytes(const TokenKey& key, unsigned char out[16]);

 private:
  std::uint64_t k0_ = 0;
  std::uint64_t k1_ = 0;
};

}  // namespace podiam::containercreds
