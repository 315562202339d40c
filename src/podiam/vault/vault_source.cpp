#include "podiam/vault/vault_source.hpp"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "podiam/aws/arn.hpp"
#include "podiam/vault/response.hpp"

namespace podiam::vault {
namespace {

constexpr std::size_t kMaxVaultName = 128;

bool NameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::string_view("_.@=+,-").find(c) != std::string_view::npos;
}

}  // namespace

std::optional<CredentialType> ParseCredentialType(std::string_view text) {
  if (text == "assumed_role") {
    return CredentialType::kAssumedRole;
  }
  if (text == "federation_token") {
    return CredentialType::kFederationToken;
  }
  if (text == "iam_user") {
    return CredentialType::kIamUser;
  }
  return std::nullopt;
}

std::string_view CredentialTypeName(CredentialType type) {
  switch (type) {
    case CredentialType::kAssumedRole:
      return "assumed_role";
    case CredentialType::kFederationToken:
      return "federation_token";
    case CredentialType::kIamUser:
      return "iam_user";
  }
  return "assumed_role";
}

bool ValidVaultName(std::string_view name, bool allow_slash) {
  if (name.empty() || name.size() > kMaxVaultName || name.front() == '/' || name.back() == '/' ||
      name.find("//") != std::string_view::npos) {
    return false;
  }
  for (char c : name) {
    if (!NameChar(c) && !(allow_slash && c == '/')) {
      return false;
    }
  }
  // No "." or ".." segments: they would change the path the request goes to.
  std::size_t start = 0;
  while (start <= name.size()) {
    auto end = name.find('/', start);
    auto segment = name.substr(start, end == std::string_view::npos ? end : end - start);
    if (segment == "." || segment == "..") {
      return false;
    }
    if (end == std::string_view::npos) {
      break;
    }
    start = end + 1;
  }
  return true;
}

Result<std::map<std::string, std::string>> ParseRoleMap(const std::vector<std::string>& entries) {
  std::map<std::string, std::string> map;
  for (const auto& entry : entries) {
    auto eq = entry.rfind('=');
    if (eq == std::string::npos) {
      return MakeError(ErrorCode::kInvalidArgument,
                       fmt::format("--vault-role-map '{}': want ARN=NAME", entry));
    }
    std::string arn = entry.substr(0, eq);
    std::string name = entry.substr(eq + 1);
    if (auto role = aws::ParseRoleArn(arn); !role) {
      return MakeError(ErrorCode::kInvalidArgument,
                       fmt::format("--vault-role-map '{}': {}", entry, role.error().message()));
    }
    if (!ValidVaultName(name, /*allow_slash=*/false)) {
      return MakeError(ErrorCode::kInvalidArgument,
                       fmt::format("--vault-role-map '{}': the Vault role name must be 1-128 of "
                                   "[A-Za-z0-9_.@=+,-]",
                                   entry));
    }
    if (!map.emplace(arn, name).second) {
      return MakeError(ErrorCode::kInvalidArgument,
                       fmt::format("--vault-role-map: {} is mapped twice", arn));
    }
  }
  return map;
}

VaultSource::VaultSource(VaultClient& client, const Clock& clock, VaultSourceOptions options)
    : client_(client), clock_(clock), options_(std::move(options)) {}

Result<std::string> VaultSource::VaultRoleFor(std::string_view role_arn) const {
  if (auto it = options_.role_map.find(std::string(role_arn)); it != options_.role_map.end()) {
    return it->second;
  }
  auto role = aws::ParseRoleArn(role_arn);
  if (!role) {
    return tl::unexpected(role.error());
  }
  if (!ValidVaultName(role->name, /*allow_slash=*/false)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     fmt::format("role name '{}' cannot be a Vault role name; map it with "
                                 "--vault-role-map",
                                 role->name));
  }
  return role->name;
}

Result<aws::AssumeRoleResult> VaultSource::Fetch(const creds::CredentialSpec& spec,
                                                 int default_duration_seconds) {
  const creds::CredentialKey& key = spec.key;
  const std::string& role_arn = key.target_role_arn.empty() ? key.role_arn : key.target_role_arn;
  auto name = VaultRoleFor(role_arn);
  if (!name) {
    return tl::unexpected(name.error().Wrap(fmt::format("Vault role for {}", role_arn)));
  }
  if (!key.session_policy.empty()) {
    return MakeError(ErrorCode::kFailedPrecondition,
                     fmt::format("a session policy for {} cannot be applied through Vault's AWS "
                                 "secrets engine (credential source vault); refusing rather than "
                                 "serving credentials without it",
                                 role_arn));
  }
  const int duration = key.duration_seconds.value_or(default_duration_seconds);
  const auto type = options_.credential_type;
  Result<std::string> body;
  if (type == CredentialType::kIamUser) {
    body = client_.Call("creds", "GET", fmt::format("{}/creds/{}", options_.aws_mount, *name));
  } else {
    nlohmann::json request = {{"ttl", fmt::format("{}s", duration)}};
    if (type == CredentialType::kAssumedRole) {
      request["role_arn"] = role_arn;
      if (!key.session_name.empty()) {
        request["role_session_name"] = key.session_name;
      }
    }
    body = client_.Call("sts", "POST", fmt::format("{}/sts/{}", options_.aws_mount, *name),
                        request.dump());
  }
  Result<AwsSecret> secret = body ? ParseAwsSecretResponse(*body) : tl::unexpected(body.error());
  if (!secret) {
    return tl::unexpected(
        secret.error().Wrap(fmt::format("Vault AWS role '{}' for {}", *name, role_arn)));
  }
  const auto now = clock_.Now();
  const std::int64_t lease = secret->lease_duration > 0 ? secret->lease_duration : duration;
  aws::AssumeRoleResult result;
  result.credentials = {
      .access_key_id = std::move(secret->access_key),
      .secret_access_key = std::move(secret->secret_key),
      .session_token = std::move(secret->session_token),
      .expiration = now + std::chrono::seconds(lease),
      .source = fmt::format("vault {}/{}/{}", options_.aws_mount,
                            type == CredentialType::kIamUser ? "creds" : "sts", *name)};
  result.assumed_role_user.arn = std::move(secret->arn);
  if (type == CredentialType::kIamUser && !secret->lease_id.empty()) {
    KeepLease(secret->lease_id, *result.credentials.expiration);
  }
  return result;
}

void VaultSource::KeepLease(const std::string& lease_id, Clock::WallTime expires) {
  const auto now = clock_.Now();
  std::lock_guard lock(mu_);
  std::erase_if(leases_, [now](const auto& lease) { return lease.second <= now; });
  leases_[lease_id] = expires;
}

std::size_t VaultSource::lease_count() const {
  std::lock_guard lock(mu_);
  return leases_.size();
}

std::size_t VaultSource::RevokeLeases() {
  std::map<std::string, Clock::WallTime> leases;
  {
    std::lock_guard lock(mu_);
    leases.swap(leases_);
  }
  const auto now = clock_.Now();
  std::size_t revoked = 0;
  for (const auto& [lease_id, expires] : leases) {
    if (expires <= now) {
      continue;
    }
    nlohmann::json request = {{"lease_id", lease_id}};
    if (auto ok = client_.Call("revoke", "PUT", "sys/leases/revoke", request.dump()); !ok) {
      log_.Warn("cannot revoke a Vault lease",
                {{"lease_id", lease_id}, {"error", ok.error().ToString()}});
      continue;
    }
    ++revoked;
  }
  return revoked;
}

}  // namespace podiam::vault
