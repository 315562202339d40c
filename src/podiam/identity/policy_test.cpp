#include "podiam/identity/policy.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace podiam::identity {
namespace {

using ::testing::HasSubstr;

constexpr const char* kBase = "arn:aws:iam::123456789012:role/k8s/";

PolicyOptions Opts(std::string default_role = "", bool restrictions = true,
                   RestrictionFormat format = RestrictionFormat::kGlob) {
  return {.base = *aws::ParseBaseRoleArn(kBase),
          .default_role = std::move(default_role),
          .namespace_restrictions = restrictions,
          .format = format};
}

struct World {
  Annotations pod;
  Annotations sa;
  Annotations ns;
  Subject subject() const {
    return {.namespace_name = "team-a",
            .pod_name = "web-1",
            .service_account = "web",
            .pod_annotations = &pod,
            .service_account_annotations = &sa,
            .namespace_annotations = &ns};
  }
};

TEST(RolePolicyTest, BareNameJoinsBaseKeepingPathAndFullArnIsUsedAsIs) {
  RolePolicy policy(Opts("", false));
  World w;
  w.pod["iam.amazonaws.com/role"] = "team/app";
  auto d = policy.Decide(w.subject());
  ASSERT_EQ(d.outcome, Outcome::kAllowed) << d.reason;
  EXPECT_EQ(d.role->ToString(), "arn:aws:iam::123456789012:role/k8s/team/app");
  EXPECT_EQ(d.source, RoleSource::kPod);

  w.pod["iam.amazonaws.com/role"] = "/app";  // one leading '/' is ignored (kiam)
  EXPECT_EQ(policy.Decide(w.subject()).role->ToString(), "arn:aws:iam::123456789012:role/k8s/app");

  w.pod["iam.amazonaws.com/role"] = "arn:aws-cn:iam::210987654321:role/other";
  EXPECT_EQ(policy.Decide(w.subject()).role->ToString(), "arn:aws-cn:iam::210987654321:role/other");
}

TEST(RolePolicyTest, ServiceAccountThenDefaultThenNothing) {
  World w;
  w.sa["iam.amazonaws.com/role"] = "from-sa";
  RolePolicy with_default(Opts("fallback", false));
  auto d = with_default.Decide(w.subject());
  EXPECT_EQ(d.source, RoleSource::kServiceAccount);
  EXPECT_EQ(d.role->name, "from-sa");

  w.sa.clear();
  d = with_default.Decide(w.subject());
  EXPECT_EQ(d.source, RoleSource::kDefault);
  EXPECT_EQ(d.role->name, "fallback");

  RolePolicy no_default(Opts("", false));
  d = no_default.Decide(w.subject());
  EXPECT_EQ(d.outcome, Outcome::kNoRole);
  EXPECT_FALSE(d.role);
  EXPECT_THAT(d.reason, HasSubstr("no default role"));
}

TEST(RolePolicyTest, ExternalIdComesFromThePod) {
  RolePolicy policy(Opts("", false));
  World w;
  w.pod["iam.amazonaws.com/role"] = "app";
  w.pod["iam.amazonaws.com/external-id"] = "ext-123";
  EXPECT_EQ(policy.Decide(w.subject()).external_id, "ext-123");
}

TEST(RolePolicyTest, MalformedAnnotationsAreInvalidWithAReason) {
  RolePolicy policy(Opts("", false));
  World w;
  w.pod["iam.amazonaws.com/role"] = "arn:aws:iam::12345:role/short-account";
  auto d = policy.Decide(w.subject());
  EXPECT_EQ(d.outcome, Outcome::kInvalid);
  EXPECT_THAT(d.reason, HasSubstr("pod annotation iam.amazonaws.com/role is invalid"));

  RolePolicy no_base({.namespace_restrictions = false});
  w.pod["iam.amazonaws.com/role"] = "bare-name";
  EXPECT_EQ(no_base.Decide(w.subject()).outcome, Outcome::kInvalid);

  RolePolicy bad_default(Opts("not a role!", false));
  w.pod.clear();
  EXPECT_EQ(bad_default.Decide(w.subject()).outcome, Outcome::kInvalid);
}

TEST(NamespacePolicyTest, NeitherAnnotationAllowsNothingByDefault) {
  RolePolicy policy(Opts());
  World w;
  w.pod["iam.amazonaws.com/role"] = "app";
  auto d = policy.Decide(w.subject());
  EXPECT_EQ(d.outcome, Outcome::kDenied);
  EXPECT_THAT(d.reason, HasSubstr("allows no role"));
}

TEST(NamespacePolicyTest, GlobEntriesAreRelativeToBaseAndStarCrossesSlashes) {
  RolePolicy policy(Opts());
  World w;
  w.ns["iam.amazonaws.com/allowed-roles"] = R"(["team/*", "arn:aws:iam::999999999999:role/x"])";
  w.pod["iam.amazonaws.com/role"] = "team/deep/app";
  auto d = policy.Decide(w.subject());
  EXPECT_EQ(d.outcome, Outcome::kAllowed) << d.reason;
  EXPECT_THAT(d.reason, HasSubstr("entry 'team/*' matches"));

  w.pod["iam.amazonaws.com/role"] = "arn:aws:iam::999999999999:role/x";
  EXPECT_EQ(policy.Decide(w.subject()).outcome, Outcome::kAllowed);

  w.pod["iam.amazonaws.com/role"] = "other";
  d = policy.Decide(w.subject());
  EXPECT_EQ(d.outcome, Outcome::kDenied);
  EXPECT_THAT(d.reason, HasSubstr("no entry of iam.amazonaws.com/allowed-roles matches"));
}

TEST(NamespacePolicyTest, GlobTreatsRegexCharactersLiterally) {
  RolePolicy policy(Opts());
  World w;
  w.ns["iam.amazonaws.com/allowed-roles"] = R"(["app.role"])";
  w.pod["iam.amazonaws.com/role"] = "appXrole";
  EXPECT_EQ(policy.Decide(w.subject()).outcome, Outcome::kDenied);
}

TEST(NamespacePolicyTest, RegexpEntriesAreAnchored) {
  RolePolicy policy(Opts("", true, RestrictionFormat::kRegexp));
  World w;
  w.ns["iam.amazonaws.com/allowed-roles"] = R"(["app-role", "batch-[0-9]+"])";
  w.pod["iam.amazonaws.com/role"] = "app-role";
  EXPECT_EQ(policy.Decide(w.subject()).outcome, Outcome::kAllowed);
  w.pod["iam.amazonaws.com/role"] = "app-role-admin";  // kube2iam would allow this; podiam not
  EXPECT_EQ(policy.Decide(w.subject()).outcome, Outcome::kDenied);
  w.pod["iam.amazonaws.com/role"] = "batch-42";
  EXPECT_EQ(policy.Decide(w.subject()).outcome, Outcome::kAllowed);
}

TEST(NamespacePolicyTest, KiamPermittedIsAnchoredOnTheFullArn) {
  RolePolicy policy(Opts());
  World w;
  w.ns["iam.amazonaws.com/permitted"] = ".*:role/k8s/app-.*";
  w.pod["iam.amazonaws.com/role"] = "app-reader";
  EXPECT_EQ(policy.Decide(w.subject()).outcome, Outcome::kAllowed);
  w.ns["iam.amazonaws.com/permitted"] = "app-.*";  // anchored: must match the whole ARN
  EXPECT_EQ(policy.Decide(w.subject()).outcome, Outcome::kDenied);
}

TEST(NamespacePolicyTest, EitherDialectMayAllow) {
  RolePolicy policy(Opts());
  World w;
  w.ns["iam.amazonaws.com/allowed-roles"] = R"(["nothing-matches"])";
  w.ns["iam.amazonaws.com/permitted"] = ".*/app";
  w.pod["iam.amazonaws.com/role"] = "app";
  EXPECT_EQ(policy.Decide(w.subject()).outcome, Outcome::kAllowed);
  w.pod["iam.amazonaws.com/role"] = "other";
  auto d = policy.Decide(w.subject());
  EXPECT_EQ(d.outcome, Outcome::kDenied);
  EXPECT_THAT(d.reason, HasSubstr("no entry of iam.amazonaws.com/allowed-roles matches"));
  EXPECT_THAT(d.reason, HasSubstr("iam.amazonaws.com/permitted '.*/app' does not match"));
}

TEST(NamespacePolicyTest, MisconfiguredAnnotationsAllowNothingAndSaySo) {
  RolePolicy glob(Opts());
  RolePolicy regexp(Opts("", true, RestrictionFormat::kRegexp));
  World w;
  w.pod["iam.amazonaws.com/role"] = "app";
  for (const char* value : {"", "app", "{\"a\":1}", "[]", "[1, 2]", "[\"app\""}) {
    w.ns["iam.amazonaws.com/allowed-roles"] = value;
    auto d = glob.Decide(w.subject());
    EXPECT_EQ(d.outcome, Outcome::kDenied) << value;
    EXPECT_THAT(d.reason, HasSubstr("misconfigured")) << value;
  }
  w.ns["iam.amazonaws.com/allowed-roles"] = R"(["(unclosed"])";
  EXPECT_THAT(regexp.Decide(w.subject()).reason, HasSubstr("invalid regular expression"));
  w.ns.clear();
  w.ns["iam.amazonaws.com/permitted"] = "(unclosed";
  EXPECT_THAT(glob.Decide(w.subject()).reason, HasSubstr("invalid regular expression"));
}

TEST(NamespacePolicyTest, HostilePatternsStayCheap) {
  RolePolicy policy(Opts("", true, RestrictionFormat::kRegexp));
  World w;
  w.ns["iam.amazonaws.com/allowed-roles"] = R"(["(a*)*(a*)*(a*)*b", "(x+x+)+y"])";
  w.pod["iam.amazonaws.com/role"] = std::string(60, 'a');
  EXPECT_EQ(policy.Decide(w.subject()).outcome, Outcome::kDenied);
  std::string huge = "[\"" + std::string(5000, 'a') + "\"]";
  w.ns["iam.amazonaws.com/allowed-roles"] = huge;
  EXPECT_THAT(policy.Decide(w.subject()).reason, HasSubstr("longer than"));
}

TEST(NamespacePolicyTest, DefaultRoleIsAlwaysAllowedAndRestrictionsCanBeOff) {
  RolePolicy policy(Opts("fallback"));
  World w;
  auto d = policy.Decide(w.subject());
  EXPECT_EQ(d.outcome, Outcome::kAllowed);
  w.pod["iam.amazonaws.com/role"] = "fallback";  // explicitly asking for the default is fine too
  EXPECT_EQ(policy.Decide(w.subject()).outcome, Outcome::kAllowed);

  RolePolicy open(Opts("", false));
  w.pod["iam.amazonaws.com/role"] = "anything";
  EXPECT_THAT(open.Decide(w.subject()).reason, HasSubstr("restrictions are off"));
}

TEST(NamespacePolicyTest, CustomAnnotationKeys) {
  PolicyOptions o = Opts();
  o.keys.role = "example.com/role";
  o.keys.allowed_roles = "example.com/allowed";
  RolePolicy policy(o);
  World w;
  w.pod["example.com/role"] = "app";
  w.ns["example.com/allowed"] = R"(["app"])";
  EXPECT_EQ(policy.Decide(w.subject()).outcome, Outcome::kAllowed);
}

}  // namespace
}  // namespace podiam::identity
