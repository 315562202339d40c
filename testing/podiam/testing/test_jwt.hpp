// Unsigned compact JWTs for the tests and fuzz targets of code that reads a token's claims without
// verifying its signature (containercreds' ParseJwtTimes, DecodeBase64Url): an encoder of its own,
// independent of the code under test, so a round trip through it checks that code.
//
// Thread-safety: pure functions.
//
//   std::string token = testing::UnsignedJwt(R"({"alg":"RS256"})", R"({"exp":2000000600})");
//   std::string part = testing::Base64Url("hello");   // "aGVsbG8"
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace podiam::testing {

// base64url without padding (RFC 4648 §5), as JWS parts are written (RFC 7515 §2).
inline std::string Base64Url(std::string_view bytes) {
  static constexpr std::string_view kChars =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  std::uint32_t acc = 0;
  int bits = 0;
  for (unsigned char c : bytes) {
    acc = ((acc << 8U) | c) & 0xFFFFFFU;  // at most 24 bits are pending
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out += kChars[(acc >> static_cast<unsigned>(bits)) & 0x3FU];
    }
  }
  if (bits > 0) {
    out += kChars[(acc << static_cast<unsigned>(6 - bits)) & 0x3FU];
  }
  return out;
}

// header.payload.signature, each the base64url of the given bytes (the signature is not one).
inline std::string UnsignedJwt(std::string_view header_json, std::string_view claims_json,
                               std::string_view signature = "signature") {
  return Base64Url(header_json) + "." + Base64Url(claims_json) + "." + Base64Url(signature);
}

}  // namespace podiam::testing
