#include "podiam/aws/sts_codec.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace podiam::aws {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr std::string_view kRoleArn = "arn:aws:iam::123456789012:role/path/my-role";

AssumeRoleRequest MinimalRequest() {
  return {.role_arn = std::string(kRoleArn), .role_session_name = "pod-web-1"};
}

std::string InvalidMessage(const Result<std::string>& encoded) {
  EXPECT_FALSE(encoded.has_value());
  if (encoded.has_value()) {
    return {};
  }
  EXPECT_EQ(encoded.error().code(), ErrorCode::kInvalidArgument);
  return encoded.error().message();
}

TEST(StsFormTest, MatchesBotocoreEncoding) {
  // The members of the botocore example in docs/protocols.md#sts-requests, in podiam's member
  // order.
  AssumeRoleRequest request = MinimalRequest();
  request.duration_seconds = 3600;
  request.tags = {{"k", "v"}};
  request.policy_arns = {"arn:aws:iam::aws:policy/ReadOnlyAccess"};
  request.transitive_tag_keys = {"k"};
  auto body = EncodeAssumeRole(request);
  ASSERT_TRUE(body) << body.error().ToString();
  EXPECT_EQ(*body,
            "Action=AssumeRole&Version=2011-06-15"
            "&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fpath%2Fmy-role"
            "&RoleSessionName=pod-web-1&DurationSeconds=3600"
            "&PolicyArns.member.1.arn=arn%3Aaws%3Aiam%3A%3Aaws%3Apolicy%2FReadOnlyAccess"
            "&Tags.member.1.Key=k&Tags.member.1.Value=v&TransitiveTagKeys.member.1=k");
}

TEST(StsFormTest, AllMembersAndUnicode) {
  AssumeRoleRequest request = MinimalRequest();
  request.external_id = "ext:id/1";
  request.policy = "{\"Version\":\"2012-10-17\"}";
  request.tags = {{"team", "caf\xc3\xa9 bar"}, {"env", ""}};
  request.transitive_tag_keys = {"team", "env"};
  request.source_identity = "alice@example.com";
  auto body = EncodeAssumeRole(request);
  ASSERT_TRUE(body) << body.error().ToString();
  EXPECT_THAT(*body, HasSubstr("&ExternalId=ext%3Aid%2F1&"));
  EXPECT_THAT(*body, HasSubstr("&Policy=%7B%22Version%22%3A%222012-10-17%22%7D&"));
  EXPECT_THAT(*body, HasSubstr("&Tags.member.1.Key=team&Tags.member.1.Value=caf%C3%A9%20bar"
                               "&Tags.member.2.Key=env&Tags.member.2.Value=&"));
  EXPECT_THAT(*body, HasSubstr("&TransitiveTagKeys.member.1=team&TransitiveTagKeys.member.2=env"));
  EXPECT_THAT(*body, HasSubstr("&SourceIdentity=alice%40example.com"));
  EXPECT_THAT(*body, Not(HasSubstr("DurationSeconds")));
}

TEST(StsFormTest, WebIdentityAndCallerIdentity) {
  AssumeRoleWithWebIdentityRequest request{.role_arn = std::string(kRoleArn),
                                           .role_session_name = "s1",
                                           .web_identity_token = "eyJhbGciOi.x.y",
                                           .provider_id = "www.amazon.com",
                                           .duration_seconds = 900};
  auto body = EncodeAssumeRoleWithWebIdentity(request);
  ASSERT_TRUE(body);
  EXPECT_EQ(*body,
            "Action=AssumeRoleWithWebIdentity&Version=2011-06-15"
            "&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fpath%2Fmy-role"
            "&RoleSessionName=s1&WebIdentityToken=eyJhbGciOi.x.y&ProviderId=www.amazon.com"
            "&DurationSeconds=900");
  EXPECT_EQ(EncodeGetCallerIdentity(), "Action=GetCallerIdentity&Version=2011-06-15");
}

