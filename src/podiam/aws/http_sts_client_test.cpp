#include "podiam/aws/http_sts_client.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "podiam/metrics/registry.hpp"
#include "podiam/testing/fake_clock.hpp"
#include "podiam/testing/fake_http_client.hpp"
#include "podiam/testing/fake_random.hpp"

namespace podiam::aws {
namespace {

using std::chrono::milliseconds;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr std::string_view kAssumeRoleOk =
    "<AssumeRoleResponse><AssumeRoleResult><Credentials><AccessKeyId>ASIAPOD</AccessKeyId>"
    "<SecretAccessKey>pod-secret</SecretAccessKey><SessionToken>pod-token</SessionToken>"
    "<Expiration>2026-01-01T01:00:00.123456Z</Expiration></Credentials><AssumedRoleUser>"
    "<AssumedRoleId>AROA1:pod</AssumedRoleId><Arn>arn:aws:sts::123456789012:assumed-role/app/pod"
    "</Arn></AssumedRoleUser></AssumeRoleResult></AssumeRoleResponse>";

std::string ErrorXml(std::string_view code) {
  return "<ErrorResponse><Error><Type>Sender</Type><Code>" + std::string(code) +
         "</Code><Message>injected</Message></Error><RequestId>r</RequestId></ErrorResponse>";
}

class HttpStsClientTest : public ::testing::Test {
 protected:
  HttpStsClientOptions Options() {
    return {.endpoint = {.url = "https://sts.eu-west-1.amazonaws.com/",
                         .signing_region = "eu-west-1",
                         .partition = "aws"},
            .max_attempts = 4,
            .base_backoff = milliseconds(200),
            .max_backoff = milliseconds(5000),
            .attempt_timeout = milliseconds(2000),
            .call_timeout = milliseconds(10000),
            .sleep = [this](milliseconds d) {
              sleeps_.push_back(d);
              clock_.Advance(d);
            }};
  }

  HttpStsClient Client(HttpStsClientOptions options) {
    return HttpStsClient(http_, &signer_, metrics_, clock_, random_, std::move(options));
  }
  HttpStsClient Client() { return Client(Options()); }

  static AssumeRoleRequest Request() {
    return {.role_arn = "arn:aws:iam::123456789012:role/app", .role_session_name = "pod"};
  }

  double Calls(std::string_view action, std::string_view result) {
    return metrics_.calls.WithLabels({action, result}).Value();
  }
  double Retries(std::string_view action) { return metrics_.retries.WithLabels({action}).Value(); }

