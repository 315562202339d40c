#include "podiam/vault/response.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "podiam/base/log.hpp"

namespace podiam::vault {
namespace {

using nlohmann::json;

// Vault's error texts are short; bound what goes into messages and logs.
constexpr std::size_t kMaxErrorText = 512;
// Longer than any lease Vault grants (its max_lease_ttl tops out at years, not centuries).
constexpr std::int64_t kMaxLeaseSeconds = std::int64_t{10} * 365 * 24 * 3600;

tl::unexpected<Error> Invalid(std::string_view what) {
  return MakeError(ErrorCode::kUpstreamInvalid, fmt::format("Vault answered {}", what),
                   std::string(kVaultInvalidResponse));
}

std::optional<json> ParseObject(std::string_view body) {
  json doc = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) {
    return std::nullopt;
  }
  return doc;
}

// The member `key` of `object` when it is a string (absent or null: "").
std::optional<std::string> StringMember(const json& object, const char* key) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) {
    return std::string();
  }
  if (!it->is_string()) {
    return std::nullopt;
  }
  return it->get<std::string>();
}

// A duration in whole seconds: a non-negative integer within reason (absent or null: 0).
std::optional<std::int64_t> SecondsMember(const json& object, const char* key) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) {
    return std::int64_t{0};
  }
  if (it->is_number_unsigned()) {
    auto value = it->get<std::uint64_t>();
    if (value > static_cast<std::uint64_t>(kMaxLeaseSeconds)) {
      return std::nullopt;
    }
    return static_cast<std::int64_t>(value);
  }
  if (it->is_number_integer()) {
    auto value = it->get<std::int64_t>();
    if (value < 0 || value > kMaxLeaseSeconds) {
      return std::nullopt;
    }
    return value;
  }
  return std::nullopt;
}

bool BoolMember(const json& object, const char* key) {
  auto it = object.find(key);
  return it != object.end() && it->is_boolean() && it->get<bool>();
}

std::string Lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

}  // namespace

Result<AuthToken> ParseLoginResponse(std::string_view body) {
  auto doc = ParseObject(body);
  if (!doc) {
    return Invalid("a login with a body that is not a JSON object");
  }
  auto auth = doc->find("auth");
  if (auth == doc->end() || !auth->is_object()) {
    return Invalid("a login without an \"auth\" object");
  }
  AuthToken token;
  auto client_token = StringMember(*auth, "client_token");
  auto accessor = StringMember(*auth, "accessor");
  auto lease = SecondsMember(*auth, "lease_duration");
  if (!client_token || client_token->empty()) {
    return Invalid("a login without auth.client_token");
  }
  if (!accessor || !lease) {
    return Invalid("a login with a malformed auth.accessor or auth.lease_duration");
  }
  token.client_token = std::move(*client_token);
  token.accessor = std::move(*accessor);
  token.lease_duration = *lease;
  token.renewable = BoolMember(*auth, "renewable");
  return token;
}

Result<AwsSecret> ParseAwsSecretResponse(std::string_view body) {
  auto doc = ParseObject(body);
  if (!doc) {
    return Invalid("a secret with a body that is not a JSON object");
  }
  auto data = doc->find("data");
  if (data == doc->end() || !data->is_object()) {
    return Invalid("a secret without a \"data\" object");
  }
  auto access_key = StringMember(*data, "access_key");
  auto secret_key = StringMember(*data, "secret_key");
  auto session_token = StringMember(*data, "session_token");
  auto security_token = StringMember(*data, "security_token");
  auto arn = StringMember(*data, "arn");
  auto lease_id = StringMember(*doc, "lease_id");
  auto lease = SecondsMember(*doc, "lease_duration");
  if (!access_key || access_key->empty() || !secret_key || secret_key->empty()) {
    return Invalid("a secret without data.access_key or data.secret_key");
  }
  if (!session_token || !security_token || !arn || !lease_id || !lease) {
    return Invalid(
        "a secret with a malformed session_token, security_token, arn, lease_id or "
        "lease_duration");
  }
  AwsSecret secret;
  secret.access_key = std::move(*access_key);
  secret.secret_key = std::move(*secret_key);
  secret.session_token =
      !session_token->empty() ? std::move(*session_token) : std::move(*security_token);
  secret.arn = std::move(*arn);
  secret.lease_id = std::move(*lease_id);
  secret.lease_duration = *lease;
  secret.renewable = BoolMember(*doc, "renewable");
  return secret;
}