TEST(StsValidationTest, SessionNames) {
  EXPECT_TRUE(ValidateSessionName("ab"));
  EXPECT_TRUE(ValidateSessionName(std::string(64, 'x')));
  EXPECT_TRUE(ValidateSessionName("a_b+c=d,e.f@g-h"));
  auto too_long = ValidateSessionName(std::string(65, 'x'));
  ASSERT_FALSE(too_long);
  EXPECT_THAT(too_long.error().message(),
              HasSubstr("RoleSessionName must be 2 to 64 characters long, got 65"));
  EXPECT_THAT(ValidateSessionName("a").error().message(), HasSubstr("got 1"));
  EXPECT_THAT(ValidateSessionName("").error().message(), HasSubstr("got 0"));
  EXPECT_THAT(ValidateSessionName("ns/pod").error().message(), HasSubstr("contains '/'"));
  EXPECT_THAT(ValidateSessionName("bad name!").error().message(), HasSubstr("contains ' '"));
  EXPECT_THAT(ValidateSessionName("caf\xc3\xa9").error().message(), HasSubstr("contains"));
  EXPECT_THAT(ValidateSessionName("\xff\xfe").error().message(), HasSubstr("UTF-8"));
}

TEST(StsValidationTest, SanitizeSessionName) {
  EXPECT_EQ(SanitizeSessionName("default/web-1"), "default-web-1");
  EXPECT_EQ(SanitizeSessionName("a"), "a-");
  EXPECT_EQ(SanitizeSessionName(""), "--");
  EXPECT_EQ(SanitizeSessionName(std::string(100, 'p')).size(), 64u);
  EXPECT_TRUE(
      ValidateSessionName(SanitizeSessionName("p\xc3\xb6"
                                              "d name:1")));
}

TEST(StsValidationTest, AssumeRoleMembers) {
  auto with = [](auto change) {
    AssumeRoleRequest request = MinimalRequest();
    change(request);
    return EncodeAssumeRole(request);
  };
  EXPECT_THAT(InvalidMessage(with([](auto& r) { r.role_arn.clear(); })),
              HasSubstr("RoleArn is required"));
  EXPECT_THAT(InvalidMessage(with([](auto& r) { r.role_arn = "arn:aws:iam::1:r/x"; })),
              HasSubstr("RoleArn must be 20 to 2048"));
  EXPECT_THAT(
      InvalidMessage(with([](auto& r) { r.role_arn = "arn:aws:iam::123456789012:user/bob"; })),
      HasSubstr("RoleArn: "));
  EXPECT_THAT(InvalidMessage(with([](auto& r) { r.role_session_name = std::string(65, 's'); })),
              HasSubstr("RoleSessionName"));
  EXPECT_THAT(InvalidMessage(with([](auto& r) { r.duration_seconds = 899; })),
              HasSubstr("DurationSeconds must be 900 to 43200"));
  EXPECT_THAT(InvalidMessage(with([](auto& r) { r.duration_seconds = 43201; })),
              HasSubstr("got 43201"));
  EXPECT_TRUE(with([](auto& r) { r.duration_seconds = 43200; }));
  EXPECT_THAT(InvalidMessage(with([](auto& r) { r.external_id = "x"; })),
              HasSubstr("ExternalId must be 2 to 1224"));
  EXPECT_THAT(InvalidMessage(with([](auto& r) { r.external_id = "a b"; })),
              HasSubstr("ExternalId contains ' '"));
  EXPECT_THAT(InvalidMessage(with([](auto& r) { r.policy = std::string(2049, ' '); })),
              HasSubstr("Policy must be 1 to 2048"));
  EXPECT_THAT(InvalidMessage(with([](auto& r) { r.policy = "{\"a\":\"\xe2\x82\xac\"}"; })),
              HasSubstr("U+20AC"));
  EXPECT_TRUE(with([](auto& r) { r.policy = "{\"a\":\"\xc3\xa9\"}\t\r\n"; }));
  EXPECT_THAT(InvalidMessage(with([](auto& r) {
                r.policy_arns.assign(11, "arn:aws:iam::aws:policy/ReadOnlyAccess");
              })),
              HasSubstr("at most 10"));
  EXPECT_THAT(InvalidMessage(with([](auto& r) { r.policy_arns = {"not-an-arn-but-long-enough"}; })),
              HasSubstr("PolicyArns[0]"));
  EXPECT_THAT(InvalidMessage(with([](auto& r) {
                r.tags.assign(51, Tag{"k", "v"});
              })),
              HasSubstr("at most 50"));
  EXPECT_THAT(InvalidMessage(with([](auto& r) {
                r.tags = {{"", "v"}};
              })),
              HasSubstr("Tags[0].Key must be 1 to 128"));
  EXPECT_THAT(InvalidMessage(with([](auto& r) {
                r.tags = {{"k", std::string(257, 'v')}};
              })),
              HasSubstr("Tags[0].Value must be 0 to 256"));
  EXPECT_THAT(InvalidMessage(with([](auto& r) {
                r.tags = {{"k*", "v"}};
              })),
              HasSubstr("Tags[0].Key contains U+002A"));
  EXPECT_TRUE(with([](auto& r) { r.tags = {{"\xe6\x97\xa5\xe6\x9c\xac", "v a:l/u=e+@-_."}}; }));
  EXPECT_THAT(InvalidMessage(with([](auto& r) { r.transitive_tag_keys.assign(51, "k"); })),
              HasSubstr("TransitiveTagKeys may hold at most 50"));
  EXPECT_THAT(InvalidMessage(with([](auto& r) { r.source_identity = "a"; })),
              HasSubstr("SourceIdentity must be 2 to 64"));
  EXPECT_THAT(InvalidMessage(with([](auto& r) { r.source_identity = "al ice"; })),
              HasSubstr("SourceIdentity contains"));
}

