#include "podiam/creds/credential_key.hpp"

#include <gtest/gtest.h>

#include <set>
#include <unordered_set>

#include "podiam/testing/fake_clock.hpp"
#include "podiam/testing/fake_sts_client.hpp"

namespace podiam::creds {
namespace {

CredentialKey Key() {
  return {.role_arn = "arn:aws:iam::123456789012:role/app",
          .external_id = "ext",
          .session_name = "team-a.web",
          .session_policy = "{}"};
}

TEST(CredentialKeyTest, EveryFieldTakesPartInEqualityOrderAndHash) {
  std::vector<CredentialKey> keys(11, Key());
  keys[1].role_arn = "arn:aws:iam::123456789012:role/other";
  keys[2].external_id = "";
  keys[3].session_name = "team-a.api";
  keys[4].session_policy = "";
  keys[5].owner = "pod/other-uid";
  keys[6].tags = {{.key = "kubernetes-namespace", .value = "team-b"}};
  keys[7].tags = {{.key = "kubernetes-namespace", .value = "team-c"}};
  keys[8].source_identity = "team-a.web";
  keys[9].duration_seconds = 900;
  keys[10].target_role_arn = "arn:aws:iam::210987654321:role/target";
  std::unordered_set<CredentialKey> hashed(keys.begin(), keys.end());
  std::set<CredentialKey> ordered(keys.begin(), keys.end());
  EXPECT_EQ(hashed.size(), 11U);
  EXPECT_EQ(ordered.size(), 11U);
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

CredentialSpec Chained() {
  CredentialSpec spec{.key = Key()};
  spec.key.target_role_arn = "arn:aws:iam::210987654321:role/target";
  spec.key.tags = {{.key = "kubernetes-pod-name", .value = "web"}};
  return spec;
}

TEST(CredentialKeyTest, ChainedSpecSplitsIntoTwoRequestsAsEksDoes) {
  const CredentialSpec spec = Chained();
  // First hop: the association's role with the session name and tags; the external ID and the
  // session policy belong to the target; the shortest duration, it only signs the second call.
  aws::AssumeRoleRequest first = ToAssumeRoleRequest(spec, 3600);
  EXPECT_EQ(first.role_arn, "arn:aws:iam::123456789012:role/app");
  EXPECT_EQ(first.role_session_name, "team-a.web");
  EXPECT_EQ(first.tags, spec.key.tags);
  EXPECT_EQ(first.external_id, "");
  EXPECT_EQ(first.policy, "");
  EXPECT_EQ(first.duration_seconds, kChainFirstHopSeconds);
  aws::AssumeRoleRequest second = ToTargetRoleRequest(spec, 3600);
  EXPECT_EQ(second.role_arn, "arn:aws:iam::210987654321:role/target");
  EXPECT_EQ(second.role_session_name, "team-a.web");
  EXPECT_EQ(second.tags, spec.key.tags);
  EXPECT_EQ(second.external_id, "ext");
  EXPECT_EQ(second.policy, "{}");
  EXPECT_EQ(second.duration_seconds, 3600);
  // Role chaining is capped at 1 h by STS, whatever --session-duration says.
  EXPECT_EQ(ToTargetRoleRequest(spec, 43200).duration_seconds, kMaxChainedSeconds);
  CredentialSpec shorter = spec;
  shorter.key.duration_seconds = 1800;
  EXPECT_EQ(ToTargetRoleRequest(shorter, 43200).duration_seconds, 1800);
}

TEST(CredentialKeyTest, AssumeRoleForChainsSigningTheSecondCallWithTheFirstsCredentials) {
  testing::FakeClock clock;
  testing::FakeStsClient sts(clock);
  auto result = AssumeRoleFor(sts, Chained(), 3600);
  ASSERT_TRUE(result) << result.error().ToString();
  const auto requests = sts.Requests();
  const auto signers = sts.Signers();
  ASSERT_EQ(requests.size(), 2U);
  EXPECT_EQ(requests[0].role_arn, "arn:aws:iam::123456789012:role/app");
  EXPECT_EQ(signers[0], "");  // podiam's own credentials
  EXPECT_EQ(requests[1].role_arn, "arn:aws:iam::210987654321:role/target");
  EXPECT_EQ(signers[1], "ASIAFAKE100001");  // the first hop's credentials
  EXPECT_EQ(result->credentials.access_key_id, "ASIAFAKE100002");

  // Without a target: one call, as before.
  testing::FakeStsClient single(clock);
  ASSERT_TRUE(AssumeRoleFor(single, CredentialSpec{.key = Key()}, 3600));
  EXPECT_EQ(single.AssumeRoleCalls(), 1);
}

TEST(CredentialKeyTest, AssumeRoleForSaysWhichHopFailedAndKeepsTheStsCode) {
  testing::FakeClock clock;
  testing::FakeStsClient sts(clock);
  sts.Fail(Error(ErrorCode::kPermissionDenied, "not authorized", "AccessDenied"), 1);
  auto first = AssumeRoleFor(sts, Chained(), 3600);
  ASSERT_FALSE(first);
  EXPECT_EQ(first.error().upstream_code(), "AccessDenied");
  EXPECT_NE(first.error().ToString().find("first hop"), std::string::npos);
  EXPECT_EQ(sts.AssumeRoleCalls(), 1);  // no second call without the first's credentials

  // The target's trust refuses the first role: the second hop's error, named as such.
  struct TargetRefuses final : aws::StsClient {
    explicit TargetRefuses(testing::FakeStsClient& fake) : inner(fake) {}
    Result<aws::AssumeRoleResult> AssumeRole(const aws::AssumeRoleRequest& r) override {
      return inner.AssumeRole(r);
    }
    Result<aws::AssumeRoleResult> AssumeRoleAs(const aws::Credentials& /*caller*/,
                                               const aws::AssumeRoleRequest& /*r*/) override {
      return MakeError(ErrorCode::kPermissionDenied, "not trusted", "AccessDenied");
    }
    Result<aws::AssumeRoleWithWebIdentityResult> AssumeRoleWithWebIdentity(
        const aws::AssumeRoleWithWebIdentityRequest& r) override {
      return inner.AssumeRoleWithWebIdentity(r);
    }
    Result<aws::CallerIdentity> GetCallerIdentity() override { return inner.GetCallerIdentity(); }
    testing::FakeStsClient& inner;
  };
  testing::FakeStsClient inner(clock);
  TargetRefuses refusing(inner);
  auto second = AssumeRoleFor(refusing, Chained(), 3600);
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().upstream_code(), "AccessDenied");
  EXPECT_NE(second.error().ToString().find("second hop"), std::string::npos);
  EXPECT_NE(second.error().ToString().find("role/target"), std::string::npos);
}

}  // namespace
}  // namespace podiam::creds
