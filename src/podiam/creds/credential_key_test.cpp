#include "podiam/creds/credential_key.hpp"

#include <gtest/gtest.h>

#include <set>
#include <unordered_set>

namespace podiam::creds {
namespace {

CredentialKey Key() {
  return {.role_arn = "arn:aws:iam::123456789012:role/app",
          .external_id = "ext",
          .session_name = "team-a.web",
          .session_policy = "{}"};
}

TEST(CredentialKeyTest, EveryFieldTakesPartInEqualityOrderAndHash) {
  std::vector<CredentialKey> keys(10, Key());
  keys[1].role_arn = "arn:aws:iam::123456789012:role/other";
  keys[2].external_id = "";
  keys[3].session_name = "team-a.api";
  keys[4].session_policy = "";
  keys[5].owner = "pod/other-uid";
  keys[6].tags = {{.key = "kubernetes-namespace", .value = "team-b"}};
  keys[7].tags = {{.key = "kubernetes-namespace", .value = "team-c"}};
  keys[8].source_identity = "team-a.web";
  keys[9].duration_seconds = 900;
  std::unordered_set<CredentialKey> hashed(keys.begin(), keys.end());
  std::set<CredentialKey> ordered(keys.begin(), keys.end());
  EXPECT_EQ(hashed.size(), 10U);
  EXPECT_EQ(ordered.size(), 10U);
  EXPECT_EQ(Key(), Key());
  EXPECT_EQ(CredentialKeyHash{}(Key()), std::hash<CredentialKey>{}(Key()));
}

TEST(CredentialKeyTest, FieldsDoNotRunIntoEachOther) {
  // "ab" + "" and "a" + "b" must not collide by construction.
  CredentialKey a{.role_arn = "ab", .external_id = ""};
  CredentialKey b{.role_arn = "a", .external_id = "b"};
  EXPECT_NE(a, b);
  EXPECT_NE(CredentialKeyHash{}(a), CredentialKeyHash{}(b));
}

TEST(CredentialKeyTest, RequestCarriesKeyAndSpec) {
  CredentialSpec spec{.key = Key()};
  spec.key.tags = {{.key = "kubernetes-pod-name", .value = "web"}};
  spec.key.source_identity = "web";
  spec.key.owner = "pod/uid-1";
  aws::AssumeRoleRequest request = ToAssumeRoleRequest(spec, 3600);
  EXPECT_EQ(request.role_arn, spec.key.role_arn);
  EXPECT_EQ(request.role_session_name, "team-a.web");
  EXPECT_EQ(request.external_id, "ext");
  EXPECT_EQ(request.policy, "{}");
  EXPECT_EQ(request.tags, spec.key.tags);
  EXPECT_EQ(request.source_identity, "web");
  EXPECT_EQ(request.duration_seconds, 3600);
  spec.key.duration_seconds = 900;
  EXPECT_EQ(ToAssumeRoleRequest(spec, 3600).duration_seconds, 900);
}

}  // namespace
}  // namespace podiam::creds