TEST(StsValidationTest, WebIdentityMembersNeverQuoteTheToken) {
  auto with = [](auto change) {
    AssumeRoleWithWebIdentityRequest request{.role_arn = std::string(kRoleArn),
                                             .role_session_name = "s1",
                                             .web_identity_token = "eyJtoken"};
    change(request);
    return EncodeAssumeRoleWithWebIdentity(request);
  };
  EXPECT_THAT(InvalidMessage(with([](auto& r) { r.web_identity_token.clear(); })),
              HasSubstr("WebIdentityToken is required"));
  std::string message = InvalidMessage(with([](auto& r) { r.web_identity_token = "eyJ"; }));
  EXPECT_THAT(message, HasSubstr("4 to 20000"));
  EXPECT_THAT(message, Not(HasSubstr("eyJ")));
  EXPECT_THAT(InvalidMessage(with([](auto& r) { r.web_identity_token = std::string(20001, 'x'); })),
              HasSubstr("got 20001"));
  EXPECT_THAT(InvalidMessage(with([](auto& r) { r.provider_id = "abc"; })),
              HasSubstr("ProviderId must be 4 to 2048"));
  EXPECT_THAT(InvalidMessage(with([](auto& r) { r.role_session_name = "x"; })),
              HasSubstr("RoleSessionName"));
  EXPECT_THAT(InvalidMessage(with([](auto& r) { r.duration_seconds = 1; })),
              HasSubstr("DurationSeconds"));
}

// Actual bytes from moto 5.2.1 (docs/protocols.md#sts-responses).
constexpr std::string_view kMotoAssumeRole =
    R"(<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult><Credentials><AccessKeyId>ASIARZPUZDIKBRQSI4T2</AccessKeyId><SecretAccessKey>K8PII1G8HC7LutwjBTFdubDnuolZccyG1piTSp8M</SecretAccessKey><SessionToken>FQoGZXIvYXdzEBYaD...</SessionToken><Expiration>2026-11-23T07:39:25.669870Z</Expiration></Credentials><AssumedRoleUser><AssumedRoleId>AROA3X42LBCDEAUSZS41K:pod-default-web-1</AssumedRoleId><Arn>arn:aws:sts::123456789012:assumed-role/my-role/pod-default-web-1</Arn></AssumedRoleUser><PackedPolicySize>6</PackedPolicySize></AssumeRoleResult><ResponseMetadata><RequestId>VxtoLiOy228op9C3LJjCJyzUuWthQSH9QmsxDEBd7Rtxw4J2tBWW</RequestId></ResponseMetadata></AssumeRoleResponse>)";

TEST(StsResponseTest, AssumeRoleFromMoto) {
  auto result = ParseAssumeRoleResponse(kMotoAssumeRole);
  ASSERT_TRUE(result) << result.error().ToString();
  EXPECT_EQ(result->credentials.access_key_id, "ASIARZPUZDIKBRQSI4T2");
  EXPECT_EQ(result->credentials.secret_access_key, "K8PII1G8HC7LutwjBTFdubDnuolZccyG1piTSp8M");
  EXPECT_EQ(result->credentials.session_token, "FQoGZXIvYXdzEBYaD...");
  EXPECT_EQ(result->credentials.expiration,
            *ParseTimestamp("2026-11-23T07:39:25Z") + std::chrono::microseconds(669870));
  EXPECT_EQ(result->credentials.source, "sts AssumeRole");
  EXPECT_EQ(result->assumed_role_user.assumed_role_id, "AROA3X42LBCDEAUSZS41K:pod-default-web-1");
  EXPECT_EQ(result->assumed_role_user.arn,
            "arn:aws:sts::123456789012:assumed-role/my-role/pod-default-web-1");
  EXPECT_EQ(result->packed_policy_size, 6);
  EXPECT_EQ(result->request_id, "VxtoLiOy228op9C3LJjCJyzUuWthQSH9QmsxDEBd7Rtxw4J2tBWW");
}

