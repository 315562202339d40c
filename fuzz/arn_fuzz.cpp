// Fuzzes the ARN parsers of aws/arn.hpp: ParseArn, ParseRoleArn, ParseBaseRoleArn, ResolveRoleArn
// (with and without a base), RoleName and ParseAssumedRoleArn.
//
// Input layout (docs/fuzzing.md):
//   byte 0   which base ARN ResolveRoleArn uses when line 1 is not one (aws, aws-cn, aws-us-gov,
//            with and without a path)
//   line 1   tried as every kind of ARN, and as a base role ARN
//   rest     tried as every kind of ARN, and as a role annotation resolved against the base
//
// Invariants: a parsed value formats (ToString) to text that parses back to the same value; for
// the lossless kinds (Arn, RoleArn, AssumedRoleArn) that text is the input itself; a role's path
// starts and ends with '/', its name is a valid role name and RoleName() returns it; every
// specific parser agrees with ParseArn; a resolved role re-parses as itself; AssumedRoleArnFor()
// of a parsed role re-parses.
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz/fuzz_input.hpp"
#include "podiam/aws/arn.hpp"

namespace podiam::aws {
namespace {

void CheckRole(const RoleArn& role) {
  FUZZ_CHECK(role.path.starts_with('/') && role.path.ends_with('/'), "path not /.../");
  FUZZ_CHECK(IsValidRoleName(role.name), "parsed role has an invalid name");
  FUZZ_CHECK(IsValidAccountId(role.account), "parsed role has an invalid account");
  auto again = ParseRoleArn(role.ToString());
  FUZZ_CHECK(again.has_value(), "RoleArn::ToString() does not re-parse");
  FUZZ_CHECK(*again == role, "RoleArn::ToString() re-parses to another role");
  auto name = RoleName(role.ToString());
  FUZZ_CHECK(name && *name == role.name, "RoleName() disagrees with ParseRoleArn()");
  auto base = BaseOf(role);
  auto base_again = ParseBaseRoleArn(base.ToString());
  FUZZ_CHECK(base_again && *base_again == base, "BaseOf(role) does not re-parse");
  auto resolved = ResolveRoleArn(role.name, base);
  FUZZ_CHECK(resolved && *resolved == role, "name resolved against BaseOf(role) is not the role");
  AssumedRoleArn assumed = AssumedRoleArnFor(role, "fuzz-session");
  auto assumed_again = ParseAssumedRoleArn(assumed.ToString());
  FUZZ_CHECK(assumed_again && *assumed_again == assumed, "AssumedRoleArnFor() does not re-parse");
}

void CheckText(std::string_view text) {
  auto arn = ParseArn(text);
  if (arn) {
    FUZZ_CHECK(arn->ToString() == text, "Arn::ToString() is not the input");
    auto again = ParseArn(arn->ToString());
    FUZZ_CHECK(again && *again == *arn, "Arn::ToString() re-parses to another ARN");
  }

  auto role = ParseRoleArn(text);
  if (role) {
    FUZZ_CHECK(arn && arn->service == "iam", "a role ARN that ParseArn rejects");
    FUZZ_CHECK(role->ToString() == text, "RoleArn::ToString() is not the input");
    auto unbased = ResolveRoleArn(text);
    FUZZ_CHECK(unbased && *unbased == *role, "ResolveRoleArn(arn) differs from ParseRoleArn");
    CheckRole(*role);
  } else {
    FUZZ_CHECK(!RoleName(text), "RoleName() accepts what ParseRoleArn() rejects");
  }

  auto base = ParseBaseRoleArn(text);
  if (base) {
    FUZZ_CHECK(arn && arn->service == "iam", "a base role ARN that ParseArn rejects");
    FUZZ_CHECK(base->path.starts_with('/') && base->path.ends_with('/'), "base path not /.../");
    auto again = ParseBaseRoleArn(base->ToString());
    FUZZ_CHECK(again && *again == *base, "BaseRoleArn::ToString() re-parses to another base");
  }

  auto assumed = ParseAssumedRoleArn(text);
  if (assumed) {
    FUZZ_CHECK(arn && arn->service == "sts", "an assumed-role ARN that ParseArn rejects");
    FUZZ_CHECK(assumed->ToString() == text, "AssumedRoleArn::ToString() is not the input");
    auto again = ParseAssumedRoleArn(assumed->ToString());
    FUZZ_CHECK(again && *again == *assumed, "AssumedRoleArn re-parses to another value");
    FUZZ_CHECK(IsValidRoleName(assumed->role_name), "assumed role has an invalid role name");
  }
}

void CheckResolve(std::string_view value, const BaseRoleArn& base) {
  auto role = ResolveRoleArn(value, base);
  if (!role) {
    return;
  }
  CheckRole(*role);
  if (!value.starts_with("arn:")) {
    FUZZ_CHECK(role->partition == base.partition && role->account == base.account,
               "a bare name left the base's partition or account");
    FUZZ_CHECK(role->path.starts_with(base.path), "a bare name left the base's path");
  }
}

}  // namespace
}  // namespace podiam::aws

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace podiam::aws;  // NOLINT(google-build-using-namespace)
  static const std::array<BaseRoleArn, 4> kBases = {{
      {.partition = "aws", .account = "123456789012", .path = "/"},
      {.partition = "aws", .account = "123456789012", .path = "/k8s/team/"},
      {.partition = "aws-cn", .account = "210987654321", .path = "/"},
      {.partition = "aws-us-gov", .account = "111122223333", .path = "/eks/"},
  }};
  podiam::fuzz::Input in(data, size);
  const BaseRoleArn& fixed = kBases[in.Byte() % kBases.size()];
  std::string_view first = in.Line();
  std::string_view rest = in.Rest();

  CheckText(first);
  CheckText(rest);
  auto base = ParseBaseRoleArn(first);
  CheckResolve(rest, base ? *base : fixed);
  CheckResolve(first, fixed);
  return 0;
}
