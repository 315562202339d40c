#include "podiam/server/protocol.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace podiam::server {
namespace {

TEST(BearerToken, AcceptsTheSchemeInAnyCase) {
  EXPECT_EQ(BearerToken("Bearer abc.def.ghi"), "abc.def.ghi");
  EXPECT_EQ(BearerToken("bearer   abc "), "abc");
  EXPECT_EQ(BearerToken("BEARER x"), "x");
}

TEST(BearerToken, RefusesEverythingElse) {
  for (std::string_view bad : {"", "Bearer", "Bearer ", "Bearer    ", "Bearerabc", "Basic abc",
                               "Bearer a b", "Bearer a\tb", "Bearer \xC3\xA9"}) {
    EXPECT_FALSE(BearerToken(bad).has_value()) << bad;
  }
  EXPECT_FALSE(BearerToken("Bearer " + std::string(kMaxTokenBytes + 1, 'a')).has_value());
  EXPECT_TRUE(BearerToken("Bearer " + std::string(kMaxTokenBytes, 'a')).has_value());
}

TEST(ParseRequest, ReadsTheFourFields) {
  auto r = ParseRequest(
      R"({"namespace":"team-a","name":"web-1","uid":"u-1","roleArn":"arn:aws:iam::1:role/a","x":1})");
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->namespace_name, "team-a");
  EXPECT_EQ(r->name, "web-1");
  EXPECT_EQ(r->uid, "u-1");
  EXPECT_EQ(r->role_arn, "arn:aws:iam::1:role/a");
}

TEST(ParseRequest, RefusesInvalidBodies) {
  for (std::string_view bad :
       {"", "null", "[]", "\"x\"", "{", R"({"namespace":"a","name":"b","uid":"c"})",
        R"({"namespace":"","name":"b","uid":"c","roleArn":"r"})",
        R"({"namespace":"a","name":["b"],"uid":"c","roleArn":"r"})"}) {
    auto r = ParseRequest(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
  }
  std::string big = R"({"namespace":"a","name":"b","uid":"c","roleArn":"r","pad":")" +
                    std::string(kMaxBodyBytes, 'x') + "\"}";
  EXPECT_FALSE(ParseRequest(big));
}

TEST(RefusalResponse, IsJsonWithCodeMessageAndRetryable) {
  auto r = RefusalResponse(Refusal::kPodNotOnNode, "not here");
  EXPECT_EQ(r.status, 403);
  auto j = nlohmann::json::parse(r.body);
  EXPECT_EQ(j["code"], "PodNotOnNode");
  EXPECT_EQ(j["message"], "not here");
  EXPECT_EQ(j["retryable"], false);
  EXPECT_FALSE(j.contains("upstreamCode"));
  auto sts = nlohmann::json::parse(
      RefusalResponse(Refusal::kCredentialsUnavailable, "m", "Throttling").body);
  EXPECT_EQ(sts["upstreamCode"], "Throttling");
  EXPECT_EQ(sts["retryable"], true);
}

TEST(RefusalStatus, MatchesTheProtocol) {
  EXPECT_EQ(RefusalStatus(Refusal::kUnauthorized), 401);
  EXPECT_EQ(RefusalStatus(Refusal::kNotAnAgent), 403);
  EXPECT_EQ(RefusalStatus(Refusal::kNoNodeBinding), 403);
  EXPECT_EQ(RefusalStatus(Refusal::kBadRequest), 400);
  EXPECT_EQ(RefusalStatus(Refusal::kPodNotFound), 404);
  EXPECT_EQ(RefusalStatus(Refusal::kPodNotOnNode), 403);
  EXPECT_EQ(RefusalStatus(Refusal::kRoleDenied), 403);
  EXPECT_EQ(RefusalStatus(Refusal::kNoRole), 404);
  EXPECT_EQ(RefusalStatus(Refusal::kRoleMismatch), 409);
  EXPECT_TRUE(RefusalRetryable(Refusal::kRoleMismatch));
  EXPECT_EQ(RefusalStatus(Refusal::kCredentialsDenied), 403);
  EXPECT_EQ(RefusalStatus(Refusal::kCredentialsUnavailable), 503);
  EXPECT_EQ(RefusalStatus(Refusal::kUnavailable), 503);
  EXPECT_EQ(RefusalCode(Refusal::kMethodNotAllowed), "MethodNotAllowed");
}

TEST(AssumedRoleArn, UsesTheRoleNameWithoutItsPath) {
  creds::CredentialSpec spec;
  spec.key.role_arn = "arn:aws-cn:iam::123456789012:role/team/app";
  spec.key.session_name = "s";
  EXPECT_EQ(AssumedRoleArn(spec), "arn:aws-cn:sts::123456789012:assumed-role/app/s");
  spec.key.role_arn = "nonsense";
  EXPECT_EQ(AssumedRoleArn(spec), "");
}

}  // namespace
}  // namespace podiam::server
