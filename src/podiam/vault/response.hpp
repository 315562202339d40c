// Vault's JSON answers as values: the login (auth) block, an AWS secrets engine secret, a token
// lookup, and the error body every non-2xx answer carries. Pure functions over untrusted bytes
// (fuzzed: fuzz/vault_response_fuzz.cpp). The wire shapes are described in docs/vault.md
// ("Wire protocol").
//
// Errors: a 2xx body that is not what is expected -> kUpstreamInvalid (upstream code
// "VaultInvalidResponse"). VaultErrorFromResponse maps a status and body to podiam's error kinds
// (docs/vault.md, "Error mapping"): sealed/5xx -> retryable kUnavailable, 429 -> retryable
// kResourceExhausted, 403 -> kPermissionDenied, 400/404 -> not retryable with Vault's reason.
// Messages never contain a token or a key: only Vault's own error strings, scrubbed.
//
// Thread-safety: pure functions.
//
//   auto token = vault::ParseLoginResponse(response.body);   // {"auth":{"client_token":...}}
//   auto secret = vault::ParseAwsSecretResponse(response.body);
//   Error e = vault::VaultErrorFromResponse(response.status, response.body);
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "podiam/base/error.hpp"

namespace podiam::vault {

// Upstream codes podiam gives Vault's failures (labels of podiam_vault_requests_total too).
inline constexpr std::string_view kVaultSealed = "VaultSealed";
inline constexpr std::string_view kVaultUnavailable = "VaultUnavailable";
inline constexpr std::string_view kVaultThrottled = "VaultThrottled";
inline constexpr std::string_view kVaultPermissionDenied = "VaultPermissionDenied";
inline constexpr std::string_view kVaultBadRequest = "VaultBadRequest";
inline constexpr std::string_view kVaultNotFound = "VaultNotFound";
inline constexpr std::string_view kVaultAwsError = "VaultAwsError";
inline constexpr std::string_view kVaultInvalidResponse = "VaultInvalidResponse";

// The "auth" block of a login or renew-self answer.
struct AuthToken {
  std::string client_token;         // a secret: never logged
  std::string accessor;             // not a secret (it cannot be used to authenticate)
  std::int64_t lease_duration = 0;  // seconds; 0 for a token that never expires (root)
  bool renewable = false;
};

// The "data" of aws/sts/ROLE or aws/creds/ROLE, with the lease around it.
struct AwsSecret {
  std::string access_key;
  std::string secret_key;           // a secret
  std::string session_token;        // "session_token" or, older Vaults, "security_token"; empty for
                                    // iam_user credentials
  std::string arn;                  // the assumed role's session ARN when Vault gives it
  std::string lease_id;             // for revocation (iam_user); may be empty
  std::int64_t lease_duration = 0;  // seconds
  bool renewable = false;
};

// The "data" of auth/token/lookup-self that podiam reads.
struct TokenInfo {
  std::int64_t ttl = 0;  // seconds left; 0 for a token that never expires
  bool renewable = false;
};

Result<AuthToken> ParseLoginResponse(std::string_view body);
Result<AwsSecret> ParseAwsSecretResponse(std::string_view body);
Result<TokenInfo> ParseTokenLookupResponse(std::string_view body);

// The "errors" strings of an error body joined with "; " (bounded, scrubbed), or "" when the body
// has none.
std::string VaultErrorText(std::string_view body);

// The error for a non-2xx answer.
Error VaultErrorFromResponse(int status, std::string_view body);

}  // namespace podiam::vault
