#include "podiam/identity/pod_request.hpp"

#include <gtest/gtest.h>

namespace podiam::identity {
namespace {

class DecidePodTest : public ::testing::Test {
 protected:
  RolePolicy policy_{{.base = *aws::ParseBaseRoleArn("arn:aws:iam::123456789012:role/")}};
  Annotations all_roles_{{"iam.amazonaws.com/allowed-roles", R"(["*"])"}};
};

TEST_F(DecidePodTest, AllowedRoleGetsTheWholeAssumeRoleRequest) {
  Annotations pod{{"iam.amazonaws.com/role", "app"},
                  {"iam.amazonaws.com/external-id", "ext-1"},
                  {"iam.amazonaws.com/session-name", "job 7"}};
  PodRequest r =
      DecidePod(policy_,
                {.namespace_name = "team-a",
                 .pod_name = "web",
                 .pod_uid = "uid-1",
                 .service_account = "app",
                 .pod_annotations = &pod,
                 .namespace_annotations = &all_roles_},
                {.session = {.tags = true, .source_identity = true}, .duration_seconds = 900});
  ASSERT_EQ(r.decision.outcome, Outcome::kAllowed);
  ASSERT_TRUE(r.spec);
  EXPECT_EQ(r.spec->key.role_arn, "arn:aws:iam::123456789012:role/app");
  EXPECT_EQ(r.spec->key.external_id, "ext-1");
  EXPECT_EQ(r.spec->key.session_name, "team-a.web@job-7");
  EXPECT_EQ(r.spec->key.source_identity, "team-a.web@job-7");
  EXPECT_EQ(r.spec->key.owner, "pod/uid-1");
  EXPECT_FALSE(r.spec->key.tags.empty());
  EXPECT_EQ(r.spec->key.duration_seconds, 900);
  ASSERT_TRUE(r.spec->pod);  // for the podiam server source
  EXPECT_EQ(r.spec->pod->namespace_name, "team-a");
  EXPECT_EQ(r.spec->pod->name, "web");
  EXPECT_EQ(r.spec->pod->uid, "uid-1");
}

TEST_F(DecidePodTest, UnknownNamespaceIsPendingNeverDenied) {
  Annotations pod{{"iam.amazonaws.com/role", "app"}};
  PodRequest r = DecidePod(
      policy_, {.namespace_name = "team-b", .pod_name = "web", .pod_annotations = &pod}, {});
  EXPECT_EQ(r.decision.outcome, Outcome::kPending);
  EXPECT_NE(r.decision.reason.find("team-b"), std::string::npos);
  EXPECT_FALSE(r.spec);

  RolePolicy open({.base = *aws::ParseBaseRoleArn("arn:aws:iam::123456789012:role/"),
                   .namespace_restrictions = false});
  r = DecidePod(open, {.namespace_name = "team-b", .pod_name = "web", .pod_annotations = &pod}, {});
  EXPECT_EQ(r.decision.outcome, Outcome::kAllowed);
}

TEST_F(DecidePodTest, NoSpecUnlessAllowed) {
  Annotations pod{{"iam.amazonaws.com/role", "app"}};
  Annotations none;
  PodRequest denied = DecidePod(policy_,
                                {.namespace_name = "team-a",
                                 .pod_name = "web",
                                 .pod_annotations = &pod,
                                 .namespace_annotations = &none},
                                {});
  EXPECT_EQ(denied.decision.outcome, Outcome::kDenied);
  EXPECT_FALSE(denied.spec);
  PodRequest no_role = DecidePod(
      policy_,
      {.namespace_name = "team-a", .pod_name = "web", .namespace_annotations = &all_roles_}, {});
  EXPECT_EQ(no_role.decision.outcome, Outcome::kNoRole);
  EXPECT_FALSE(no_role.spec);
}

TEST_F(DecidePodTest, ServiceAccountScopeNamesTheAccount) {
  Annotations pod{{"iam.amazonaws.com/role", "app"}};
  PodRequest r = DecidePod(policy_,
                           {.namespace_name = "team-a",
                            .pod_name = "web-1",
                            .pod_uid = "uid-1",
                            .service_account = "web",
                            .pod_annotations = &pod,
                            .namespace_annotations = &all_roles_},
                           {.session = {.scope = SessionScope::kServiceAccount}});
  ASSERT_TRUE(r.spec);
  EXPECT_EQ(r.spec->key.session_name, "team-a.sa=web");
  EXPECT_EQ(r.spec->key.owner, "sa/team-a/web");
}

}  // namespace
}  // namespace podiam::identity