TEST(StsResponseTest, WebIdentityAndCallerIdentity) {
  auto web = ParseAssumeRoleWithWebIdentityResponse(
      R"(<AssumeRoleWithWebIdentityResponse><AssumeRoleWithWebIdentityResult>)"
      R"(<SubjectFromWebIdentityToken>system:serviceaccount:ns:sa</SubjectFromWebIdentityToken>)"
      R"(<Audience>sts.amazonaws.com</Audience><Provider>oidc.example.com</Provider>)"
      R"(<Credentials><AccessKeyId>ASIA1</AccessKeyId><SecretAccessKey>s</SecretAccessKey>)"
      R"(<SessionToken>t</SessionToken><Expiration>2026-01-01T01:00:00Z</Expiration></Credentials>)"
      R"(<AssumedRoleUser><AssumedRoleId>ARO123EXAMPLE123:s1</AssumedRoleId>)"
      R"(<Arn>arn:aws:sts::123456789012:assumed-role/r/s1</Arn></AssumedRoleUser>)"
      R"(</AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>)");
  ASSERT_TRUE(web) << web.error().ToString();
  EXPECT_EQ(web->subject_from_web_identity_token, "system:serviceaccount:ns:sa");
  EXPECT_EQ(web->audience, "sts.amazonaws.com");
  EXPECT_EQ(web->provider, "oidc.example.com");
  EXPECT_EQ(web->assumed_role_user.arn, "arn:aws:sts::123456789012:assumed-role/r/s1");
  EXPECT_FALSE(web->packed_policy_size);

  auto who = ParseGetCallerIdentityResponse(
      R"(<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">)"
      R"(<GetCallerIdentityResult><UserId>AROA:s</UserId><Account>123456789012</Account>)"
      R"(<Arn>arn:aws:sts::123456789012:assumed-role/r/s</Arn></GetCallerIdentityResult>)"
      R"(<ResponseMetadata><RequestId>rid</RequestId></ResponseMetadata>)"
      R"(</GetCallerIdentityResponse>)");
  ASSERT_TRUE(who);
  EXPECT_EQ(who->user_id, "AROA:s");
  EXPECT_EQ(who->account, "123456789012");
  EXPECT_EQ(who->arn, "arn:aws:sts::123456789012:assumed-role/r/s");
  EXPECT_EQ(who->request_id, "rid");
}

TEST(StsResponseTest, BadShapesAreUpstreamInvalid) {
  auto expect_invalid = [](std::string_view xml, std::string_view what) {
    auto result = ParseAssumeRoleResponse(xml);
    ASSERT_FALSE(result) << xml;
    EXPECT_EQ(result.error().code(), ErrorCode::kUpstreamInvalid) << xml;
    EXPECT_THAT(result.error().message(), HasSubstr(what)) << xml;
  };
  expect_invalid("", "not XML");
  expect_invalid("<html><body>hello</body>", "not XML");
  expect_invalid("<ListAllMyBucketsResult/>", "root element <ListAllMyBucketsResult>");
  expect_invalid("<AssumeRoleResponse/>", "no <AssumeRoleResult>");
  expect_invalid("<AssumeRoleResponse><AssumeRoleResult/></AssumeRoleResponse>",
                 "no <Credentials>");
  expect_invalid(
      "<AssumeRoleResponse><AssumeRoleResult><Credentials><AccessKeyId>A</AccessKeyId>"
      "<SecretAccessKey>S</SecretAccessKey><SessionToken>T</SessionToken></Credentials>"
      "</AssumeRoleResult></AssumeRoleResponse>",
      "<Expiration>");
  expect_invalid(
      "<AssumeRoleResponse><AssumeRoleResult><Credentials><AccessKeyId>A</AccessKeyId>"
      "<SecretAccessKey>S</SecretAccessKey><SessionToken>T</SessionToken>"
      "<Expiration>tomorrow</Expiration></Credentials></AssumeRoleResult></AssumeRoleResponse>",
      "ISO 8601");
  expect_invalid(
      "<AssumeRoleResponse><AssumeRoleResult><Credentials><AccessKeyId>A</AccessKeyId>"
      "<SessionToken>T</SessionToken><Expiration>2026-01-01T00:00:00Z</Expiration>"
      "</Credentials></AssumeRoleResult></AssumeRoleResponse>",
      "<SecretAccessKey>");
  auto no_arn = ParseGetCallerIdentityResponse(
      "<GetCallerIdentityResponse><GetCallerIdentityResult/></GetCallerIdentityResponse>");
  ASSERT_FALSE(no_arn);
  EXPECT_EQ(no_arn.error().code(), ErrorCode::kUpstreamInvalid);
}

