#include "podiam/controller/role_object.hpp"

#include <gtest/gtest.h>

namespace podiam::controller {
namespace {

k8s::Json Role(k8s::Json spec) {
  return {{"apiVersion", "podiam.io/v1"},
          {"kind", "AWSIAMRole"},
          {"metadata",
           {{"namespace", "team-a"},
            {"name", "app"},
            {"uid", "u1"},
            {"resourceVersion", "7"},
            {"generation", 3}}},
          {"spec", std::move(spec)}};
}

TEST(RoleObjectTest, ParsesSpecAndDefaults) {
  auto r = ParseRoleObject(Role({{"roleReference", "team/app"}}));
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->role_reference, "team/app");
  EXPECT_EQ(r->secret_name, "app");  // the object's name
  EXPECT_EQ(r->generation, 3);
  EXPECT_EQ(r->external_id_policy, ExternalIdPolicy::kNamespace);
  EXPECT_FALSE(r->duration_seconds);
  EXPECT_EQ(r->Key(), "team-a/app");
}

TEST(RoleObjectTest, ReadsOptionalFieldsAndStatus) {
  k8s::Json o = Role({{"roleReference", "app"},
                      {"roleSessionDuration", 900},
                      {"externalIdPolicy", "None"},
                      {"secretName", "creds"},
                      {"sessionPolicy", "{}"}});
  o["status"] = {{"roleARN", "arn:aws:iam::123456789012:role/app"},
                 {"observedGeneration", 2},
                 {"conditions", {{{"type", "Ready"}, {"status", "True"}, {"reason", "R"}}}}};
  auto r = ParseRoleObject(o);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->duration_seconds, 900);
  EXPECT_EQ(r->external_id_policy, ExternalIdPolicy::kNone);
  EXPECT_EQ(r->secret_name, "creds");
  EXPECT_EQ(r->session_policy, "{}");
  EXPECT_EQ(r->status_observed_generation, 2);
  EXPECT_EQ(r->ready_status, "True");
  EXPECT_EQ(r->ready_reason, "R");
}

TEST(RoleObjectTest, RejectsMalformedObjects) {
  EXPECT_FALSE(ParseRoleObject(k8s::Json::array()));
  EXPECT_FALSE(ParseRoleObject(Role(k8s::Json::object())));
  EXPECT_FALSE(ParseRoleObject(Role({{"roleReference", 5}})));
  EXPECT_FALSE(ParseRoleObject(Role({{"roleReference", "a"}, {"roleSessionDuration", 60}})));
  EXPECT_FALSE(ParseRoleObject(Role({{"roleReference", "a"}, {"roleSessionDuration", "1h"}})));
  EXPECT_FALSE(ParseRoleObject(Role({{"roleReference", "a"}, {"externalIdPolicy", "Any"}})));
  k8s::Json no_ns = Role({{"roleReference", "a"}});
  no_ns["metadata"].erase("namespace");
  EXPECT_FALSE(ParseRoleObject(no_ns));
}

TEST(RoleObjectTest, ResolvesNamesPathsAndArnsInAnyPartition) {
  auto base = aws::ParseBaseRoleArn("arn:aws:iam::123456789012:role/k8s/");
  ASSERT_TRUE(base);
  EXPECT_EQ(ResolveRoleReference("app", *base)->ToString(),
            "arn:aws:iam::123456789012:role/k8s/app");
  EXPECT_EQ(ResolveRoleReference("team/app", *base)->ToString(),
            "arn:aws:iam::123456789012:role/k8s/team/app");
  EXPECT_EQ(ResolveRoleReference("/team/app", *base)->ToString(),
            "arn:aws:iam::123456789012:role/k8s/team/app");
  EXPECT_EQ(ResolveRoleReference("arn:aws-cn:iam::210987654321:role/p/app", *base)->ToString(),
            "arn:aws-cn:iam::210987654321:role/p/app");
  EXPECT_EQ(
      ResolveRoleReference("arn:aws-us-gov:iam::210987654321:role/app", std::nullopt)->ToString(),
      "arn:aws-us-gov:iam::210987654321:role/app");
  auto no_base = ResolveRoleReference("app", std::nullopt);
  ASSERT_FALSE(no_base);
  EXPECT_NE(no_base.error().message().find("base"), std::string::npos) << no_base.error().message();
  EXPECT_FALSE(ResolveRoleReference("arn:aws:s3:::bucket", *base));
}

TEST(RoleObjectTest, ExternalIdIsTheNamespaceAndCluster) {
  RoleObject r{.namespace_name = "team-a", .name = "app"};
  EXPECT_EQ(ExternalIdFor(r, ""), "team-a");
  EXPECT_EQ(ExternalIdFor(r, "prod"), "team-a/prod");
  r.external_id_policy = ExternalIdPolicy::kNone;
  EXPECT_EQ(ExternalIdFor(r, "prod"), "");
}

TEST(RoleObjectTest, SessionNamesFitStsAndStayDistinct) {
  RoleObject a{.namespace_name = std::string(40, 'n'), .name = std::string(40, 'a') + "1"};
  RoleObject b{.namespace_name = std::string(40, 'n'), .name = std::string(40, 'a') + "2"};
  std::string sa = SessionNameFor(a);
  std::string sb = SessionNameFor(b);
  EXPECT_LE(sa.size(), 64U);
  EXPECT_NE(sa, sb);
  EXPECT_EQ(sa.substr(0, 41), std::string(40, 'n') + ".");
  EXPECT_EQ(SessionNameFor({.namespace_name = "team-a", .name = "app"}), "team-a.app");
}

}  // namespace
}  // namespace podiam::controller
