// Integration tests of HttpStsClient over the real transport against moto behind the counting,
// fault-injecting proxy (tests/lib/podiam_testenv/faultproxy.py). Run by
// tests/integration/test_aws_moto.py, which starts both and sets:
//   PODIAM_TEST_STS_ENDPOINT  the proxy's URL (STS calls go there)
//   PODIAM_TEST_STS_CONTROL   its control API base URL (".../__proxy": POST fault|clear|reset,
//                             GET stats)
// Every test clears faults and counts first, injects what it needs, and checks what reached the
// proxy (attempts) as well as what the client returned.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <nlohmann/json.hpp>
#include <thread>

#include "podiam/aws/http_sts_client.hpp"
#include "podiam/aws/sigv4.hpp"
#include "podiam/aws/sts_codec.hpp"
#include "podiam/base/clock.hpp"
#include "podiam/metrics/registry.hpp"
#include "podiam/testing/fake_random.hpp"
#include "podiam/transport/http_client.hpp"

namespace podiam::aws {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr std::string_view kRoleArn = "arn:aws:iam::123456789012:role/path/to/my-role";

std::string Env(const char* name) {
  const char* value = std::getenv(name);  // NOLINT(concurrency-mt-unsafe): read before threads
  return value == nullptr ? std::string() : std::string(value);
}

class StsMotoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    endpoint_ = Env("PODIAM_TEST_STS_ENDPOINT");
    control_ = Env("PODIAM_TEST_STS_CONTROL");
    if (endpoint_.empty() || control_.empty()) {
      GTEST_FAIL() << "PODIAM_TEST_STS_ENDPOINT and PODIAM_TEST_STS_CONTROL must be set; run "
                      "through tests/integration/test_aws_moto.py";
    }
    if (!control_.ends_with("/__proxy")) {
      control_ += "/__proxy";
    }
    auto http = transport::BeastHttpClient::Create({});
    ASSERT_TRUE(http) << http.error().ToString();
    http_ = std::move(*http);
    Control("POST", "clear");
    Control("POST", "reset");
  }

  // Talks to the proxy's control API.
  json Control(const std::string& method, const std::string& route, const json& body = nullptr) {
    http::ClientRequest request{.method = method, .url = control_ + "/" + route};
    if (!body.is_null()) {
      request.body = body.dump();
      request.headers.Set("Content-Type", "application/json");
    }
    auto response = http_->Send(request);
    EXPECT_TRUE(response) << route << ": " << response.error().ToString();
    if (!response) {
      return json::object();
    }
    EXPECT_EQ(response->status, 200) << route << ": " << response->body;
    return json::parse(response->body, nullptr, false);
  }
  void Fault(const json& spec) { Control("POST", "fault", spec); }
  int Count(const std::string& action) {
    json counts = Control("GET", "stats")["counts"];
    return counts.contains(action) ? counts[action].get<int>() : 0;
  }

  HttpStsClientOptions Options() {
    return {.endpoint = {.url = endpoint_, .signing_region = "us-east-1", .partition = "aws"},
            .max_attempts = 4,
            .base_backoff = milliseconds(100),
            .max_backoff = milliseconds(1000),
            .attempt_timeout = milliseconds(5000),
            .call_timeout = milliseconds(15000),
            .sleep = [this](milliseconds d) {
              sleeps_.push_back(d);
              std::this_thread::sleep_for(d);
            }};
  }
  std::unique_ptr<HttpStsClient> Client(HttpStsClientOptions options,
                                        CredentialsProvider* signer = nullptr) {
    return std::make_unique<HttpStsClient>(*http_, signer ? signer : &node_creds_, metrics_, clock_,
                                           random_, std::move(options));
  }
  std::unique_ptr<HttpStsClient> Client() { return Client(Options()); }

  static AssumeRoleRequest Request(std::string session = "pod-default-web-1") {
    return {.role_arn = std::string(kRoleArn),
            .role_session_name = std::move(session),
            .duration_seconds = 900};
  }
  double Retries() { return metrics_.retries.WithLabels({"AssumeRole"}).Value(); }

  std::string endpoint_;
  std::string control_;
  std::unique_ptr<transport::BeastHttpClient> http_;
  SystemClock clock_;
  testing::FakeRandom random_{0.5};  // deterministic jitter: delays are half the step
  metrics::Registry registry_;
  StsMetrics metrics_{registry_};
  // moto does not check signatures by default, but routes unsigned requests to S3.
  StaticCredentialsProvider node_creds_{
      Credentials{.access_key_id = "AKIAIOSFODNN7EXAMPLE",
                  .secret_access_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}};
  std::vector<milliseconds> sleeps_;
};

