#include "podiam/vault/response.hpp"

#include <gtest/gtest.h>

namespace podiam::vault {
namespace {

TEST(ParseLoginResponse, ReadsTheAuthBlock) {
  auto token = ParseLoginResponse(
      R"({"request_id":"r","auth":{"client_token":"hvs.abc","accessor":"acc","policies":["p"],)"
      R"("lease_duration":3600,"renewable":true}})");
  ASSERT_TRUE(token) << token.error().ToString();
  EXPECT_EQ(token->client_token, "hvs.abc");
  EXPECT_EQ(token->accessor, "acc");
  EXPECT_EQ(token->lease_duration, 3600);
  EXPECT_TRUE(token->renewable);
}

TEST(ParseLoginResponse, RefusesWhatIsNotALogin) {
  for (const char* body :
       {"", "null", "[]", R"({"auth":null})", R"({"auth":{}})", R"({"auth":{"client_token":""}})",
        R"({"auth":{"client_token":1}})", R"({"auth":{"client_token":"t","lease_duration":-1}})",
        R"({"auth":{"client_token":"t","lease_duration":"60"}})",
        R"({"auth":{"client_token":"t","lease_duration":1e99}})"}) {
    auto token = ParseLoginResponse(body);
    ASSERT_FALSE(token) << body;
    EXPECT_EQ(token.error().code(), ErrorCode::kUpstreamInvalid) << body;
    EXPECT_EQ(token.error().upstream_code(), kVaultInvalidResponse);
  }
}

TEST(ParseAwsSecretResponse, ReadsAnStsSecret) {
  auto secret = ParseAwsSecretResponse(
      R"({"lease_id":"aws/sts/app/xyz","lease_duration":3599,"renewable":false,)"
      R"("data":{"access_key":"ASIAX","secret_key":"sk","security_token":"st","session_token":)"
      R"("st","arn":"arn:aws:sts::123456789012:assumed-role/app/s","ttl":3599}})");
  ASSERT_TRUE(secret) << secret.error().ToString();
  EXPECT_EQ(secret->access_key, "ASIAX");
  EXPECT_EQ(secret->secret_key, "sk");
  EXPECT_EQ(secret->session_token, "st");
  EXPECT_EQ(secret->arn, "arn:aws:sts::123456789012:assumed-role/app/s");
  EXPECT_EQ(secret->lease_id, "aws/sts/app/xyz");
  EXPECT_EQ(secret->lease_duration, 3599);
}

TEST(ParseAwsSecretResponse, TakesSecurityTokenFromOlderVaultsAndNoneForIamUsers) {
  auto old = ParseAwsSecretResponse(
      R"({"lease_duration":60,"data":{"access_key":"a","secret_key":"s","security_token":"t"}})");
  ASSERT_TRUE(old);
  EXPECT_EQ(old->session_token, "t");
  auto user = ParseAwsSecretResponse(
      R"({"lease_id":"aws/creds/u/1","lease_duration":60,"renewable":true,)"
      R"("data":{"access_key":"AKIA","secret_key":"s","security_token":null}})");
  ASSERT_TRUE(user);
  EXPECT_EQ(user->session_token, "");
  EXPECT_TRUE(user->renewable);
}

TEST(ParseAwsSecretResponse, RefusesIncompleteSecrets) {
  for (const char* body : {"{", R"({"data":[]})", R"({"data":{"access_key":"a"}})",
                           R"({"data":{"access_key":"","secret_key":"s"}})",
                           R"({"data":{"access_key":"a","secret_key":"s","session_token":5}})",
                           R"({"lease_id":3,"data":{"access_key":"a","secret_key":"s"}})"}) {
    auto secret = ParseAwsSecretResponse(body);
    ASSERT_FALSE(secret) << body;
    EXPECT_EQ(secret.error().code(), ErrorCode::kUpstreamInvalid);
    // Nothing of the body is echoed: it may hold a key.
    EXPECT_EQ(secret.error().message().find("\"s\""), std::string::npos);
  }
}

TEST(ParseTokenLookupResponse, ReadsTtl) {
  auto info = ParseTokenLookupResponse(R"({"data":{"ttl":42,"renewable":true}})");
  ASSERT_TRUE(info);
  EXPECT_EQ(info->ttl, 42);
  EXPECT_TRUE(info->renewable);
  EXPECT_FALSE(ParseTokenLookupResponse(R"({"data":{"ttl":-2}})"));
}

TEST(VaultErrorFromResponse, SealedIsRetryableUnavailable) {
  Error e = VaultErrorFromResponse(503, R"({"errors":["Vault is sealed"]})");
  EXPECT_EQ(e.code(), ErrorCode::kUnavailable);
  EXPECT_EQ(e.upstream_code(), kVaultSealed);
  EXPECT_TRUE(e.retryable());
}

TEST(VaultErrorFromResponse, ServerErrorsAreRetryable) {
  for (int status : {500, 502, 503, 504}) {
    Error e = VaultErrorFromResponse(status, "<html>bad gateway</html>");
    EXPECT_EQ(e.code(), ErrorCode::kUnavailable);
    EXPECT_EQ(e.upstream_code(), kVaultUnavailable);
    EXPECT_TRUE(e.retryable());
    EXPECT_NE(e.message().find(std::to_string(status)), std::string::npos);
  }
  Error throttled = VaultErrorFromResponse(429, "{}");
  EXPECT_EQ(throttled.code(), ErrorCode::kResourceExhausted);
  EXPECT_TRUE(throttled.retryable());
}

TEST(VaultErrorFromResponse, PermissionDeniedKeepsVaultsText) {
  Error e =
      VaultErrorFromResponse(403, R"({"errors":["1 error occurred:\n\t* permission denied\n\n"]})");
  EXPECT_EQ(e.code(), ErrorCode::kPermissionDenied);
  EXPECT_EQ(e.upstream_code(), kVaultPermissionDenied);
  EXPECT_FALSE(e.retryable());
  EXPECT_NE(e.message().find("permission denied"), std::string::npos);
}

TEST(VaultErrorFromResponse, UnknownRoleIsNotRetryable) {
  Error bad = VaultErrorFromResponse(400, R"({"errors":["Role \"nope\" not found"]})");
  EXPECT_EQ(bad.code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(bad.upstream_code(), kVaultBadRequest);
  EXPECT_FALSE(bad.retryable());
  EXPECT_NE(bad.message().find("Role \"nope\" not found"), std::string::npos);
  Error missing = VaultErrorFromResponse(404, R"({"errors":[]})");
  EXPECT_EQ(missing.code(), ErrorCode::kNotFound);
  EXPECT_EQ(missing.upstream_code(), kVaultNotFound);
  EXPECT_FALSE(missing.retryable());
}

TEST(VaultErrorFromResponse, AwsFailuresBehindVault) {
  Error denied = VaultErrorFromResponse(
      400, R"({"errors":["Error assuming role: AccessDenied: User is not authorized"]})");
  EXPECT_EQ(denied.code(), ErrorCode::kPermissionDenied);
  EXPECT_EQ(denied.upstream_code(), kVaultAwsError);
  EXPECT_FALSE(denied.retryable());
  Error down = VaultErrorFromResponse(
      400, R"({"errors":["Error assuming role: RequestError: send request failed"]})");
  EXPECT_EQ(down.code(), ErrorCode::kUnavailable);
  EXPECT_TRUE(down.retryable());
}

TEST(VaultErrorText, JoinsBoundsAndScrubs) {
  EXPECT_EQ(VaultErrorText(R"({"errors":["a","","b",3]})"), "a; b");
  EXPECT_EQ(VaultErrorText("not json"), "");
  std::string longer(2000, 'x');
  EXPECT_LE(VaultErrorText(R"({"errors":[")" + longer + R"("]})").size(), 520U);
  std::string jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlc2lnbmF0dXJl";
  EXPECT_EQ(VaultErrorText(R"({"errors":["bad jwt )" + jwt + R"("]})").find(jwt),
            std::string::npos);
}

}  // namespace
}  // namespace podiam::vault
