// Fuzzes `podiam explain policy` (explain::ExplainPolicy and its renderers) with hostile role and
// namespace annotations.
//
// Input layout (docs/fuzzing.md):
//   byte 0   bit 0 regexp format (else glob), bit 1 restrictions off, bit 2 a base role ARN,
//            bit 3 a default role, bit 4 allowed-roles present, bit 5 permitted present
//   line     iam.amazonaws.com/allowed-roles value
//   line     iam.amazonaws.com/permitted value
//   rest     iam.amazonaws.com/role value
//
// Invariants: the verdict, reason and role are identity::DecidePod's on the same inputs; a fix
// exactly for refusals; the exit code is 0 exactly when allowed; the JSON rendering parses and
// carries the same verdict; the text rendering (no colour) has no control character but '\n'.
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "fuzz/fuzz_input.hpp"
#include "podiam/explain/policy.hpp"

namespace {

podiam::identity::RolePolicy& PolicyFor(unsigned index) {
  using namespace podiam::identity;  // NOLINT(google-build-using-namespace)
  static std::array<std::unique_ptr<RolePolicy>, 16> policies;
  auto& p = policies[index & 15U];
  if (!p) {
    PolicyOptions options{
        .default_role = (index & 8U) != 0 ? "fallback" : "",
        .namespace_restrictions = (index & 2U) == 0,
        .format = (index & 1U) != 0 ? RestrictionFormat::kRegexp : RestrictionFormat::kGlob};
    if ((index & 4U) != 0) {
      options.base =
          podiam::aws::BaseRoleArn{.partition = "aws", .account = "123456789012", .path = "/k8s/"};
    }
    p = std::make_unique<RolePolicy>(std::move(options));
  }
  return *p;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace podiam;  // NOLINT(google-build-using-namespace)
  fuzz::Input in(data, size);
  std::uint8_t flags = in.Byte();
  std::string allowed(in.Line());
  std::string permitted(in.Line());
  std::string role(in.Rest());

  identity::RolePolicy& policy = PolicyFor(flags & 15U);
  identity::Annotations ns;
  if ((flags & 16U) != 0) {
    ns[policy.options().keys.allowed_roles] = allowed;
  }
  if ((flags & 32U) != 0) {
    ns[policy.options().keys.permitted] = permitted;
  }
  explain::Explanation e = explain::ExplainPolicy(
      policy, {.role = role, .namespace_name = "team-a", .namespace_annotations = &ns});
  FUZZ_CHECK(e.paths.size() == 1, "explain policy has one path");
  const explain::PathExplanation& p = e.paths[0];

  identity::Annotations pod;
  if (!role.empty()) {
    pod[policy.options().keys.role] = role;
  }
  auto agent = identity::DecidePod(policy,
                                   {.namespace_name = "team-a",
                                    .pod_name = "web-1",
                                    .pod_uid = "u",
                                    .service_account = "default",
                                    .pod_annotations = &pod,
                                    .namespace_annotations = &ns},
                                   {});
  FUZZ_CHECK(p.verdict == identity::OutcomeName(agent.decision.outcome),
             "explain's verdict is not the agent's decision");
  FUZZ_CHECK(p.reason == agent.decision.reason, "explain's reason is not the agent's");
  FUZZ_CHECK(p.role == (agent.decision.role ? agent.decision.role->ToString() : ""),
             "explain's role is not the agent's");
  bool allowed_verdict = p.verdict == "allowed";
  FUZZ_CHECK(p.fix.empty() == allowed_verdict, "a fix exactly for refusals");
  FUZZ_CHECK((explain::ExitCode(e) == 0) == allowed_verdict, "exit code 0 exactly when allowed");

  auto json = nlohmann::json::parse(explain::RenderJson(e), nullptr, false);
  FUZZ_CHECK(!json.is_discarded(), "RenderJson is not JSON");
  FUZZ_CHECK(json["paths"][0]["verdict"] == p.verdict, "JSON verdict differs");
  for (char c : explain::RenderText(e, false)) {
    auto u = static_cast<unsigned char>(c);
    FUZZ_CHECK(c == '\n' || (u >= 0x20 && u != 0x7f), "control character in the text output");
  }
  return 0;
}
