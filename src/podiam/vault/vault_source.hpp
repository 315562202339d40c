// VaultSource: a creds::CredentialSource that gets a pod's AWS credentials from Vault's AWS
// secrets engine instead of calling STS with podiam's own credentials (docs/vault.md).
//
// - The pod's IAM role (the target role when the spec chains) names a Vault AWS role: the
//   explicit map (--vault-role-map ARN=NAME) first, else the naming rule: the role's name, the
//   last segment of its ARN ("arn:aws:iam::1:role/team/app" -> "app").
// - assumed_role and federation_token: POST /v1/<mount>/sts/<name> with {"ttl": "<duration>s"};
//   for assumed_role also "role_arn" (Vault refuses an ARN the Vault role does not allow, so a
//   mapping mistake cannot hand out another role) and "role_session_name" (the same session name
//   STS would see). iam_user: GET /v1/<mount>/creds/<name>; its lease is kept for revocation.
// - The expiration is now + the lease Vault granted.
// - Session policies cannot be passed through Vault: a spec with one is refused (non-retryable
//   kFailedPrecondition) rather than served with more rights than it asked for. Session tags,
//   SourceIdentity and external IDs are the Vault role's business and are not sent.
//
// Thread-safety: Fetch() from many threads at once (VaultClient is thread-safe; the lease list
// has its own lock).
//
//   vault::VaultSource source(client, clock, {.aws_mount = "aws"});
//   creds::CredentialBroker broker(source, clock, random, registry, options);
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "podiam/base/clock.hpp"
#include "podiam/creds/credential_source.hpp"
#include "podiam/vault/client.hpp"

namespace podiam::vault {

enum class CredentialType { kAssumedRole, kFederationToken, kIamUser };

// "assumed_role", "federation_token", "iam_user" (Vault's names).
std::optional<CredentialType> ParseCredentialType(std::string_view text);
std::string_view CredentialTypeName(CredentialType type);

// --vault-role-map entries "ARN=NAME" -> map. kInvalidArgument naming the entry for a missing
// '=', an ARN that is not an IAM role ARN, a name Vault cannot have in a path, or a duplicate ARN.
Result<std::map<std::string, std::string>> ParseRoleMap(const std::vector<std::string>& entries);

// Whether `name` may be a Vault mount or role name in podiam's URLs: 1-128 of [A-Za-z0-9_.@=+,-]
// and, for mounts, '/' between segments.
bool ValidVaultName(std::string_view name, bool allow_slash);

struct VaultSourceOptions {
  std::string aws_mount = "aws";
  CredentialType credential_type = CredentialType::kAssumedRole;
  std::map<std::string, std::string> role_map;  // role ARN -> Vault AWS role name
};

class VaultSource final : public creds::CredentialSource {
 public:
  VaultSource(VaultClient& client, const Clock& clock, VaultSourceOptions options);

  Result<aws::AssumeRoleResult> Fetch(const creds::CredentialSpec& spec,
                                      int default_duration_seconds) override;
  [[nodiscard]] std::string_view Name() const override { return "vault"; }

  // The Vault AWS role for an IAM role ARN (map, else naming rule).
  [[nodiscard]] Result<std::string> VaultRoleFor(std::string_view role_arn) const;

  // Revokes the leases of iam_user credentials handed out and not yet expired (shutdown with
  // --vault-revoke-on-shutdown). Returns how many were revoked; failures are logged.
  std::size_t RevokeLeases();
  [[nodiscard]] std::size_t lease_count() const;

 private:
  void KeepLease(const std::string& lease_id, Clock::WallTime expires);

  VaultClient& client_;
  const Clock& clock_;
  VaultSourceOptions options_;
  log::Logger log_{"vault"};
  mutable std::mutex mu_;
  std::map<std::string, Clock::WallTime> leases_;  // iam_user lease id -> expiry
};

}  // namespace podiam::vault
