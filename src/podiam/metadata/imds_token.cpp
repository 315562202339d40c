#include "podiam/metadata/imds_token.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <array>
#include <charconv>

namespace podiam::metadata {
namespace {

constexpr std::size_t kKeyBytes = 32;
constexpr std::size_t kExpiryBytes = 8;
constexpr std::size_t kMacBytes = 24;
constexpr std::string_view kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string EncodeExpiry(std::int64_t seconds) {
  std::string out(kExpiryBytes, '\0');
  auto value = static_cast<std::uint64_t>(seconds);
  for (std::size_t i = 0; i < kExpiryBytes; ++i) {
    out[kExpiryBytes - 1 - i] = static_cast<char>(value & 0xffU);
    value >>= 8U;
  }
  return out;
}

std::int64_t DecodeExpiry(std::string_view bytes) {
  std::uint64_t value = 0;
  for (char c : bytes.substr(0, kExpiryBytes)) {
    value = (value << 8U) | static_cast<unsigned char>(c);
  }
  return static_cast<std::int64_t>(value);
}

int Sextet(char c) {
  auto pos = kAlphabet.find(c);
  return pos == std::string_view::npos ? -1 : static_cast<int>(pos);
}

}  // namespace

std::string Base64UrlEncode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() * 4 + 2) / 3);
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    std::uint32_t n = (static_cast<unsigned char>(bytes[i]) << 16U) |
                      (static_cast<unsigned char>(bytes[i + 1]) << 8U) |
                      static_cast<unsigned char>(bytes[i + 2]);
    out += kAlphabet[(n >> 18U) & 63U];
    out += kAlphabet[(n >> 12U) & 63U];
    out += kAlphabet[(n >> 6U) & 63U];
    out += kAlphabet[n & 63U];
  }
  std::size_t rest = bytes.size() - i;
  if (rest > 0) {
    std::uint32_t n = static_cast<unsigned char>(bytes[i]) << 16U;
    if (rest == 2) {
      n |= static_cast<unsigned char>(bytes[i + 1]) << 8U;
    }
    out += kAlphabet[(n >> 18U) & 63U];
    out += kAlphabet[(n >> 12U) & 63U];
    if (rest == 2) {
      out += kAlphabet[(n >> 6U) & 63U];
    }
  }
  return out;
}

Result<std::string> Base64UrlDecode(std::string_view text) {
  if (text.size() % 4 == 1) {
    return MakeError(ErrorCode::kInvalidArgument, "token has an impossible length");
  }
  std::string out;
  out.reserve(text.size() * 3 / 4);
  std::uint32_t buffer = 0;
  int bits = 0;
  for (char c : text) {
    int v = Sextet(c);
    if (v < 0) {
      return MakeError(ErrorCode::kInvalidArgument, "token is not base64url");
    }
    buffer = (buffer << 6U) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((buffer >> static_cast<unsigned>(bits)) & 0xffU);
    }
  }
  return out;
}

Result<std::unique_ptr<ImdsTokenIssuer>> ImdsTokenIssuer::Create(Random& random,
                                                                 const Clock& clock) {
  std::string key = random.SecureBytes(kKeyBytes);
  if (key.size() != kKeyBytes) {
    return MakeError(ErrorCode::kInternal, "cannot get random bytes for the IMDS token key");
  }
  std::unique_ptr<EVP_MAC, void (*)(EVP_MAC*)> hmac(EVP_MAC_fetch(nullptr, "HMAC", nullptr),
                                                    EVP_MAC_free);
  MacCtx keyed(hmac ? EVP_MAC_CTX_new(hmac.get()) : nullptr, EVP_MAC_CTX_free);
  std::array<char, 7> digest = {'S', 'H', 'A', '2', '5', '6', '\0'};
  std::array<OSSL_PARAM, 2> params = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest.data(), 0),
      OSSL_PARAM_construct_end()};
  if (!keyed || EVP_MAC_init(keyed.get(), reinterpret_cast<const unsigned char*>(key.data()),
                             key.size(), params.data()) != 1) {
    return MakeError(ErrorCode::kInternal, "cannot set up HMAC-SHA256 for IMDS tokens");
  }
  OPENSSL_cleanse(key.data(), key.size());
  return std::unique_ptr<ImdsTokenIssuer>(new ImdsTokenIssuer(std::move(keyed), clock));
}

std::string ImdsTokenIssuer::Mac(std::string_view expiry, std::string_view pod_uid,
                                 std::string_view pod_ip) const {
  MacCtx ctx(EVP_MAC_CTX_dup(keyed_.get()), EVP_MAC_CTX_free);
  if (!ctx) {
    return {};
  }
  constexpr char kNul = '\0';
  for (std::string_view part :
       {expiry, std::string_view(&kNul, 1), pod_uid, std::string_view(&kNul, 1), pod_ip}) {
    if (EVP_MAC_update(ctx.get(), reinterpret_cast<const unsigned char*>(part.data()),
                       part.size()) != 1) {
      return {};
    }
  }
  std::array<unsigned char, EVP_MAX_MD_SIZE> mac{};
  std::size_t length = 0;
  if (EVP_MAC_final(ctx.get(), mac.data(), &length, mac.size()) != 1 || length < kMacBytes) {
    return {};
  }
  return {reinterpret_cast<const char*>(mac.data()), kMacBytes};
}

std::string ImdsTokenIssuer::Issue(std::string_view pod_uid, std::string_view pod_ip,
                                   std::chrono::seconds ttl) const {
  auto expiry =
      std::chrono::duration_cast<std::chrono::seconds>((clock_.Now() + ttl).time_since_epoch())
          .count();
  std::string expiry_bytes = EncodeExpiry(expiry);
  return Base64UrlEncode(expiry_bytes + Mac(expiry_bytes, pod_uid, pod_ip));
}

Result<void> ImdsTokenIssuer::Verify(std::string_view token, std::string_view pod_uid,
                                     std::string_view pod_ip) const {
  auto raw = Base64UrlDecode(token);
  if (!raw || raw->size() != kExpiryBytes + kMacBytes) {
    return MakeError(ErrorCode::kUnauthenticated, "malformed IMDS token");
  }
  std::string_view bytes = *raw;
  std::string expected = Mac(bytes.substr(0, kExpiryBytes), pod_uid, pod_ip);
  if (expected.size() != kMacBytes ||
      CRYPTO_memcmp(expected.data(), bytes.data() + kExpiryBytes, kMacBytes) != 0) {
    return MakeError(ErrorCode::kUnauthenticated, "IMDS token was not issued to this pod");
  }
  auto now = std::chrono::duration_cast<std::chrono::seconds>(clock_.Now().time_since_epoch());
  if (DecodeExpiry(bytes) <= now.count()) {
    return MakeError(ErrorCode::kUnauthenticated, "IMDS token has expired");
  }
  return Ok();
}

Result<int> ParseTokenTtl(std::string_view header) {
  int value = 0;
  auto [ptr, ec] = std::from_chars(header.data(), header.data() + header.size(), value);
  if (header.empty() || ec != std::errc() || ptr != header.data() + header.size() ||
      value < kMinTokenTtlSeconds || value > kMaxTokenTtlSeconds) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "X-aws-ec2-metadata-token-ttl-seconds must be an integer from 1 to 21600");
  }
  return value;
}

}  // namespace podiam::metadata
