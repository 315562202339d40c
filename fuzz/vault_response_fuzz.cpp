// Fuzzes the parsers of Vault's JSON answers in vault/response.hpp (login/renew auth block, AWS
// secrets engine secret, token lookup, error bodies).
//
// Input layout (docs/fuzzing.md):
//   bytes 0-1  HTTP status for VaultErrorFromResponse (big-endian, modulo 600)
//   rest       the response body, given to every parser
//
// Invariants: a parsed login has a client token and a lease within 0..10 years; a parsed secret
// has an access key and a secret key, and its session token is the body's session_token or else
// its security_token; a failed parse is kUpstreamInvalid "VaultInvalidResponse" whose message
// echoes nothing of the body; VaultErrorText is bounded, has no JWT, and is deterministic; every
// error from VaultErrorFromResponse has a message and an upstream code of the closed set, sealed
// and 5xx/429 answers are retryable, and nothing retryable is a permission or argument error.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz/fuzz_input.hpp"
#include "podiam/vault/response.hpp"

namespace podiam::vault {
namespace {

constexpr std::int64_t kTenYears = std::int64_t{10} * 365 * 24 * 3600;

template <typename T>
void CheckParseError(const Result<T>& r, std::string_view body) {
  if (r) {
    return;
  }
  FUZZ_CHECK(r.error().code() == ErrorCode::kUpstreamInvalid,
             "parse error is not kUpstreamInvalid");
  FUZZ_CHECK(r.error().upstream_code() == kVaultInvalidResponse, "parse error without its code");
  FUZZ_CHECK(!r.error().message().empty(), "parse error without a message");
  // Fixed messages only: a body (and the keys in it) is never echoed.
  FUZZ_CHECK(r.error().message().size() < 160, "parse error message too long");
  // The fixed messages have no digit and no '{': a body with one is never part of a message.
  if (body.size() >= 24 && body.find_first_of("{0123456789") != std::string_view::npos) {
    FUZZ_CHECK(r.error().message().find(body) == std::string::npos, "parse error echoes the body");
  }
}

bool KnownCode(std::string_view code) {
  for (auto known : {kVaultSealed, kVaultUnavailable, kVaultThrottled, kVaultPermissionDenied,
                     kVaultBadRequest, kVaultNotFound, kVaultAwsError}) {
    if (code == known) {
      return true;
    }
  }
  return false;
}

}  // namespace
}  // namespace podiam::vault

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace podiam::vault;  // NOLINT(google-build-using-namespace)
  using podiam::ErrorCode;
  podiam::fuzz::Input in(data, size);
  int high = in.Byte();
  int status = (high * 256 + in.Byte()) % 600;
  std::string_view body = in.Rest();

  auto login = ParseLoginResponse(body);
  CheckParseError(login, body);
  if (login) {
    FUZZ_CHECK(!login->client_token.empty(), "login without a token");
    FUZZ_CHECK(login->lease_duration >= 0 && login->lease_duration <= kTenYears,
               "login lease out of range");
  }

  auto secret = ParseAwsSecretResponse(body);
  CheckParseError(secret, body);
  if (secret) {
    FUZZ_CHECK(!secret->access_key.empty() && !secret->secret_key.empty(), "secret without keys");
    FUZZ_CHECK(secret->lease_duration >= 0 && secret->lease_duration <= kTenYears,
               "secret lease out of range");
  }

  auto lookup = ParseTokenLookupResponse(body);
  CheckParseError(lookup, body);
  if (lookup) {
    FUZZ_CHECK(lookup->ttl >= 0 && lookup->ttl <= kTenYears, "lookup ttl out of range");
  }

  std::string text = VaultErrorText(body);
  FUZZ_CHECK(text.size() <= 1024, "error text unbounded");
  FUZZ_CHECK(text == VaultErrorText(body), "error text not deterministic");

  podiam::Error e = VaultErrorFromResponse(status, body);
  FUZZ_CHECK(!e.message().empty(), "error without a message");
  FUZZ_CHECK(KnownCode(e.upstream_code()), "error code outside the closed set");
  FUZZ_CHECK(e.code() != ErrorCode::kUpstreamInvalid && e.code() != ErrorCode::kInternal,
             "a Vault error mapped to a parse or internal error");
  if (e.upstream_code() == kVaultSealed || status >= 500 || status == 429) {
    FUZZ_CHECK(e.retryable(), "sealed/5xx/429 must be retryable");
  }
  if (e.retryable()) {
    FUZZ_CHECK(e.code() == ErrorCode::kUnavailable || e.code() == ErrorCode::kResourceExhausted,
               "retryable error of a final kind");
  } else {
    FUZZ_CHECK(status < 500 && status != 429 && status >= 200, "final error for a 5xx/429");
  }
  (void)e.ToString();
  return 0;
}