Result<TokenInfo> ParseTokenLookupResponse(std::string_view body) {
  auto doc = ParseObject(body);
  if (!doc) {
    return Invalid("a token lookup with a body that is not a JSON object");
  }
  auto data = doc->find("data");
  if (data == doc->end() || !data->is_object()) {
    return Invalid("a token lookup without a \"data\" object");
  }
  auto ttl = SecondsMember(*data, "ttl");
  if (!ttl) {
    return Invalid("a token lookup with a malformed data.ttl");
  }
  return TokenInfo{.ttl = *ttl, .renewable = BoolMember(*data, "renewable")};
}

std::string VaultErrorText(std::string_view body) {
  auto doc = ParseObject(body);
  if (!doc) {
    return {};
  }
  auto errors = doc->find("errors");
  if (errors == doc->end() || !errors->is_array()) {
    return {};
  }
  std::string text;
  for (const auto& e : *errors) {
    if (!e.is_string() || e.get_ref<const std::string&>().empty()) {
      continue;
    }
    if (!text.empty()) {
      text += "; ";
    }
    text += e.get_ref<const std::string&>();
    if (text.size() > kMaxErrorText) {
      break;
    }
  }
  if (text.size() > kMaxErrorText) {
    text.resize(kMaxErrorText);
    text += "...";
  }
  return log::Scrub(text);
}

Error VaultErrorFromResponse(int status, std::string_view body) {
  std::string text = VaultErrorText(body);
  std::string lower = Lower(text);
  std::string reason =
      text.empty() ? fmt::format("HTTP {}", status) : fmt::format("HTTP {}: {}", status, text);
  if (lower.find("vault is sealed") != std::string::npos) {
    return {ErrorCode::kUnavailable, "Vault is sealed (" + reason + ")", std::string(kVaultSealed),
            /*retryable=*/true};
  }
  if (status == 429) {
    return {ErrorCode::kResourceExhausted, "Vault is rate limiting (" + reason + ")",
            std::string(kVaultThrottled), /*retryable=*/true};
  }
  if (status >= 500 || status < 200) {
    return {ErrorCode::kUnavailable, "Vault failed (" + reason + ")",
            std::string(kVaultUnavailable), /*retryable=*/true};
  }
  // The AWS secrets engine reports a failed STS/IAM call as 400 "Error assuming role: ..." /
  // "Error generating STS keys: ...": AWS said no (AccessDenied: not retryable) or AWS failed.
  if (lower.starts_with("error assuming role") || lower.starts_with("error generating sts keys") ||
      lower.starts_with("error creating iam user")) {
    bool denied = lower.find("accessdenied") != std::string::npos ||
                  lower.find("not authorized") != std::string::npos;
    return {denied ? ErrorCode::kPermissionDenied : ErrorCode::kUnavailable,
            "Vault's call to AWS failed (" + reason + ")", std::string(kVaultAwsError),
            /*retryable=*/!denied};
  }
  if (status == 403) {
    return {ErrorCode::kPermissionDenied, "Vault denied the request (" + reason + ")",
            std::string(kVaultPermissionDenied)};
  }
  if (status == 404) {
    return {ErrorCode::kNotFound, "Vault has nothing at that path (" + reason + ")",
            std::string(kVaultNotFound)};
  }
  if (status == 401) {
    return {ErrorCode::kUnauthenticated, "Vault refused the credentials (" + reason + ")",
            std::string(kVaultPermissionDenied)};
  }
  return {ErrorCode::kInvalidArgument, "Vault refused the request (" + reason + ")",
          std::string(kVaultBadRequest)};
}

}  // namespace podiam::vault
