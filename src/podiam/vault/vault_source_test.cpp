#include "podiam/vault/vault_source.hpp"

#include <gtest/gtest.h>

#include "podiam/testing/fake_clock.hpp"
#include "podiam/testing/fake_http_client.hpp"
#include "podiam/vault/fake_vault_test_util.hpp"
#include "podiam/vault/response.hpp"

namespace podiam::vault {
namespace {

class FixedJwt final : public JwtSource {
 public:
  Result<std::string> Read() override { return std::string("jwt-of-podiam"); }
};

creds::CredentialSpec Spec(std::string role_arn) {
  return {.key = {.role_arn = std::move(role_arn), .session_name = "team-a.web-1"}};
}

class VaultSourceTest : public ::testing::Test {
 protected:
  VaultSource Source(VaultSourceOptions options = {}) {
    return VaultSource(client_, clock_, std::move(options));
  }

  podiam::testing::FakeHttpClient http_;
  testing::FakeVault vault_{http_};
  FixedJwt jwt_;
  podiam::testing::FakeClock clock_;
  metrics::Registry registry_;
  VaultMetrics metrics_{registry_};
  VaultClient client_{http_,
                      jwt_,
                      clock_,
                      metrics_,
                      {.addr = "https://vault.test:8200", .auth_role = "podiam-agent"}};
};

TEST_F(VaultSourceTest, AssumedRoleAsksStsWithTtlArnAndSessionName) {
  auto source = Source();
  auto r = source.Fetch(Spec("arn:aws:iam::123456789012:role/team/app"), 3600);
  ASSERT_TRUE(r) << r.error().ToString();
  auto request = http_.last_request();
  EXPECT_EQ(request.method, "POST");
  EXPECT_EQ(request.url, "https://vault.test:8200/v1/aws/sts/app");
  EXPECT_EQ(request.body, R"({"role_arn":"arn:aws:iam::123456789012:role/team/app",)"
                          R"("role_session_name":"team-a.web-1","ttl":"3600s"})");
  EXPECT_EQ(r->credentials.access_key_id, "ASIAVAULT");
  EXPECT_EQ(r->credentials.secret_access_key, "sk");
  EXPECT_EQ(r->credentials.session_token, "st");
  EXPECT_EQ(r->credentials.expiration, clock_.Now() + std::chrono::seconds(900));
  EXPECT_EQ(r->credentials.source, "vault aws/sts/app");
  EXPECT_EQ(r->assumed_role_user.arn, "arn:aws:sts::123456789012:assumed-role/app/s");
  EXPECT_EQ(source.Name(), "vault");
  EXPECT_EQ(source.lease_count(), 0U);  // STS leases are not revocable
}

TEST_F(VaultSourceTest, SpecDurationWinsAndTargetRoleIsTheOneMapped) {
  auto source = Source({.role_map = {{"arn:aws:iam::123456789012:role/target", "app"}}});
  auto spec = Spec("arn:aws:iam::123456789012:role/first");
  spec.key.target_role_arn = "arn:aws:iam::123456789012:role/target";
  spec.key.duration_seconds = 900;
  ASSERT_TRUE(source.Fetch(spec, 3600));
  EXPECT_NE(http_.last_request().body.find(R"("ttl":"900s")"), std::string::npos);
  EXPECT_NE(http_.last_request().body.find("role/target"), std::string::npos);
}

TEST_F(VaultSourceTest, FederationTokenSendsOnlyTheTtl) {
  auto source = Source({.credential_type = CredentialType::kFederationToken});
  ASSERT_TRUE(source.Fetch(Spec("arn:aws:iam::123456789012:role/app"), 1800));
  EXPECT_EQ(http_.last_request().body, R"({"ttl":"1800s"})");
}

TEST_F(VaultSourceTest, IamUserReadsCredsAndKeepsTheLease) {
  auto source = Source({.credential_type = CredentialType::kIamUser});
  auto r = source.Fetch(Spec("arn:aws:iam::123456789012:role/app"), 3600);
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(http_.last_request().method, "GET");
  EXPECT_EQ(http_.last_request().url, "https://vault.test:8200/v1/aws/creds/app");
  EXPECT_EQ(source.lease_count(), 1U);
  EXPECT_EQ(source.RevokeLeases(), 1U);
  EXPECT_EQ(http_.last_request().method, "PUT");
  EXPECT_EQ(http_.last_request().url, "https://vault.test:8200/v1/sys/leases/revoke");
  EXPECT_EQ(http_.last_request().body, R"({"lease_id":"aws/x/app/l1"})");
  EXPECT_EQ(source.lease_count(), 0U);
}

TEST_F(VaultSourceTest, ExpiredLeasesAreNotRevoked) {
  auto source = Source({.credential_type = CredentialType::kIamUser});
  ASSERT_TRUE(source.Fetch(Spec("arn:aws:iam::123456789012:role/app"), 3600));
  clock_.Advance(std::chrono::seconds(901));
  EXPECT_EQ(source.RevokeLeases(), 0U);
}

TEST_F(VaultSourceTest, RoleNotAllowedIsPermissionDenied) {
  auto source = Source();
  auto r = source.Fetch(Spec("arn:aws:iam::123456789012:role/other"), 3600);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kPermissionDenied);
  EXPECT_EQ(r.error().upstream_code(), kVaultPermissionDenied);
  EXPECT_FALSE(r.error().retryable());
  EXPECT_NE(r.error().message().find("'other'"), std::string::npos);
}

TEST_F(VaultSourceTest, UnknownVaultRoleIsNotRetryable) {
  auto source = Source();
  auto r = source.Fetch(Spec("arn:aws:iam::123456789012:role/missing"), 3600);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().upstream_code(), kVaultBadRequest);
  EXPECT_FALSE(r.error().retryable());
  EXPECT_NE(r.error().message().find("not found"), std::string::npos);
}