  testing::FakeHttpClient http_;
  testing::FakeClock clock_;
  testing::FakeRandom random_{0.5};
  metrics::Registry registry_;
  StsMetrics metrics_{registry_};
  StaticCredentialsProvider signer_{Credentials{.access_key_id = "AKIDNODE",
                                                .secret_access_key = "node-secret",
                                                .session_token = "node-token"}};
  std::vector<milliseconds> sleeps_;
};

TEST_F(HttpStsClientTest, AssumeRoleSendsASignedFormPost) {
  http_.PushResponse(200, std::string(kAssumeRoleOk));
  auto sts = Client();
  auto result = sts.AssumeRole(Request());
  ASSERT_TRUE(result) << result.error().ToString();
  EXPECT_EQ(result->credentials.access_key_id, "ASIAPOD");
  EXPECT_EQ(result->assumed_role_user.arn, "arn:aws:sts::123456789012:assumed-role/app/pod");

  ASSERT_EQ(http_.request_count(), 1u);
  http::ClientRequest sent = http_.last_request();
  EXPECT_EQ(sent.method, "POST");
  EXPECT_EQ(sent.url, "https://sts.eu-west-1.amazonaws.com/");
  EXPECT_EQ(sent.timeout, milliseconds(2000));
  EXPECT_EQ(sent.headers.Get("Content-Type"), "application/x-www-form-urlencoded; charset=utf-8");
  EXPECT_EQ(sent.body,
            "Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole"
            "%2Fapp&RoleSessionName=pod");
  EXPECT_THAT(
      std::string(*sent.headers.Get("Authorization")),
      StartsWith("AWS4-HMAC-SHA256 Credential=AKIDNODE/20260101/eu-west-1/sts/aws4_request, "
                 "SignedHeaders=content-type;host;x-amz-date;x-amz-security-token, "));
  EXPECT_EQ(sent.headers.Get("X-Amz-Security-Token"), "node-token");
  EXPECT_EQ(sent.headers.Get("X-Amz-Date"), "20260101T000000Z");
  EXPECT_EQ(Calls("AssumeRole", "ok"), 1);
  EXPECT_EQ(metrics_.call_duration.WithLabels({"AssumeRole"}).Count(), 1u);
  EXPECT_TRUE(sleeps_.empty());
}

TEST_F(HttpStsClientTest, WebIdentityIsUnsignedAndNeedsNoSigner) {
  http_.PushResponse(
      200,
      "<AssumeRoleWithWebIdentityResponse><AssumeRoleWithWebIdentityResult><Credentials>"
      "<AccessKeyId>ASIAW</AccessKeyId><SecretAccessKey>s</SecretAccessKey><SessionToken>t"
      "</SessionToken><Expiration>2026-01-01T01:00:00Z</Expiration></Credentials>"
      "</AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>");
  HttpStsClient sts(http_, nullptr, metrics_, clock_, random_, Options());
  auto result = sts.AssumeRoleWithWebIdentity({.role_arn = "arn:aws:iam::123456789012:role/app",
                                               .role_session_name = "s1",
                                               .web_identity_token = "eyJ.a.b"});
  ASSERT_TRUE(result) << result.error().ToString();
  EXPECT_EQ(result->credentials.access_key_id, "ASIAW");
  http::ClientRequest sent = http_.last_request();
  EXPECT_FALSE(sent.headers.Has("Authorization"));
  EXPECT_FALSE(sent.headers.Has("X-Amz-Security-Token"));
  EXPECT_THAT(sent.body, HasSubstr("Action=AssumeRoleWithWebIdentity&"));

  // Signed calls need a signer.
  auto signed_call = sts.GetCallerIdentity();
  ASSERT_FALSE(signed_call);
  EXPECT_EQ(signed_call.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_EQ(Calls("GetCallerIdentity", "failed_precondition"), 1);
}

TEST_F(HttpStsClientTest, GetCallerIdentity) {
  http_.PushResponse(200,
                     "<GetCallerIdentityResponse><GetCallerIdentityResult><UserId>U</UserId>"
                     "<Account>123456789012</Account><Arn>arn:aws:iam::123456789012:user/moto"
                     "</Arn></GetCallerIdentityResult></GetCallerIdentityResponse>");
  auto sts = Client();
  auto who = sts.GetCallerIdentity();
  ASSERT_TRUE(who);
  EXPECT_EQ(who->arn, "arn:aws:iam::123456789012:user/moto");
  EXPECT_EQ(http_.last_request().body, "Action=GetCallerIdentity&Version=2011-06-15");
}

TEST_F(HttpStsClientTest, ThrottlingIsRetriedWithJitteredExponentialBackoff) {
  http_.PushResponse(400, ErrorXml("Throttling"));
  http_.PushResponse(400, ErrorXml("Throttling"));
  http_.PushResponse(400, ErrorXml("ThrottlingException"));
  http_.PushResponse(200, std::string(kAssumeRoleOk));
  auto sts = Client();
  auto result = sts.AssumeRole(Request());
  ASSERT_TRUE(result) << result.error().ToString();
  EXPECT_EQ(http_.request_count(), 4u);
  // U=0.5 of 200, 400, 800 ms.
  EXPECT_THAT(sleeps_, ElementsAre(milliseconds(100), milliseconds(200), milliseconds(400)));
  EXPECT_EQ(Retries("AssumeRole"), 3);
  EXPECT_EQ(Calls("AssumeRole", "ok"), 1);
  // Each attempt is signed afresh with the time it is sent.
  auto requests = http_.requests();
  EXPECT_EQ(requests[0].headers.Get("X-Amz-Date"), "20260101T000000Z");
  EXPECT_EQ(requests[3].headers.Get("X-Amz-Date"), "20260101T000000Z");  // 700 ms later
  EXPECT_EQ(requests[3].headers.Count("Authorization"), 1u);
}

TEST_F(HttpStsClientTest, BackoffIsCappedAndJitterSpansTheRange) {
  auto options = Options();
  options.max_attempts = 5;
  options.base_backoff = milliseconds(1000);
  options.max_backoff = milliseconds(3000);
  options.call_timeout = milliseconds(60000);
  random_.set_value(0.999);
  for (int i = 0; i < 5; ++i) {
    http_.PushResponse(503, "Service Unavailable");
  }
  auto sts = Client(options);
  auto result = sts.AssumeRole(Request());
  ASSERT_FALSE(result);
  EXPECT_THAT(sleeps_, ElementsAre(milliseconds(999), milliseconds(1998), milliseconds(2997),
                                   milliseconds(2997)));
  random_.set_value(0.0);
  sleeps_.clear();
  http_.PushResponse(503, "");
  http_.PushResponse(200, std::string(kAssumeRoleOk));
  ASSERT_TRUE(sts.AssumeRole(Request()));
  EXPECT_THAT(sleeps_, ElementsAre(milliseconds(0)));
}

TEST_F(HttpStsClientTest, GivesUpAfterMaxAttempts) {
  for (int i = 0; i < 4; ++i) {
    http_.PushResponse(500, ErrorXml("InternalFailure"));
  }
  auto sts = Client();
  auto result = sts.AssumeRole(Request());
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code(), ErrorCode::kUnavailable);
  EXPECT_TRUE(result.error().retryable());
  EXPECT_EQ(result.error().upstream_code(), "InternalFailure");
  EXPECT_THAT(result.error().message(), HasSubstr("STS AssumeRole: after 4 attempts: injected"));
  EXPECT_EQ(http_.request_count(), 4u);
  EXPECT_EQ(sleeps_.size(), 3u);
  EXPECT_EQ(Retries("AssumeRole"), 3);
  EXPECT_EQ(Calls("AssumeRole", "InternalFailure"), 1);
}

TEST_F(HttpStsClientTest, AccessDeniedAndValidationErrorsAreNeverRetried) {
  http_.PushResponse(403, ErrorXml("AccessDenied"));
  http_.PushResponse(400, ErrorXml("ValidationError"));
  auto sts = Client();
  auto denied = sts.AssumeRole(Request());
  ASSERT_FALSE(denied);
  EXPECT_EQ(denied.error().code(), ErrorCode::kPermissionDenied);
  EXPECT_FALSE(denied.error().retryable());
  EXPECT_EQ(denied.error().upstream_code(), "AccessDenied");
  EXPECT_EQ(http_.request_count(), 1u);

  auto invalid = sts.AssumeRole(Request());
  ASSERT_FALSE(invalid);
  EXPECT_EQ(invalid.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(http_.request_count(), 2u);
  EXPECT_TRUE(sleeps_.empty());
  EXPECT_EQ(Retries("AssumeRole"), 0);
  EXPECT_EQ(Calls("AssumeRole", "AccessDenied"), 1);
  EXPECT_EQ(Calls("AssumeRole", "ValidationError"), 1);
}

TEST_F(HttpStsClientTest, ClientSideValidationSendsNothing) {
  auto sts = Client();
  AssumeRoleRequest request = Request();
  request.role_session_name = std::string(65, 's');
  auto result = sts.AssumeRole(request);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(result.error().message(), HasSubstr("RoleSessionName must be 2 to 64"));
  EXPECT_EQ(http_.request_count(), 0u);
  EXPECT_EQ(Calls("AssumeRole", "invalid_argument"), 1);
}

TEST_F(HttpStsClientTest, TransportErrorsAreRetried) {
  http_.PushError(ErrorCode::kUnavailable, "connection refused", /*retryable=*/true);
  http_.PushError(ErrorCode::kDeadlineExceeded, "timed out", /*retryable=*/true);
  http_.PushResponse(200, std::string(kAssumeRoleOk));
  auto sts = Client();
  ASSERT_TRUE(sts.AssumeRole(Request()));
  EXPECT_EQ(http_.request_count(), 3u);
  EXPECT_EQ(Retries("AssumeRole"), 2);
}

TEST_F(HttpStsClientTest, TransportErrorKeepsItsCodeWhenAttemptsRunOut) {
  for (int i = 0; i < 4; ++i) {
    http_.PushError(ErrorCode::kUnavailable, "POST https://sts...: connection refused", true);
  }
  auto sts = Client();
  auto result = sts.GetCallerIdentity();
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code(), ErrorCode::kUnavailable);
  EXPECT_THAT(result.error().message(), HasSubstr("POST https://sts...: connection refused"));
  EXPECT_EQ(Calls("GetCallerIdentity", "unavailable"), 1);
}

TEST_F(HttpStsClientTest, TransportErrorsTheTransportCallsFinalAreNotRetried) {
  http_.PushError(ErrorCode::kUnavailable, "TLS certificate verification failed", false);
  auto sts = Client();
  auto result = sts.AssumeRole(Request());
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code(), ErrorCode::kUnavailable);
  EXPECT_FALSE(result.error().retryable());
  EXPECT_EQ(http_.request_count(), 1u);
  EXPECT_EQ(Retries("AssumeRole"), 0);
}

TEST_F(HttpStsClientTest, DeadlineClampsTheLastAttemptAndStopsRetries) {
  auto options = Options();
  options.attempt_timeout = milliseconds(2000);
  options.call_timeout = milliseconds(3000);
  // A slow endpoint: every attempt uses its whole timeout, then times out.
  http_.SetHandler([this](const http::ClientRequest& r) -> Result<http::Response> {
    clock_.Advance(r.timeout);
    return MakeError(ErrorCode::kDeadlineExceeded, "timed out", "", /*retryable=*/true);
  });
  auto sts = Client(options);
  auto result = sts.AssumeRole(Request());
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code(), ErrorCode::kDeadlineExceeded);
  EXPECT_THAT(result.error().message(), HasSubstr("the 3000 ms call deadline"));
  auto requests = http_.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].timeout, milliseconds(2000));
  // 2000 ms used, 100 ms backoff: 900 ms left for the second attempt.
  EXPECT_EQ(requests[1].timeout, milliseconds(900));
  EXPECT_EQ(clock_.SteadyNow().time_since_epoch(), std::chrono::milliseconds(3000));
}

