#include "podiam/vault/client.hpp"

#include <gtest/gtest.h>

#include "podiam/testing/fake_clock.hpp"
#include "podiam/testing/fake_http_client.hpp"
#include "podiam/vault/fake_vault_test_util.hpp"
#include "podiam/vault/response.hpp"

namespace podiam::vault {
namespace {

using std::chrono::seconds;

class StaticJwt final : public JwtSource {
 public:
  Result<std::string> Read() override {
    if (fail) {
      return MakeError(ErrorCode::kFailedPrecondition, "no token file");
    }
    return value;
  }
  std::string value = "jwt-of-podiam";
  bool fail = false;
};

class VaultClientTest : public ::testing::Test {
 protected:
  double Requests(std::string_view op, std::string_view result) {
    return metrics_.requests.WithLabels({op, result}).Value();
  }

  podiam::testing::FakeHttpClient http_;
  testing::FakeVault vault_{http_};
  StaticJwt jwt_;
  podiam::testing::FakeClock clock_;
  metrics::Registry registry_;
  VaultMetrics metrics_{registry_};
  VaultClient client_{http_,
                      jwt_,
                      clock_,
                      metrics_,
                      {.addr = "https://vault.test:8200/", .auth_role = "podiam-agent"}};
};

TEST_F(VaultClientTest, LogsInWithTheJwtAndRole) {
  ASSERT_TRUE(client_.Login());
  EXPECT_TRUE(client_.LoggedIn());
  auto request = http_.last_request();
  EXPECT_EQ(request.method, "POST");
  EXPECT_EQ(request.url, "https://vault.test:8200/v1/auth/kubernetes/login");
  EXPECT_EQ(request.body, R"({"jwt":"jwt-of-podiam","role":"podiam-agent"})");
  EXPECT_FALSE(request.headers.Get("X-Vault-Token").has_value());
  EXPECT_EQ(metrics_.logins.WithLabels({"ok"}).Value(), 1);
  EXPECT_EQ(metrics_.token_ttl.Value(), 3600);
}

TEST_F(VaultClientTest, CallLogsInOnDemandAndSendsTheToken) {
  auto body = client_.Call("sts", "POST", "aws/sts/app", "{}");
  ASSERT_TRUE(body) << body.error().ToString();
  EXPECT_EQ(http_.last_request().headers.Get("X-Vault-Token"), "hvs.token1");
  EXPECT_EQ(http_.last_request().headers.Get("Content-Type"), "application/json");
  EXPECT_EQ(Requests("login", "ok"), 1);
  EXPECT_EQ(Requests("sts", "ok"), 1);
}

TEST_F(VaultClientTest, LoginFailures) {
  jwt_.value = "someone-else";
  auto denied = client_.Login();
  ASSERT_FALSE(denied);
  EXPECT_EQ(denied.error().code(), ErrorCode::kPermissionDenied);
  EXPECT_NE(denied.error().message().find("role podiam-agent"), std::string::npos);
  EXPECT_FALSE(client_.LoggedIn());
  EXPECT_EQ(metrics_.logins.WithLabels({"failed"}).Value(), 1);

  jwt_.fail = true;
  auto no_file = client_.Login();
  ASSERT_FALSE(no_file);
  EXPECT_EQ(no_file.error().code(), ErrorCode::kFailedPrecondition);

  jwt_.fail = false;
  jwt_.value = "jwt-of-podiam";
  vault_.sealed = true;
  auto sealed = client_.Call("sts", "POST", "aws/sts/app", "{}");
  ASSERT_FALSE(sealed);
  EXPECT_EQ(sealed.error().upstream_code(), kVaultSealed);
  EXPECT_TRUE(sealed.error().retryable());
}

TEST_F(VaultClientTest, TransportFailuresAreRetryableUnavailable) {
  http_.PushError(ErrorCode::kUnavailable, "connection refused", /*retryable=*/true);
  auto r = client_.Login();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kUnavailable);
  EXPECT_EQ(r.error().upstream_code(), kVaultUnavailable);
  EXPECT_TRUE(r.error().retryable());
  EXPECT_EQ(Requests("login", "VaultUnavailable"), 1);
}

TEST_F(VaultClientTest, RenewsWithAThirdOfTheLeaseLeft) {
  ASSERT_TRUE(client_.Login());
  clock_.Advance(seconds(2000));
  ASSERT_TRUE(client_.Maintain());
  EXPECT_EQ(vault_.renewals, 0);
  clock_.Advance(seconds(500));  // 2500 s of 3600: less than a third left
  ASSERT_TRUE(client_.Maintain());
  EXPECT_EQ(vault_.renewals, 1);
  EXPECT_EQ(vault_.logins, 1);
  EXPECT_EQ(metrics_.renewals.WithLabels({"ok"}).Value(), 1);
  // The renewed lease counts from now.
  clock_.Advance(seconds(3000));
  EXPECT_TRUE(client_.LoggedIn());
}

TEST_F(VaultClientTest, LogsInAgainWhenRenewalStopsHelping) {
  ASSERT_TRUE(client_.Login());
  vault_.token_ttl = 60;  // capped by the max TTL
  clock_.Advance(seconds(2500));
  ASSERT_TRUE(client_.Maintain());
  EXPECT_EQ(vault_.renewals, 1);
  clock_.Advance(seconds(45));
  ASSERT_TRUE(client_.Maintain());
  EXPECT_EQ(vault_.renewals, 1);
  EXPECT_EQ(vault_.logins, 2);
}

TEST_F(VaultClientTest, ExpiredTokenMeansANewLogin) {
  ASSERT_TRUE(client_.Login());
  clock_.Advance(seconds(3600));
  EXPECT_FALSE(client_.LoggedIn());
  ASSERT_TRUE(client_.Call("sts", "POST", "aws/sts/app", "{}"));
  EXPECT_EQ(vault_.logins, 2);
}

TEST_F(VaultClientTest, SealedRenewalKeepsTheTokenUntilItExpires) {
  ASSERT_TRUE(client_.Login());
  clock_.Advance(seconds(2500));
  vault_.sealed = true;
  EXPECT_FALSE(client_.Maintain());
  EXPECT_TRUE(client_.LoggedIn());
  EXPECT_EQ(metrics_.renewals.WithLabels({"failed"}).Value(), 1);
}

TEST_F(VaultClientTest, RevokedTokenLogsInAgainOnceAndRepeatsTheCall) {
  ASSERT_TRUE(client_.Login());
  vault_.RevokeAll();
  auto body = client_.Call("sts", "POST", "aws/sts/app", "{}");
  ASSERT_TRUE(body) << body.error().ToString();
  EXPECT_EQ(vault_.logins, 2);
  EXPECT_EQ(http_.last_request().headers.Get("X-Vault-Token"), "hvs.token2");
  EXPECT_EQ(Requests("lookup", "VaultPermissionDenied"), 1);
}

TEST_F(VaultClientTest, PolicyDenialIsNotARelogin) {
  ASSERT_TRUE(client_.Login());
  auto r = client_.Call("sts", "POST", "aws/sts/other", "{}");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kPermissionDenied);
  EXPECT_EQ(r.error().upstream_code(), kVaultPermissionDenied);
  EXPECT_FALSE(r.error().retryable());
  EXPECT_NE(r.error().message().find("permission denied"), std::string::npos);
  EXPECT_EQ(vault_.logins, 1);
  EXPECT_EQ(Requests("lookup", "ok"), 1);
}

TEST_F(VaultClientTest, DeniedAfterARelogin) {
  ASSERT_TRUE(client_.Login());
  vault_.RevokeAll();
  // Every token is refused right after its login: one re-login, then the error.
  http_.SetHandler([](const http::ClientRequest& r) -> Result<http::Response> {
    if (r.url.ends_with("/login")) {
      return http::Response::Json(
          200, R"({"auth":{"client_token":"hvs.x","lease_duration":60,"renewable":false}})");
    }
    return http::Response::Json(403, R"({"errors":["permission denied"]})");
  });
  auto r = client_.Call("sts", "POST", "aws/sts/app", "{}");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().upstream_code(), kVaultPermissionDenied);
  EXPECT_EQ(Requests("login", "ok"), 2);
}

TEST_F(VaultClientTest, BackgroundLoopLogsIn) {
  client_.Start();
  for (int i = 0; i < 200 && !client_.LoggedIn(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_TRUE(client_.LoggedIn());
  client_.Stop();
}

}  // namespace
}  // namespace podiam::vault
