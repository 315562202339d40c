// The namespace-policy table of `podiam explain policy` (docs/explain.md): each case is a role
// annotation, a namespace's annotations and the agent's flags, with the verdict and the reason
// text podiam gives. Where podiam claims kube2iam/kiam compatibility the expected verdict is
// theirs (docs/compatibility.md#namespace-restrictions); the deliberate differences (anchored
// regexps, restrictions on by default) are marked "podiam:" and listed in docs/explain.md.
#include "podiam/explain/policy.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <optional>

namespace podiam::explain {
namespace {

using identity::Annotations;
using identity::RestrictionFormat;
using ::testing::HasSubstr;

constexpr const char* kAllowed = "iam.amazonaws.com/allowed-roles";
constexpr const char* kPermitted = "iam.amazonaws.com/permitted";
constexpr const char* kBase = "arn:aws:iam::123456789012:role/";
constexpr const char* kPathBase = "arn:aws:iam::123456789012:role/k8s/";

struct Flags {
  std::optional<std::string> base = kBase;  // --base-role-arn; nullopt: none
  std::string default_role;                 // --default-role
  RestrictionFormat format = RestrictionFormat::kGlob;
  bool restrictions = true;
};

struct Case {
  const char* name;
  std::string role;  // the pod's iam.amazonaws.com/role ("" = none)
  Annotations ns;
  const char* verdict;
  const char* reason;  // a substring of the decision's reason
  Flags flags = {};
  const char* arn = nullptr;  // the composed role ARN, when checked
};

Annotations Allowed(std::string json) { return {{kAllowed, std::move(json)}}; }
Annotations Permitted(std::string re) { return {{kPermitted, std::move(re)}}; }

const std::vector<Case>& Cases() {
  static const std::vector<Case> cases = {
      // ---- kube2iam glob entries (default format): '*' any run incl. '/', nothing else special
      {"glob exact bare name", "app", Allowed(R"(["app"])"), "allowed", "entry 'app' matches"},
      {"glob star suffix", "team-web", Allowed(R"(["team-*"])"), "allowed",
       "entry 'team-*' matches"},
      {"glob star crosses slashes",
       "team/deep/app",
       Allowed(R"(["team/*"])"),
       "allowed",
       "entry 'team/*' matches",
       {},
       "arn:aws:iam::123456789012:role/team/deep/app"},
      {"glob star matches nothing", "team-", Allowed(R"(["team-*"])"), "allowed",
       "entry 'team-*' matches"},
      {"glob star in the middle", "team-a-reader", Allowed(R"(["team-*-reader"])"), "allowed",
       "entry 'team-*-reader' matches"},
      {"glob star in the middle, other suffix", "team-a-writer", Allowed(R"(["team-*-reader"])"),
       "denied", "no entry of iam.amazonaws.com/allowed-roles matches"},
      {"glob lone star is relative to the base", "anything", Allowed(R"(["*"])"), "allowed",
       "entry '*' matches"},
      {"glob lone star does not reach another account", "arn:aws:iam::999999999999:role/anything",
       Allowed(R"(["*"])"), "denied", "no entry of iam.amazonaws.com/allowed-roles matches"},
      {"glob entry as full ARN", "arn:aws:iam::999999999999:role/x",
       Allowed(R"(["arn:aws:iam::999999999999:role/x"])"), "allowed",
       "entry 'arn:aws:iam::999999999999:role/x' matches"},
      {"glob star in the account of a full-ARN entry", "arn:aws:iam::999999999999:role/shared",
       Allowed(R"(["arn:aws:iam::*:role/shared"])"), "allowed",
       "entry 'arn:aws:iam::*:role/shared' matches"},
      {"glob is anchored: no prefix match", "app-admin", Allowed(R"(["app"])"), "denied",
       "no entry of iam.amazonaws.com/allowed-roles matches"},
      {"glob question mark is literal (kube2iam)", "app1", Allowed(R"(["app?"])"), "denied",
       "no entry of iam.amazonaws.com/allowed-roles matches"},
      {"glob is case-sensitive", "app", Allowed(R"(["App"])"), "denied",
       "no entry of iam.amazonaws.com/allowed-roles matches"},
      {"glob later entry matches", "app", Allowed(R"(["x", "y", "app"])"), "allowed",
       "entry 'app' matches"},
      {"glob one leading slash in the role is ignored",
       "/app",
       Allowed(R"(["app"])"),
       "allowed",
       "entry 'app' matches",
       {},
       "arn:aws:iam::123456789012:role/app"},
      // ---- base ARNs with paths, partitions
      {"base with path: bare name and entry both under it",
       "app",
       Allowed(R"(["app"])"),
       "allowed",
       "entry 'app' matches",
       {.base = kPathBase},
       "arn:aws:iam::123456789012:role/k8s/app"},
      {"base with path: a full-ARN entry without the path",
       "app",
       Allowed(R"(["arn:aws:iam::123456789012:role/app"])"),
       "denied",
       "no entry of iam.amazonaws.com/allowed-roles matches",
       {.base = kPathBase}},
      {"base with path: role with its own path",
       "team/app",
       Allowed(R"(["team/app"])"),
       "allowed",
       "entry 'team/app' matches",
       {.base = kPathBase},
       "arn:aws:iam::123456789012:role/k8s/team/app"},
      {"partition aws-cn, full ARNs", "arn:aws-cn:iam::123456789012:role/app",
       Allowed(R"(["arn:aws-cn:iam::123456789012:role/app"])"), "allowed",
       "entry 'arn:aws-cn:iam::123456789012:role/app' matches"},
      {"partition mismatch with a relative entry", "arn:aws-cn:iam::123456789012:role/app",
       Allowed(R"(["app"])"), "denied", "no entry of iam.amazonaws.com/allowed-roles matches"},
      {"aws-us-gov base",
       "app",
       Allowed(R"(["app"])"),
       "allowed",
       "entry 'app' matches",
       {.base = "arn:aws-us-gov:iam::123456789012:role/"},
       "arn:aws-us-gov:iam::123456789012:role/app"},
      // ---- malformed or empty allowed-roles: allow nothing, say so
      {"allowed-roles not JSON", "app", Allowed("app"), "denied",
       "iam.amazonaws.com/allowed-roles is not a JSON list of strings (misconfigured; allows "
       "nothing)"},
      {"allowed-roles a JSON object", "app", Allowed(R"({"app": true})"), "denied",
       "is not a JSON list of strings"},
      {"allowed-roles empty list", "app", Allowed("[]"), "denied", "is an empty list"},
      {"allowed-roles empty value", "app", Allowed(""), "denied", "is not a JSON list of strings"},
      {"allowed-roles entry not a string", "app", Allowed("[1]"), "denied",
       "has an entry that is not a string"},
      {"no namespace annotations (podiam: restrictions on)",
       "app",
       {},
       "denied",
       "the namespace has neither iam.amazonaws.com/allowed-roles nor "
       "iam.amazonaws.com/permitted, so it allows no role"},
      {"only unrelated namespace annotations",
       "app",
       {{"team", "a"}},
       "denied",
       "so it allows no role"},
      {"restrictions off allows any role (kube2iam default)",
       "app",
       {},
       "allowed",
       "namespace restrictions are off",
       {.restrictions = false}},
      // ---- default role
      {"no annotation, default role",
       "",
       {},
       "allowed",
       "using the default role",
       {.default_role = "fallback"},
       "arn:aws:iam::123456789012:role/fallback"},
      {"default role asked for explicitly in a denying namespace",
       "fallback",
       Allowed(R"(["x"])"),
       "allowed",
       "it is the default role (--default-role)",
       {.default_role = "fallback"}},
      {"default role as full ARN",
       "arn:aws:iam::123456789012:role/fallback",
       {},
       "allowed",
       "it is the default role",
       {.default_role = "arn:aws:iam::123456789012:role/fallback"}},
      {"no annotation and no default role", "", Allowed(R"(["app"])"), "no_role",
       "there is no default role"},
      {"invalid default role",
       "",
       {},
       "invalid",
       "the default role is invalid",
       {.default_role = "not a role!"}},
      // ---- malformed role annotations
      {"bare name without a base ARN",
       "app",
       Allowed(R"(["app"])"),
       "invalid",
       "pod annotation iam.amazonaws.com/role is invalid",
       {.base = std::nullopt}},
      {"ARN with a short account", "arn:aws:iam::12345:role/x", Allowed(R"(["*"])"), "invalid",
       "12 digits"},
      {"ARN of another service", "arn:aws:s3:::bucket", Allowed(R"(["*"])"), "invalid",
       "pod annotation iam.amazonaws.com/role is invalid"},
      {"role name with a character IAM refuses", "ap?p", Allowed(R"(["*"])"), "invalid",
       "pod annotation iam.amazonaws.com/role is invalid"},
      // ---- --namespace-restriction-format=regexp (podiam anchors each entry)
      {"regexp entry anchored, matches",
       "app-web",
       Allowed(R"(["app-.*"])"),
       "allowed",
       "entry 'app-.*' matches",
       {.format = RestrictionFormat::kRegexp}},
      {"podiam: regexp entry anchored, superstring refused",
       "app-admin",
       Allowed(R"(["app"])"),
       "denied",
       "no entry of iam.amazonaws.com/allowed-roles matches",
       {.format = RestrictionFormat::kRegexp}},
      {"regexp alternation",
       "api",
       Allowed(R"x(["(web|api)"])x"),
       "allowed",
       "entry '(web|api)' matches",
       {.format = RestrictionFormat::kRegexp}},
      {"regexp question mark is an operator",
       "app",
       Allowed(R"(["apps?"])"),
       "allowed",
       "entry 'apps?' matches",
       {.format = RestrictionFormat::kRegexp}},
      {"regexp full-ARN entry",
       "arn:aws:iam::999999999999:role/shared",
       Allowed(R"(["arn:aws:iam::[0-9]+:role/shared"])"),
       "allowed",
       "matches",
       {.format = RestrictionFormat::kRegexp}},
      {"regexp entry invalid",
       "app",
       Allowed(R"(["app("])"),
       "denied",
       "has an invalid regular expression 'app('",
       {.format = RestrictionFormat::kRegexp}},
      // ---- kiam iam.amazonaws.com/permitted: one regexp, anchored, against the full ARN
      {"permitted full-ARN regexp", "app-web", Permitted("arn:aws:iam::123456789012:role/app-.*"),
       "allowed", "iam.amazonaws.com/permitted 'arn:aws:iam::123456789012:role/app-.*' matches"},
      {"permitted is matched against the full ARN, anchored", "app", Permitted("app"), "denied",
       "iam.amazonaws.com/permitted 'app' does not match"},
      {"permitted match-all", "anything", Permitted(".*"), "allowed",
       "iam.amazonaws.com/permitted '.*' matches"},
      {"permitted suffix regexp", "team-app", Permitted(".*/team-.*"), "allowed", "matches"},
      {"permitted invalid regexp", "app", Permitted("("), "denied",
       "iam.amazonaws.com/permitted is an invalid regular expression"},
      {"permitted empty", "app", Permitted(""), "denied",
       "iam.amazonaws.com/permitted is empty (misconfigured; allows nothing)"},
      // ---- both dialects: either may allow
      {"both dialects, permitted allows",
       "app",
       {{kAllowed, R"(["x"])"}, {kPermitted, ".*app"}},
       "allowed",
       "iam.amazonaws.com/permitted '.*app' matches"},
      {"both dialects, both refuse",
       "app",
       {{kAllowed, R"(["x"])"}, {kPermitted, ".*y"}},
       "denied",
       "no entry of iam.amazonaws.com/allowed-roles matches; iam.amazonaws.com/permitted '.*y' "
       "does not match"},
      {"both dialects, allowed-roles broken, permitted allows",
       "app",
       {{kAllowed, "not json"}, {kPermitted, ".*"}},
       "allowed",
       "iam.amazonaws.com/permitted '.*' matches"},
  };
  return cases;
}

identity::PolicyOptions OptionsFor(const Flags& flags) {
  identity::PolicyOptions options{.default_role = flags.default_role,
                                  .namespace_restrictions = flags.restrictions,
                                  .format = flags.format};
  if (flags.base) {
    options.base = *aws::ParseBaseRoleArn(*flags.base);
  }
  return options;
}

class NamespacePolicyTable : public ::testing::TestWithParam<Case> {};

TEST_P(NamespacePolicyTable, VerdictAndReason) {
  const Case& c = GetParam();
  identity::RolePolicy policy(OptionsFor(c.flags));
  Explanation e = ExplainPolicy(
      policy, {.role = c.role, .namespace_name = "team-a", .namespace_annotations = &c.ns});
  ASSERT_EQ(e.paths.size(), 1U);
  const PathExplanation& p = e.paths[0];
  EXPECT_EQ(p.verdict, c.verdict) << p.reason;
  EXPECT_THAT(p.reason, HasSubstr(c.reason));
  if (c.arn != nullptr) {
    EXPECT_EQ(p.role, c.arn);
  }
  EXPECT_EQ(ExitCode(e), p.verdict == "allowed" ? 0 : 1);
  // A refusal says what to change; an allowed role needs no fix.
  EXPECT_EQ(p.fix.empty(), p.verdict == "allowed") << p.fix;
  ASSERT_FALSE(p.steps.empty());
  // The last step is the one that decided: refused exactly when the namespace policy refused.
  if (p.verdict == "denied") {
    EXPECT_EQ(p.steps.back().check, "namespace-policy");
    EXPECT_EQ(p.steps.back().status, StepStatus::kRefused);
  }
  if (p.verdict == "invalid" && !c.flags.default_role.empty() && c.role.empty()) {
    EXPECT_EQ(p.steps.back().check, "role-arn");
  }
}

// The explanation's verdict is the agent's decision: identity::DecidePod, which the agent's pod
// directory (callers/pod_directory.cpp) and container-credentials resolver call, on the same
// inputs gives the same outcome, reason and role.
TEST_P(NamespacePolicyTable, SameVerdictAsTheAgentDecision) {
  const Case& c = GetParam();
  identity::RolePolicy explain_policy(OptionsFor(c.flags));
  identity::RolePolicy agent_policy(OptionsFor(c.flags));
  Explanation e = ExplainPolicy(
      explain_policy, {.role = c.role, .namespace_name = "team-a", .namespace_annotations = &c.ns});
  Annotations pod;
  if (!c.role.empty()) {
    pod["iam.amazonaws.com/role"] = c.role;
  }
  identity::PodRequest agent = identity::DecidePod(agent_policy,
                                                   {.namespace_name = "team-a",
                                                    .pod_name = "web-1",
                                                    .pod_uid = "uid-1",
                                                    .service_account = "default",
                                                    .pod_annotations = &pod,
                                                    .namespace_annotations = &c.ns},
                                                   {});
  EXPECT_EQ(e.paths[0].verdict, identity::OutcomeName(agent.decision.outcome));
  EXPECT_EQ(e.paths[0].reason, agent.decision.reason);
  EXPECT_EQ(e.paths[0].role, agent.decision.role ? agent.decision.role->ToString() : "");
  EXPECT_EQ(agent.spec.has_value(), e.paths[0].verdict == "allowed");
}

std::string CaseName(const ::testing::TestParamInfo<Case>& info) {
  std::string name;
  for (const char* p = info.param.name; *p != '\0'; ++p) {
    char ch = *p;
    bool alnum = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
    name += alnum ? ch : '_';
  }
  return std::to_string(info.index) + "_" + name;
}

INSTANTIATE_TEST_SUITE_P(Cases, NamespacePolicyTable, ::testing::ValuesIn(Cases()), CaseName);

TEST(NamespacePolicyTableSize, AtLeastFortyCases) { EXPECT_GE(Cases().size(), 40U); }

TEST(ExplainPolicyTest, StepsNameTheAnnotationTheArnAndTheMatchingEntry) {
  identity::RolePolicy policy(OptionsFor({.base = kPathBase}));
  Annotations ns = Allowed(R"(["team/*"])");
  Explanation e = ExplainPolicy(
      policy, {.role = "team/app", .namespace_name = "team-a", .namespace_annotations = &ns});
  const auto& steps = e.paths[0].steps;
  ASSERT_EQ(steps.size(), 4U);
  EXPECT_EQ(steps[0].check, "role-annotation");
  EXPECT_EQ(steps[0].detail, "pod annotation iam.amazonaws.com/role = 'team/app'");
  EXPECT_EQ(steps[1].check, "role-arn");
  EXPECT_THAT(steps[1].detail, HasSubstr("bare name 'team/app' joined to --base-role-arn "
                                         "arn:aws:iam::123456789012:role/k8s/ -> "
                                         "arn:aws:iam::123456789012:role/k8s/team/app"));
  EXPECT_EQ(steps[2].check, "namespace-annotations");
  EXPECT_THAT(steps[2].detail, HasSubstr(R"(iam.amazonaws.com/allowed-roles = ["team/*"] (glob)"));
  EXPECT_EQ(steps[3].check, "namespace-policy");
  EXPECT_EQ(steps[3].status, StepStatus::kOk);
  EXPECT_EQ(steps[3].detail, "iam.amazonaws.com/allowed-roles entry 'team/*' matches");
}

TEST(ExplainPolicyTest, FixForANamespaceWithoutAnnotationsIsAKubectlCommand) {
  identity::RolePolicy policy(OptionsFor({}));
  Annotations ns;
  Explanation e = ExplainPolicy(
      policy, {.role = "app", .namespace_name = "team-a", .namespace_annotations = &ns});
  EXPECT_EQ(e.paths[0].fix,
            R"(kubectl annotate namespace team-a 'iam.amazonaws.com/allowed-roles=["app"]')");
}

}  // namespace
}  // namespace podiam::explain
