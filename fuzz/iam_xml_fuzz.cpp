// Fuzzes the IAM reply parsers of aws/iam_codec.hpp (what `podiam iam` reads from IAM) and the
// trust-policy comparison of explain/trust.hpp (`podiam explain trust --check` reads a role's
// AssumeRolePolicyDocument from GetRole).
//
// Input layout (docs/fuzzing.md):
//   bytes 0-1  HTTP status for IamErrorFromResponse (big-endian, modulo 600)
//   rest       the reply body, given to every parser
//
// Invariants: a parsed role has a name and an ARN; errors from the 200 parsers are
// kUpstreamInvalid or carry IAM's code (upstream_code) in their message; every IAM error names
// the action; 5xx/429 without a code are retryable; UrlDecode never grows its input; trust
// findings (of the body as a policy, and of a parsed role's policy) have a known check and a
// detail, a non-JSON-object policy is exactly one `policy` finding, and the policy podiam prints
// for a path has no findings against itself.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz/fuzz_input.hpp"
#include "podiam/aws/iam_codec.hpp"
#include "podiam/explain/trust.hpp"

namespace podiam::aws {
namespace {

template <typename T>
void CheckError(const Result<T>& r) {
  if (r) {
    return;
  }
  const Error& e = r.error();
  FUZZ_CHECK(e.message().starts_with("IAM "), "IAM error does not name the service/action");
  if (e.code() != ErrorCode::kUpstreamInvalid) {
    FUZZ_CHECK(!e.upstream_code().empty(), "non-parse error without IAM's code");
    FUZZ_CHECK(e.message().find(e.upstream_code()) != std::string::npos,
               "message does not show IAM's code");
  }
}

void CheckTrustFindings(const explain::TrustRequirement& need, const std::string& policy) {
  auto findings = explain::CheckTrust(need, policy);
  for (const auto& f : findings) {
    FUZZ_CHECK(f.check == "policy" || f.check == "principal" || f.check == "tag-session" ||
                   f.check == "condition",
               "unknown trust finding");
    FUZZ_CHECK(!f.detail.empty(), "trust finding without a detail");
  }
  auto doc = nlohmann::json::parse(policy, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    FUZZ_CHECK(findings.size() == 1 && findings[0].check == "policy",
               "a non-object policy is not one `policy` finding");
  }
}

void CheckTrustAll(const std::string& policy) {
  static const std::vector<explain::TrustRequirement> kNeeds = [] {
    std::vector<explain::TrustRequirement> out;
    const std::string role = "arn:aws:iam::123456789012:role/app";
    const std::string agent = "arn:aws:iam::123456789012:role/agent";
    for (const auto& in : std::vector<explain::TrustInputs>{
             {.path = "irsa",
              .role_arn = role,
              .issuer = "https://oidc.example.com/c",
              .namespace_name = "ns",
              .service_account = "web"},
             {.path = "container-credentials", .role_arn = role, .principal_arn = agent},
             {.path = "controller",
             .role_arn = role,
             .principal_arn = agent,
             .external_id = "a"}}) {
      auto need = explain::TrustRequirementFor(in);
      FUZZ_CHECK(need.has_value(), "fixed trust inputs refused");
      FUZZ_CHECK(explain::CheckTrust(*need, need->policy.dump()).empty(),
                 "the printed trust policy has findings against itself");
      out.push_back(*need);
    }
    return out;
  }();
  for (const auto& need : kNeeds) {
    CheckTrustFindings(need, policy);
  }
}

}  // namespace
}  // namespace podiam::aws

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace podiam::aws;  // NOLINT(google-build-using-namespace)
  podiam::fuzz::Input in(data, size);
  int status = ((in.Byte() << 8) | in.Byte()) % 600;
  std::string body(in.Rest());

  CheckError(ParseCreateOidcProvider(body));
  CheckError(ParseListOidcProviders(body));
  CheckError(ParseGetOidcProvider(body));
  auto role = ParseIamRole(body, "GetRole");
  CheckError(role);
  if (role) {
    FUZZ_CHECK(!role->name.empty() && !role->arn.empty(), "role without name or ARN");
    CheckTrustAll(role->assume_role_policy);
  }
  CheckTrustAll(body);
  CheckError(ParseListAttachedRolePolicies(body));
  CheckError(ParseIamEmpty(body, "AttachRolePolicy"));
  podiam::Error e = IamErrorFromResponse("CreateRole", status, body);
  FUZZ_CHECK(e.message().starts_with("IAM CreateRole: "), "error does not name the action");
  if (e.upstream_code().empty() && (status >= 500 || status == 429)) {
    FUZZ_CHECK(e.retryable(), "5xx/429 without a code is not retryable");
  }
  FUZZ_CHECK(UrlDecode(body).size() <= body.size(), "UrlDecode grew its input");
  return 0;
}