std::string ErrorXml(std::string_view code, std::string_view message = "msg") {
  return "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Sender"
         "</Type><Code>" +
         std::string(code) + "</Code><Message>" + std::string(message) +
         "</Message></Error><RequestId>req-1</RequestId></ErrorResponse>";
}

TEST(StsErrorTest, CodesMapToErrorCodesAndRetryability) {
  struct Case {
    std::string code;
    int status;
    ErrorCode expected;
    bool retryable;
  };
  std::vector<Case> cases = {
      {"AccessDenied", 403, ErrorCode::kPermissionDenied, false},
      {"InvalidClientTokenId", 403, ErrorCode::kUnauthenticated, false},
      {"SignatureDoesNotMatch", 403, ErrorCode::kUnauthenticated, false},
      {"RegionDisabledException", 403, ErrorCode::kPermissionDenied, false},
      {"IDPRejectedClaim", 403, ErrorCode::kPermissionDenied, false},
      {"ExpiredToken", 403, ErrorCode::kUnauthenticated, false},
      {"ValidationError", 400, ErrorCode::kInvalidArgument, false},
      {"MalformedPolicyDocument", 400, ErrorCode::kInvalidArgument, false},
      {"PackedPolicyTooLarge", 400, ErrorCode::kInvalidArgument, false},
      {"InvalidIdentityToken", 400, ErrorCode::kUnauthenticated, false},
      {"ExpiredTokenException", 400, ErrorCode::kUnauthenticated, false},
      {"IDPCommunicationError", 400, ErrorCode::kUnavailable, true},
      {"Throttling", 400, ErrorCode::kResourceExhausted, true},
      {"ThrottlingException", 400, ErrorCode::kResourceExhausted, true},
      {"RequestLimitExceeded", 400, ErrorCode::kResourceExhausted, true},
      {"InternalFailure", 500, ErrorCode::kUnavailable, true},
      {"ServiceUnavailable", 503, ErrorCode::kUnavailable, true},
      // Unknown codes fall back to the status.
      {"SomethingNew", 500, ErrorCode::kUnavailable, true},
      {"SomethingNew", 429, ErrorCode::kResourceExhausted, true},
      {"SomethingNew", 403, ErrorCode::kPermissionDenied, false},
      {"SomethingNew", 400, ErrorCode::kInvalidArgument, false},
  };
  for (const auto& c : cases) {
    Error error = StsErrorFromResponse(c.status, ErrorXml(c.code, "because"));
    EXPECT_EQ(error.code(), c.expected) << c.code;
    EXPECT_EQ(error.retryable(), c.retryable) << c.code;
    EXPECT_EQ(error.upstream_code(), c.code);
    EXPECT_EQ(error.message(), "because (request id req-1)");
  }
}

TEST(StsErrorTest, BodiesWithoutAnStsError) {
  Error garbage = StsErrorFromResponse(400, "<html>nope</html>");
  EXPECT_EQ(garbage.code(), ErrorCode::kUpstreamInvalid);
  EXPECT_FALSE(garbage.retryable());
  EXPECT_THAT(garbage.message(), HasSubstr("HTTP 400 without an STS error body"));
  Error server = StsErrorFromResponse(502, "Bad Gateway");
  EXPECT_EQ(server.code(), ErrorCode::kUnavailable);
  EXPECT_TRUE(server.retryable());
  EXPECT_EQ(server.upstream_code(), "");
  Error throttled = StsErrorFromResponse(429, "");
  EXPECT_EQ(throttled.code(), ErrorCode::kResourceExhausted);
  EXPECT_TRUE(throttled.retryable());
  // EC2-style envelope.
  Error ec2 = StsErrorFromResponse(
      503,
      "<Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>slow down"
      "</Message></Error></Errors><RequestID>r2</RequestID></Response>");
  EXPECT_EQ(ec2.upstream_code(), "RequestLimitExceeded");
  EXPECT_EQ(ec2.message(), "slow down (request id r2)");
  // A 200 carrying an ErrorResponse is still an error.
  auto result = ParseAssumeRoleResponse(ErrorXml("AccessDenied"));
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code(), ErrorCode::kPermissionDenied);
}

}  // namespace
}  // namespace podiam::aws