TEST_F(HttpStsClientTest, NoBackoffSleepsPastTheDeadline) {
  auto options = Options();
  options.base_backoff = milliseconds(5000);
  options.call_timeout = milliseconds(3000);
  random_.set_value(0.9);
  http_.PushResponse(400, ErrorXml("Throttling"));
  auto sts = Client(options);
  auto result = sts.AssumeRole(Request());
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code(), ErrorCode::kResourceExhausted);
  EXPECT_THAT(result.error().message(), HasSubstr("deadline would pass during the backoff"));
  EXPECT_EQ(http_.request_count(), 1u);
  EXPECT_TRUE(sleeps_.empty());
}

TEST_F(HttpStsClientTest, ZeroDeadlineIsDeadlineExceeded) {
  auto options = Options();
  options.call_timeout = milliseconds(0);
  auto sts = Client(options);
  auto result = sts.GetCallerIdentity();
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code(), ErrorCode::kDeadlineExceeded);
  EXPECT_EQ(http_.request_count(), 0u);
}

TEST_F(HttpStsClientTest, GarbageIsUpstreamInvalidAndNotRetried) {
  http_.PushResponse(200, "<html>captive portal</html>");
  auto sts = Client();
  auto result = sts.AssumeRole(Request());
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code(), ErrorCode::kUpstreamInvalid);
  EXPECT_EQ(http_.request_count(), 1u);
  EXPECT_EQ(Calls("AssumeRole", "upstream_invalid"), 1);

  http_.PushResponse(404, "not found");
  auto not_found = sts.AssumeRole(Request());
  ASSERT_FALSE(not_found);
  EXPECT_EQ(not_found.error().code(), ErrorCode::kUpstreamInvalid);
  EXPECT_EQ(http_.request_count(), 2u);
}

TEST_F(HttpStsClientTest, UnknownUpstreamCodesAreFoldedInMetrics) {
  http_.PushResponse(400, ErrorXml("Made-Up-Code-12345"));
  auto sts = Client();
  ASSERT_FALSE(sts.AssumeRole(Request()));
  EXPECT_EQ(Calls("AssumeRole", "other"), 1);
}

TEST_F(HttpStsClientTest, SignerFailureIsReported) {
  class FailingProvider final : public CredentialsProvider {
   public:
    Result<Credentials> Get() override {
      return MakeError(ErrorCode::kNotFound, "no AWS credentials found");
    }
    [[nodiscard]] std::string_view Name() const override { return "failing"; }
  } failing;
  HttpStsClient sts(http_, &failing, metrics_, clock_, random_, Options());
  auto result = sts.AssumeRole(Request());
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code(), ErrorCode::kNotFound);
  EXPECT_THAT(result.error().message(), HasSubstr("podiam's own AWS credentials"));
  EXPECT_EQ(http_.request_count(), 0u);
}

}  // namespace
}  // namespace podiam::aws