TEST_F(VaultSourceTest, SealedIsRetryable) {
  auto source = Source();
  vault_.sealed = true;
  auto r = source.Fetch(Spec("arn:aws:iam::123456789012:role/app"), 3600);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kUnavailable);
  EXPECT_EQ(r.error().upstream_code(), kVaultSealed);
  EXPECT_TRUE(r.error().retryable());
}

TEST_F(VaultSourceTest, SessionPolicyIsRefused) {
  auto source = Source();
  auto spec = Spec("arn:aws:iam::123456789012:role/app");
  spec.key.session_policy = R"({"Version":"2012-10-17"})";
  auto r = source.Fetch(spec, 3600);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_FALSE(r.error().retryable());
  EXPECT_EQ(http_.request_count(), 0U);
}

TEST_F(VaultSourceTest, BadRoleArnIsInvalidArgument) {
  auto source = Source();
  auto r = source.Fetch(Spec("not-an-arn"), 3600);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(http_.request_count(), 0U);
}

TEST(VaultRoleMapping, MapThenNamingRule) {
  podiam::testing::FakeHttpClient http;
  FixedJwt jwt;
  podiam::testing::FakeClock clock;
  metrics::Registry registry;
  VaultMetrics metrics(registry);
  VaultClient client(http, jwt, clock, metrics, {.addr = "https://v"});
  VaultSource source(client, clock,
                     {.role_map = {{"arn:aws:iam::123456789012:role/app", "team-a-app"}}});
  EXPECT_EQ(source.VaultRoleFor("arn:aws:iam::123456789012:role/app"), "team-a-app");
  EXPECT_EQ(source.VaultRoleFor("arn:aws:iam::123456789012:role/x/y/db"), "db");
  EXPECT_FALSE(source.VaultRoleFor("arn:aws:iam::123456789012:user/u"));
}

TEST(ParseRoleMap, EntriesAndErrors) {
  auto map = ParseRoleMap({"arn:aws:iam::123456789012:role/app=app-v",
                           "arn:aws:iam::1"
                           "23456789012:role/db=db"});
  ASSERT_TRUE(map) << map.error().ToString();
  EXPECT_EQ(map->size(), 2U);
  EXPECT_EQ(map->at("arn:aws:iam::123456789012:role/app"), "app-v");
  for (const auto& bad : std::vector<std::vector<std::string>>{
           {"no-equals"},
           {"arn:aws:s3:::bucket=x"},
           {"arn:aws:iam::123456789012:role/app=a/b"},
           {"arn:aws:iam::123456789012:role/app="},
           {"arn:aws:iam::123456789012:role/app=a", "arn:aws:iam::123456789012:role/app=b"}}) {
    auto r = ParseRoleMap(bad);
    ASSERT_FALSE(r) << bad.front();
    EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(r.error().message().find("--vault-role-map"), std::string::npos);
  }
}

TEST(ValidVaultName, Rules) {
  EXPECT_TRUE(ValidVaultName("aws", false));
  EXPECT_TRUE(ValidVaultName("team/aws", true));
  EXPECT_FALSE(ValidVaultName("team/aws", false));
  EXPECT_FALSE(ValidVaultName("", true));
  EXPECT_FALSE(ValidVaultName("/aws", true));
  EXPECT_FALSE(ValidVaultName("a/../b", true));
  EXPECT_FALSE(ValidVaultName("..", false));
  EXPECT_FALSE(ValidVaultName("a?b", false));
  EXPECT_FALSE(ValidVaultName("a b", false));
  EXPECT_TRUE(ValidVaultName("app_1.v2@x=y+z,w-", false));
}

TEST(CredentialType, Names) {
  for (auto type :
       {CredentialType::kAssumedRole, CredentialType::kFederationToken, CredentialType::kIamUser}) {
    EXPECT_EQ(ParseCredentialType(CredentialTypeName(type)), type);
  }
  EXPECT_FALSE(ParseCredentialType("sts"));
}

}  // namespace
}  // namespace podiam::vault