TEST_F(StsMotoTest, AssumeRoleThenCallerIdentityShowsTheSession) {
  auto sts = Client();
  auto before = clock_.Now();
  auto result = sts->AssumeRole(Request());
  ASSERT_TRUE(result) << result.error().ToString();
  const Credentials& creds = result->credentials;
  EXPECT_THAT(creds.access_key_id, StartsWith("ASIA"));
  EXPECT_EQ(creds.secret_access_key.size(), 40u);
  EXPECT_FALSE(creds.session_token.empty());
  ASSERT_TRUE(creds.expiration);
  EXPECT_GT(*creds.expiration, before + std::chrono::seconds(840));
  EXPECT_LT(*creds.expiration, clock_.Now() + std::chrono::seconds(960));
  EXPECT_EQ(result->assumed_role_user.arn,
            "arn:aws:sts::123456789012:assumed-role/my-role/pod-default-web-1");
  EXPECT_THAT(result->assumed_role_user.assumed_role_id, HasSubstr(":pod-default-web-1"));
  EXPECT_FALSE(result->request_id.empty());

  // The returned session is usable: moto resolves it back to the role and session.
  StaticCredentialsProvider pod_creds(creds);
  auto as_pod = Client(Options(), &pod_creds);
  auto who = as_pod->GetCallerIdentity();
  ASSERT_TRUE(who) << who.error().ToString();
  EXPECT_EQ(who->arn, "arn:aws:sts::123456789012:assumed-role/my-role/pod-default-web-1");
  EXPECT_EQ(who->account, "123456789012");
  EXPECT_THAT(who->user_id, HasSubstr(":pod-default-web-1"));

  EXPECT_EQ(Count("AssumeRole"), 1);
  EXPECT_EQ(Count("GetCallerIdentity"), 1);
  EXPECT_EQ(metrics_.calls.WithLabels({"AssumeRole", "ok"}).Value(), 1);
}

TEST_F(StsMotoTest, EveryParameterArrivesEncodedAsBotocoreWould) {
  auto sts = Client();
  AssumeRoleRequest request = Request("p-all");
  request.external_id = "ext-123";
  request.policy = R"({"Version":"2012-10-17","Statement":[]})";
  request.policy_arns = {"arn:aws:iam::aws:policy/ReadOnlyAccess"};
  request.tags = {{"team", "caf\xc3\xa9 +co=1/2@x"}, {"env", ""}};
  request.transitive_tag_keys = {"team"};
  request.source_identity = "alice@example.com";
  auto result = sts->AssumeRole(request);
  ASSERT_TRUE(result) << result.error().ToString();
  json requests = Control("GET", "stats")["requests"];
  ASSERT_EQ(requests.size(), 1u);
  json params = requests[0]["params"];
  EXPECT_EQ(params["RoleArn"], kRoleArn);
  EXPECT_EQ(params["DurationSeconds"], "900");
  EXPECT_EQ(params["ExternalId"], "ext-123");
  EXPECT_EQ(params["Policy"], request.policy);
  EXPECT_EQ(params["PolicyArns.member.1.arn"], "arn:aws:iam::aws:policy/ReadOnlyAccess");
  EXPECT_EQ(params["Tags.member.1.Key"], "team");
  EXPECT_EQ(params["Tags.member.1.Value"], "caf\xc3\xa9 +co=1/2@x");
  EXPECT_EQ(params["Tags.member.2.Key"], "env");  // (the proxy's parse_qsl drops empty values)
  EXPECT_EQ(params["TransitiveTagKeys.member.1"], "team");
  EXPECT_EQ(params["SourceIdentity"], "alice@example.com");
  EXPECT_EQ(params["Version"], "2011-06-15");
}

