// Fuzzes what `podiam controller` and `podiam credential-process` parse from bytes they do not
// control: AWSIAMRole objects (controller/role_object.hpp; written by any namespace's users) and
// a mounted credentials.json (controller/secret_format.hpp).
//
// Input layout (docs/fuzzing.md):
//   byte 0   bit 0: the rest is credentials.json (1) or an AWSIAMRole object (0);
//            bit 1: resolve role references against a base ARN (else without one)
//   rest     the JSON text
//
// Invariants: a parsed role has a namespace, a name, a role reference, a Secret name, and a
// duration within 900..43200 when set; its session name is 2..64 characters of STS's alphabet
// and starts with "<namespace>." when that fits; its ExternalId is the namespace (plus the
// cluster); a resolved role ARN re-parses as itself; the Secret made for it is owned by it. A
// parsed credentials.json round-trips through ProcessCredentialsJson unchanged; a refusal never
// echoes the secret key.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz/fuzz_input.hpp"
#include "podiam/controller/role_object.hpp"
#include "podiam/controller/secret_format.hpp"

namespace podiam::controller {
namespace {

bool StsAlphabet(std::string_view s) {
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              std::string_view("_+=,.@-").find(c) != std::string_view::npos;
    if (!ok) {
      return false;
    }
  }
  return true;
}

void CheckRole(std::string_view text, bool with_base) {
  k8s::Json json = k8s::Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) {
    return;
  }
  auto role = ParseRoleObject(json);
  if (!role) {
    FUZZ_CHECK(role.error().code() == ErrorCode::kInvalidArgument, "unexpected error code");
    return;
  }
  FUZZ_CHECK(!role->namespace_name.empty() && !role->name.empty(), "no namespace or name");
  FUZZ_CHECK(!role->role_reference.empty() && !role->secret_name.empty(), "empty reference");
  FUZZ_CHECK(!role->duration_seconds ||
                 (*role->duration_seconds >= 900 && *role->duration_seconds <= 43200),
             "duration out of range");
  std::string session = SessionNameFor(*role);
  FUZZ_CHECK(session.size() >= 2 && session.size() <= 64, "session name length");
  FUZZ_CHECK(StsAlphabet(session), "session name alphabet");
  std::string id = ExternalIdFor(*role, "c");
  FUZZ_CHECK(role->external_id_policy == ExternalIdPolicy::kNone
                 ? id.empty()
                 : id == role->namespace_name + "/c",
             "ExternalId is not namespace/cluster");
  std::optional<aws::BaseRoleArn> base;
  if (with_base) {
    base = aws::BaseRoleArn{.partition = "aws", .account = "123456789012", .path = "/k8s/"};
  }
  if (auto arn = ResolveRoleReference(role->role_reference, base)) {
    auto again = aws::ParseRoleArn(arn->ToString());
    FUZZ_CHECK(again && *again == *arn, "resolved role does not re-parse");
  }
  k8s::Json secret = SecretObject(*role, {{"role-arn", "x"}});
  FUZZ_CHECK(OwnedBy(secret, *role) == !role->uid.empty(), "Secret not owned by its role");
}

void CheckCredentials(std::string_view text) {
  auto c = ParseProcessCredentials(text);
  if (!c) {
    FUZZ_CHECK(c.error().code() == ErrorCode::kInvalidArgument, "unexpected error code");
    k8s::Json json = k8s::Json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (!json.is_discarded() && json.is_object() && json.contains("SecretAccessKey") &&
        json["SecretAccessKey"].is_string()) {
      auto key = json["SecretAccessKey"].get<std::string>();
      FUZZ_CHECK(key.size() < 8 || c.error().message().find(key) == std::string::npos,
                 "refusal echoes the secret key");
    }
    return;
  }
  FUZZ_CHECK(!c->access_key_id.empty() && !c->secret_access_key.empty(), "empty keys");
  auto again = ParseProcessCredentials(ProcessCredentialsJson(*c));
  FUZZ_CHECK(again.has_value(), "ProcessCredentialsJson does not re-parse");
  FUZZ_CHECK(again->access_key_id == c->access_key_id &&
                 again->secret_access_key == c->secret_access_key &&
                 again->session_token == c->session_token,
             "keys change in a round trip");
  if (c->expiration && again->expiration) {
    FUZZ_CHECK(std::chrono::floor<std::chrono::seconds>(*again->expiration) ==
                   std::chrono::floor<std::chrono::seconds>(*c->expiration),
               "expiration changes in a round trip");
  }
  FUZZ_CHECK(c->expiration.has_value() == again->expiration.has_value(), "expiration lost");
}

}  // namespace
}  // namespace podiam::controller

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  podiam::fuzz::Input in(data, size);
  std::uint8_t flags = in.Byte();
  std::string_view text = in.Rest();
  if ((flags & 1U) != 0) {
    podiam::controller::CheckCredentials(text);
  } else {
    podiam::controller::CheckRole(text, (flags & 2U) != 0);
  }
  return 0;
}
