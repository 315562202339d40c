#include "podiam/serverclient/protocol.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace podiam::serverclient {
namespace {

using ::testing::HasSubstr;

constexpr char kOk[] = R"({"roleArn":"arn:aws:iam::123456789012:role/app",
  "sessionName":"team-a.web-1",
  "assumedRoleUser":{"arn":"arn:aws:sts::123456789012:assumed-role/app/team-a.web-1",
                     "assumedRoleId":"AROAEXAMPLE:team-a.web-1"},
  "credentials":{"AccessKeyId":"ASIAEXAMPLE","SecretAccessKey":"secret","SessionToken":"token",
                 "Expiration":"2026-12-05T10:00:00Z"}})";

TEST(ProtocolTest, EncodesTheRequest) {
  auto body = nlohmann::json::parse(
      EncodeRequest({.namespace_name = "team-a", .name = "web-1", .uid = "0b3c"},
                    "arn:aws:iam::123456789012:role/app"));
  EXPECT_EQ(body, nlohmann::json::parse(R"({"namespace":"team-a","name":"web-1","uid":"0b3c",
                                            "roleArn":"arn:aws:iam::123456789012:role/app"})"));
}

TEST(ProtocolTest, EncodingNeverFailsOnBadUtf8) {
  auto body = EncodeRequest({.namespace_name = "a\xff", .name = "b", .uid = "c"}, "r");
  EXPECT_TRUE(nlohmann::json::accept(body));
}

TEST(ProtocolTest, ParsesTheSuccessBody) {
  auto r = ParseSuccess(kOk);
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->role_arn, "arn:aws:iam::123456789012:role/app");
  EXPECT_EQ(r->session_name, "team-a.web-1");
  EXPECT_EQ(r->result.assumed_role_user.assumed_role_id, "AROAEXAMPLE:team-a.web-1");
  EXPECT_EQ(r->result.credentials.access_key_id, "ASIAEXAMPLE");
  EXPECT_EQ(r->result.credentials.secret_access_key, "secret");
  EXPECT_EQ(r->result.credentials.session_token, "token");
  ASSERT_TRUE(r->result.credentials.expiration);
  EXPECT_EQ(aws::FormatTimestamp(*r->result.credentials.expiration), "2026-12-05T10:00:00Z");
}

// podiam server sends assumedRoleId "" (its broker does not keep STS's AROA… id).
TEST(ProtocolTest, AcceptsTheServersEmptyAssumedRoleId) {
  auto body = nlohmann::json::parse(kOk);
  body["assumedRoleUser"]["assumedRoleId"] = "";
  auto r = ParseSuccess(body.dump());
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->result.assumed_role_user.assumed_role_id, "");
  body["assumedRoleUser"].erase("assumedRoleId");
  EXPECT_TRUE(ParseSuccess(body.dump()));
}

TEST(ProtocolTest, RefusesIncompleteSuccessBodies) {
  auto base = nlohmann::json::parse(kOk);
  std::vector<nlohmann::json> bad;
  for (const char* member : {"roleArn", "sessionName", "assumedRoleUser", "credentials"}) {
    auto b = base;
    b.erase(member);
    bad.push_back(b);
  }
  for (const char* member : {"AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration"}) {
    auto b = base;
    b["credentials"][member] = "";
    bad.push_back(b);
    b["credentials"][member] = 7;
    bad.push_back(b);
  }
  auto b = base;
  b["credentials"]["Expiration"] = "tomorrow";
  bad.push_back(b);
  b = base;
  b["assumedRoleUser"].erase("arn");
  bad.push_back(b);
  for (const auto& body : bad) {
    auto r = ParseSuccess(body.dump());
    ASSERT_FALSE(r) << body.dump();
    EXPECT_EQ(r.error().code(), ErrorCode::kUpstreamInvalid);
    EXPECT_TRUE(r.error().retryable());
  }
  for (const char* text : {"", "null", "[]", "{", "\"x\""}) {
    EXPECT_FALSE(ParseSuccess(text)) << text;
  }
}

struct StatusCase {
  int status;
  ErrorCode code;
  bool retryable;
  bool fails_over;
};

TEST(ProtocolTest, MapsEveryStatus) {
  for (const StatusCase& c : {
           StatusCase{400, ErrorCode::kInvalidArgument, false, false},
           StatusCase{401, ErrorCode::kUnauthenticated, false, false},
           StatusCase{403, ErrorCode::kPermissionDenied, false, false},
           StatusCase{404, ErrorCode::kNotFound, false, false},
           StatusCase{409, ErrorCode::kConflict, true, false},
           StatusCase{418, ErrorCode::kInvalidArgument, false, false},
           StatusCase{429, ErrorCode::kUnavailable, true, true},
           StatusCase{500, ErrorCode::kUnavailable, true, true},
           StatusCase{502, ErrorCode::kUnavailable, true, true},
           StatusCase{503, ErrorCode::kUnavailable, true, true},
           StatusCase{504, ErrorCode::kUnavailable, true, true},
           StatusCase{302, ErrorCode::kUpstreamInvalid, true, true},
           StatusCase{204, ErrorCode::kUpstreamInvalid, true, true},
       }) {
    Error e = ErrorFromResponse(c.status, R"({"code":"X","message":"m","retryable":false})");
    EXPECT_EQ(e.code(), c.code) << c.status;
    EXPECT_EQ(e.retryable(), c.retryable) << c.status;
    EXPECT_EQ(FailsOver(c.status), c.fails_over) << c.status;
    EXPECT_THAT(e.message(), HasSubstr(std::to_string(c.status))) << c.status;
  }
}

TEST(ProtocolTest, ErrorBodyGivesCodeMessageAndStsCode) {
  Error e = ErrorFromResponse(
      403,
      R"({"code":"PodNotOnNode","message":"pod team-a/web-1 runs on node-b","retryable":false})");
  EXPECT_EQ(e.upstream_code(), "PodNotOnNode");
  EXPECT_THAT(e.message(), HasSubstr("403 PodNotOnNode: pod team-a/web-1 runs on node-b"));

  Error sts = ErrorFromResponse(
      503,
      R"({"code":"StsError","message":"throttled","upstreamCode":"Throttling","retryable":true})");
  EXPECT_EQ(sts.upstream_code(), "Throttling");
  EXPECT_TRUE(sts.retryable());
  EXPECT_THAT(sts.message(), HasSubstr("(STS Throttling)"));

  Error denied = ErrorFromResponse(
      403, R"({"code":"StsError","message":"no","upstreamCode":"AccessDenied","retryable":false})");
  EXPECT_EQ(denied.upstream_code(), "AccessDenied");
  EXPECT_FALSE(denied.retryable());
}

TEST(ProtocolTest, ErrorBodiesThatAreNotJsonStillGiveTheStatus) {
  Error e = ErrorFromResponse(502, "<html>bad gateway</html>");
  EXPECT_EQ(e.code(), ErrorCode::kUnavailable);
  EXPECT_EQ(e.message(), "podiam server answered 502");
  EXPECT_EQ(e.upstream_code(), "");
}

TEST(ProtocolTest, ServerTextIsBoundedAndPrintable) {
  std::string message(1000, 'a');
  message[3] = '\n';
  Error e =
      ErrorFromResponse(404, nlohmann::json{{"code", "PodNotFound"}, {"message", message}}.dump());
  EXPECT_LT(e.message().size(), 300U);
  EXPECT_EQ(e.message().find('\n'), std::string::npos);
}

}  // namespace
}  // namespace podiam::serverclient