TEST_F(StsMotoTest, AssumeRoleWithWebIdentityIsUnsigned) {
  // No signer at all: the call must not need one (moto routes it by Action).
  HttpStsClient sts(*http_, nullptr, metrics_, clock_, random_, Options());
  auto result = sts.AssumeRoleWithWebIdentity(
      {.role_arn = "arn:aws:iam::123456789012:role/irsa-role",
       .role_session_name = "botocore-session-1",
       .web_identity_token = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"});
  ASSERT_TRUE(result) << result.error().ToString();
  EXPECT_THAT(result->credentials.access_key_id, StartsWith("ASIA"));
  EXPECT_TRUE(result->credentials.expiration);
  EXPECT_EQ(result->assumed_role_user.arn,
            "arn:aws:sts::123456789012:assumed-role/irsa-role/botocore-session-1");
  EXPECT_EQ(Count("AssumeRoleWithWebIdentity"), 1);
}

TEST_F(StsMotoTest, ThrottlingIsRetriedWithBackoffUntilItPasses) {
  Fault({{"kind", "throttling"}, {"action", "AssumeRole"}, {"count", 2}});
  auto sts = Client();
  auto result = sts->AssumeRole(Request());
  ASSERT_TRUE(result) << result.error().ToString();
  EXPECT_EQ(Count("AssumeRole"), 3);
  EXPECT_EQ(Retries(), 2);
  EXPECT_THAT(sleeps_, ::testing::ElementsAre(milliseconds(50), milliseconds(100)));
}

TEST_F(StsMotoTest, PersistentThrottlingEndsAsResourceExhausted) {
  Fault({{"kind", "throttling"}, {"action", "AssumeRole"}});
  auto sts = Client();
  auto result = sts->AssumeRole(Request());
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code(), ErrorCode::kResourceExhausted);
  EXPECT_EQ(result.error().upstream_code(), "Throttling");
  EXPECT_TRUE(result.error().retryable());
  EXPECT_THAT(result.error().message(), HasSubstr("Rate exceeded"));
  EXPECT_EQ(Count("AssumeRole"), 4);
  EXPECT_EQ(Retries(), 3);
  EXPECT_EQ(metrics_.calls.WithLabels({"AssumeRole", "Throttling"}).Value(), 1);
  EXPECT_THAT(registry_.Render(),
              HasSubstr(R"(podiam_sts_calls_total{action="AssumeRole",result="Throttling"} 1)"));
}

TEST_F(StsMotoTest, ServerErrorsAreRetried) {
  Fault({{"kind", "internal"}, {"action", "AssumeRole"}, {"count", 1}});
  Fault({{"kind", "unavailable"}, {"action", "AssumeRole"}, {"count", 1}});
  auto sts = Client();
  ASSERT_TRUE(sts->AssumeRole(Request()));
  EXPECT_EQ(Count("AssumeRole"), 3);

  Control("POST", "reset");
  Fault({{"kind", "internal"}});
  auto failed = sts->AssumeRole(Request());
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().code(), ErrorCode::kUnavailable);
  EXPECT_EQ(failed.error().upstream_code(), "InternalFailure");
  EXPECT_EQ(Count("AssumeRole"), 4);
}

TEST_F(StsMotoTest, AccessDeniedIsNotRetried) {
  Fault({{"kind", "access_denied"}, {"action", "AssumeRole"}});
  auto sts = Client();
  auto result = sts->AssumeRole(Request());
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code(), ErrorCode::kPermissionDenied);
  EXPECT_EQ(result.error().upstream_code(), "AccessDenied");
  EXPECT_FALSE(result.error().retryable());
  EXPECT_THAT(result.error().message(), HasSubstr("is not authorized to perform: sts:AssumeRole"));
  EXPECT_EQ(Count("AssumeRole"), 1);
  EXPECT_EQ(Retries(), 0);
}

