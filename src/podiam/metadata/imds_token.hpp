// IMDSv2 session tokens that podiam issues itself, one per pod. A token binds the pod's UID and IP
// and an expiry under an HMAC key that lives only in this process, so:
//   - a token leaked from one pod is useless from any other pod or IP (and after an IP is reused);
//   - nothing is stored per token (no memory growth under token floods);
//   - a restart invalidates all tokens; SDKs then get 401 and fetch a new one, as with real IMDS.
// Format: base64url( expiry (8 bytes, big-endian unix seconds) || HMAC-SHA256(key,
// expiry|uid|ip)[0..24] ).
//
// Thread-safety: Issue() and Verify() are safe from any thread (the key is immutable).
//
//   auto issuer = metadata::ImdsTokenIssuer::Create(random, clock);
//   std::string token = issuer->Issue(pod_uid, pod_ip, std::chrono::seconds(21600));
//   Result<void> ok = issuer->Verify(token, pod_uid, pod_ip);   // kUnauthenticated when not valid
#pragma once

#include <openssl/types.h>

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "podiam/base/clock.hpp"
#include "podiam/base/error.hpp"
#include "podiam/base/random.hpp"

namespace podiam::metadata {

inline constexpr int kMinTokenTtlSeconds = 1;
inline constexpr int kMaxTokenTtlSeconds = 21600;

class ImdsTokenIssuer {
 public:
  // Fails only when the OS cannot provide random bytes for the key.
  static Result<std::unique_ptr<ImdsTokenIssuer>> Create(Random& random, const Clock& clock);

  [[nodiscard]] std::string Issue(std::string_view pod_uid, std::string_view pod_ip,
                                  std::chrono::seconds ttl) const;
  [[nodiscard]] Result<void> Verify(std::string_view token, std::string_view pod_uid,
                                    std::string_view pod_ip) const;

 private:
  using MacCtx = std::unique_ptr<EVP_MAC_CTX, void (*)(EVP_MAC_CTX*)>;
  ImdsTokenIssuer(MacCtx keyed, const Clock& clock) : keyed_(std::move(keyed)), clock_(clock) {}
  // The first kMacBytes of HMAC-SHA256(key, expiry NUL pod_uid NUL pod_ip); empty if OpenSSL
  // fails (then nothing verifies).
  [[nodiscard]] std::string Mac(std::string_view expiry, std::string_view pod_uid,
                                std::string_view pod_ip) const;

  // HMAC-SHA256 already keyed, never updated: Mac() works on a copy of it. Every credential
  // request verifies a token, and OpenSSL 3's one-shot HMAC() fetches the algorithm and
  // derives the key pads on every call (about 10 % of the agent's CPU at 5,000 req/s).
  MacCtx keyed_;
  const Clock& clock_;
};

// Parses the X-aws-ec2-metadata-token-ttl-seconds header: an integer in 1..21600, nothing else.
Result<int> ParseTokenTtl(std::string_view header);

std::string Base64UrlEncode(std::string_view bytes);
// Empty optional on any character outside the base64url alphabet or a bad length.
Result<std::string> Base64UrlDecode(std::string_view text);

}  // namespace podiam::metadata