TEST_F(StsMotoTest, TooLongSessionNameIsCaughtClientSideAndMotoAgrees) {
  auto sts = Client();
  auto result = sts->AssumeRole(Request(std::string(65, 's')));
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(result.error().message(), HasSubstr("RoleSessionName must be 2 to 64"));
  EXPECT_EQ(Count("AssumeRole"), 0);

  // Bypass the client's validation: moto's own ValidationError maps the same way.
  http::ClientRequest raw{.method = "POST",
                          .url = endpoint_,
                          .body = FormEncode({{"Action", "AssumeRole"},
                                              {"Version", "2011-06-15"},
                                              {"RoleArn", std::string(kRoleArn)},
                                              {"RoleSessionName", std::string(65, 's')}})};
  raw.headers.Set("Content-Type", kFormContentType);
  ASSERT_TRUE(SignRequest(raw, *node_creds_.Get(),
                          {.region = "us-east-1", .service = "sts", .time = clock_.Now()}));
  auto response = http_->Send(raw);
  ASSERT_TRUE(response) << response.error().ToString();
  EXPECT_EQ(response->status, 400);
  Error error = StsErrorFromResponse(response->status, response->body);
  EXPECT_EQ(error.code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(error.upstream_code(), "ValidationError");
  EXPECT_FALSE(error.retryable());
  EXPECT_THAT(error.message(), HasSubstr("64"));
  EXPECT_EQ(Count("AssumeRole"), 1);
}

TEST_F(StsMotoTest, SlowEndpointHonoursTheCallDeadline) {
  Fault({{"kind", "delay"}, {"action", "AssumeRole"}, {"delay", 3.0}});
  auto options = Options();
  options.attempt_timeout = milliseconds(1000);
  options.call_timeout = milliseconds(2500);
  auto sts = Client(options);
  auto start = clock_.SteadyNow();
  auto result = sts->AssumeRole(Request());
  auto elapsed = std::chrono::duration_cast<milliseconds>(clock_.SteadyNow() - start);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code(), ErrorCode::kDeadlineExceeded);
  // 1 s timeout, 50 ms backoff, 1 s timeout, 100 ms backoff, then the last ~350 ms.
  EXPECT_GE(elapsed, milliseconds(2400));
  EXPECT_LT(elapsed, milliseconds(3200)) << "the deadline was not honoured";
  EXPECT_EQ(Count("AssumeRole"), 3);
  EXPECT_THAT(sleeps_, ::testing::ElementsAre(milliseconds(50), milliseconds(100)));
}

TEST_F(StsMotoTest, NoBackoffStartsPastTheDeadline) {
  Fault({{"kind", "throttling"}, {"action", "AssumeRole"}});
  auto options = Options();
  options.base_backoff = milliseconds(4000);
  options.max_backoff = milliseconds(4000);
  options.call_timeout = milliseconds(1500);
  auto sts = Client(options);
  auto start = clock_.SteadyNow();
  auto result = sts->AssumeRole(Request());
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code(), ErrorCode::kResourceExhausted);
  EXPECT_THAT(result.error().message(), HasSubstr("deadline would pass during the backoff"));
  EXPECT_LT(clock_.SteadyNow() - start, milliseconds(1500));
  EXPECT_EQ(Count("AssumeRole"), 1);
  EXPECT_TRUE(sleeps_.empty());
}

TEST_F(StsMotoTest, DownEndpointIsRetriedThenReportedUnavailable) {
  Fault({{"kind", "down"}});
  auto sts = Client();
  auto result = sts->AssumeRole(Request());
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code(), ErrorCode::kUnavailable);
  EXPECT_TRUE(result.error().retryable());
  EXPECT_THAT(result.error().message(), HasSubstr("after 4 attempts"));
  EXPECT_EQ(Retries(), 3);
  EXPECT_EQ(Count("AssumeRole"), 0);  // nothing got through
  EXPECT_EQ(metrics_.calls.WithLabels({"AssumeRole", "unavailable"}).Value(), 1);
}

TEST_F(StsMotoTest, ShortOutageIsBridgedByBackoff) {
  Fault({{"kind", "down"}, {"duration", 0.5}});
  auto options = Options();
  options.max_attempts = 8;
  options.base_backoff = milliseconds(200);
  options.max_backoff = milliseconds(2000);
  auto sts = Client(options);
  auto result = sts->AssumeRole(Request());
  ASSERT_TRUE(result) << result.error().ToString();
  EXPECT_GE(Retries(), 1);
  EXPECT_EQ(Count("AssumeRole"), 1);  // only the attempt after the outage reached the proxy
}

TEST_F(StsMotoTest, ConnectionResetIsRetried) {
  Fault({{"kind", "reset"}, {"action", "AssumeRole"}, {"count", 1}});
  auto sts = Client();
  auto result = sts->AssumeRole(Request());
  ASSERT_TRUE(result) << result.error().ToString();
  EXPECT_EQ(Count("AssumeRole"), 2);
  EXPECT_EQ(Retries(), 1);
}

}  // namespace
}  // namespace podiam::aws
