#include "podiam/serverclient/server_source.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <nlohmann/json.hpp>

#include "podiam/aws/credentials.hpp"
#include "podiam/creds/credential_broker.hpp"
#include "podiam/testing/fake_clock.hpp"
#include "podiam/testing/fake_http_client.hpp"
#include "podiam/testing/fake_random.hpp"

namespace podiam::serverclient {
namespace {

using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;
using ::testing::HasSubstr;

constexpr char kRole[] = "arn:aws:iam::123456789012:role/app";
constexpr char kA[] = "https://server-a:8443";
constexpr char kB[] = "https://server-b:8443";

class ScriptedToken final : public TokenSource {
 public:
  Result<std::string> Read() override {
    ++reads;
    if (token.empty()) {
      return MakeError(ErrorCode::kUnavailable, "cannot read the server token file", {}, true);
    }
    return token;
  }
  std::string token = "token-1";
  std::atomic<int> reads{0};
};

creds::CredentialSpec Spec(std::string role = kRole) {
  return {.key = {.role_arn = std::move(role), .session_name = "team-a.web-1", .owner = "pod/u1"},
          .pod = creds::PodRef{.namespace_name = "team-a", .name = "web-1", .uid = "u1"}};
}

class ServerSourceTest : public ::testing::Test {
 protected:
  void Make(std::vector<std::string> urls = {kA, kB}, std::string discovered_tls_name = {}) {
    source_.reset();
    registry_ = std::make_unique<metrics::Registry>();
    source_ = std::make_unique<ServerSource>(
        ServerSourceDeps{.http = *http_,
                         .token = token_,
                         .clock = clock_,
                         .random = random_,
                         .registry = *registry_},
        ServerSourceOptions{.urls = std::move(urls),
                            .request_deadline = seconds(10),
                            .attempt_timeout = seconds(4),
                            .backoff = {.base = seconds(2), .max = seconds(30)},
                            .discovered_tls_name = std::move(discovered_tls_name)});
  }

  std::string OkBody(const std::string& key = "ASIAONE", const std::string& role = kRole,
                     minutes lifetime = minutes(60)) {
    return nlohmann::json{{"roleArn", role},
                          {"sessionName", "team-a.web-1"},
                          {"assumedRoleUser",
                           {{"arn", "arn:aws:sts::123456789012:assumed-role/app/team-a.web-1"},
                            {"assumedRoleId", "AROA:team-a.web-1"}}},
                          {"credentials",
                           {{"AccessKeyId", key},
                            {"SecretAccessKey", "s"},
                            {"SessionToken", "t"},
                            {"Expiration", aws::FormatTimestamp(clock_.Now() + lifetime)}}}}
        .dump();
  }
  static std::string ErrorBody(const std::string& code) {
    return nlohmann::json{{"code", code}, {"message", "because"}, {"retryable", false}}.dump();
  }
  double Metric(const std::string& series) const {
    const std::string text = "\n" + registry_->Render();
    const auto pos = text.find("\n" + series + " ");
    return pos == std::string::npos ? 0 : std::stod(text.substr(pos + series.size() + 2));
  }
  std::vector<std::string> Urls() const {
    std::vector<std::string> out;
    for (const auto& r : http_->requests()) {
      out.push_back(r.url);
    }
    return out;
  }

  testing::FakeClock clock_;
  testing::FakeRandom random_{0.0};
  std::unique_ptr<testing::FakeHttpClient> http_ = std::make_unique<testing::FakeHttpClient>();
  ScriptedToken token_;
  std::unique_ptr<metrics::Registry> registry_;
  std::unique_ptr<ServerSource> source_;
};

TEST_F(ServerSourceTest, PostsThePodAndRoleWithTheBearerToken) {
  Make();
  http_->PushResponse(200, OkBody());
  auto r = source_->Fetch(Spec(), 3600);
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->credentials.access_key_id, "ASIAONE");
  EXPECT_EQ(r->credentials.expiration, clock_.Now() + minutes(60));
  EXPECT_EQ(r->assumed_role_user.assumed_role_id, "AROA:team-a.web-1");
  EXPECT_THAT(r->credentials.source, HasSubstr(kA));
  auto req = http_->last_request();
  EXPECT_EQ(req.method, "POST");
  EXPECT_EQ(req.url, std::string(kA) + "/v1/credentials");
  EXPECT_EQ(req.headers.Get("Authorization"), "Bearer token-1");
  EXPECT_EQ(req.headers.Get("Content-Type"), "application/json");
  EXPECT_EQ(req.timeout, seconds(4));
  EXPECT_EQ(nlohmann::json::parse(req.body),
            (nlohmann::json{
                {"namespace", "team-a"}, {"name", "web-1"}, {"uid", "u1"}, {"roleArn", kRole}}));
  EXPECT_TRUE(source_->Answered());
  EXPECT_EQ(Metric("podiam_server_client_requests_total{result=\"ok\"}"), 1);
}

TEST_F(ServerSourceTest, DiscoveredEndpointsAreTriedAfterTheUrlsAndVerifiedAsTheService) {
  Make({kA}, "podiam-server.kube-system.svc");
  source_->SetDiscovered({"https://10.0.0.7:8443", "https://[fd00::7]:8443"});
  http_->PushError(ErrorCode::kUnavailable, "connection refused", true);  // kA
  http_->PushError(ErrorCode::kUnavailable, "connection refused", true);  // 10.0.0.7
  http_->PushResponse(200, OkBody());
  ASSERT_TRUE(source_->Fetch(Spec(), 3600));
  auto reqs = http_->requests();
  ASSERT_EQ(reqs.size(), 3U);
  EXPECT_EQ(reqs[0].url, std::string(kA) + "/v1/credentials");
  EXPECT_EQ(reqs[0].tls_server_name, "");  // a configured URL: its own host
  EXPECT_EQ(reqs[1].url, "https://10.0.0.7:8443/v1/credentials");
  EXPECT_EQ(reqs[1].tls_server_name, "podiam-server.kube-system.svc");
  EXPECT_EQ(reqs[2].url, "https://[fd00::7]:8443/v1/credentials");
  EXPECT_EQ(reqs[2].tls_server_name, "podiam-server.kube-system.svc");
  EXPECT_EQ(Metric("podiam_server_client_endpoints_backing_off"), 2);
  // The slice loses 10.0.0.7: the backing-off count follows.
  source_->SetDiscovered({"https://[fd00::7]:8443"});
  EXPECT_EQ(Metric("podiam_server_client_endpoints_backing_off"), 1);
}

TEST_F(ServerSourceTest, NoUrlAndNoEndpointsYetIsUnavailable) {
  Make({}, "podiam-server.kube-system.svc");
  auto r = source_->Fetch(Spec(), 3600);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kUnavailable);
  EXPECT_TRUE(r.error().retryable());
  EXPECT_THAT(r.error().message(), HasSubstr("no ready endpoints"));
  EXPECT_TRUE(http_->requests().empty());
  EXPECT_FALSE(source_->Ping());
}

TEST_F(ServerSourceTest, ReadsTheTokenOnEveryCall) {
  Make();
  http_->PushResponse(200, OkBody());
  http_->PushResponse(200, OkBody());
  ASSERT_TRUE(source_->Fetch(Spec(), 3600));
  token_.token = "token-2";  // kubelet rotated it
  ASSERT_TRUE(source_->Fetch(Spec(), 3600));
  EXPECT_EQ(http_->last_request().headers.Get("Authorization"), "Bearer token-2");
  EXPECT_EQ(token_.reads, 2);
}

TEST_F(ServerSourceTest, NoTokenNoRequest) {
  Make();
  token_.token.clear();
  auto r = source_->Fetch(Spec(), 3600);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kUnavailable);
  EXPECT_TRUE(r.error().retryable());
  EXPECT_TRUE(http_->requests().empty());
}

TEST_F(ServerSourceTest, SpecWithoutPodOrWithTargetRoleIsRefused) {
  Make();
  creds::CredentialSpec no_pod = Spec();
  no_pod.pod.reset();
  auto r = source_->Fetch(no_pod, 3600);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(r.error().message(), HasSubstr("not for a pod"));
  creds::CredentialSpec chained = Spec();
  chained.key.target_role_arn = "arn:aws:iam::210987654321:role/target";
  r = source_->Fetch(chained, 3600);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(r.error().message(), HasSubstr("role chaining"));
  EXPECT_TRUE(http_->requests().empty());
}

TEST_F(ServerSourceTest, RefusalsEndTheCallWithoutFailOver) {
  struct Case {
    int status;
    const char* code;
    ErrorCode want;
    bool retryable;
  };
  for (const Case& c : {Case{400, "BadRequest", ErrorCode::kInvalidArgument, false},
                        Case{401, "Unauthorized", ErrorCode::kUnauthenticated, false},
                        Case{403, "PodNotOnNode", ErrorCode::kPermissionDenied, false},
                        Case{403, "NotAnAgent", ErrorCode::kPermissionDenied, false},
                        Case{403, "RoleDenied", ErrorCode::kPermissionDenied, false},
                        Case{404, "PodNotFound", ErrorCode::kNotFound, false},
                        Case{404, "NoRole", ErrorCode::kNotFound, false},
                        Case{409, "RoleMismatch", ErrorCode::kConflict, true}}) {
    http_ = std::make_unique<testing::FakeHttpClient>();
    Make();
    http_->PushResponse(c.status, ErrorBody(c.code));
    auto r = source_->Fetch(Spec(), 3600);
    ASSERT_FALSE(r) << c.status;
    EXPECT_EQ(r.error().code(), c.want) << c.code;
    EXPECT_EQ(r.error().retryable(), c.retryable) << c.code;
    EXPECT_EQ(r.error().upstream_code(), c.code);
    EXPECT_THAT(r.error().message(), HasSubstr(c.code));
    EXPECT_EQ(http_->requests().size(), 1U) << c.code;  // server-b never asked
    EXPECT_TRUE(source_->Answered());
  }
}

TEST_F(ServerSourceTest, ServerErrorsAndConnectionErrorsFailOver) {
  for (int status : {429, 500, 502, 503, 504, 0 /* connection refused */, -1 /* bad 200 */}) {
    http_ = std::make_unique<testing::FakeHttpClient>();
    Make();
    if (status == 0) {
      http_->PushError(ErrorCode::kUnavailable, "connection refused", /*retryable=*/true);
    } else if (status == -1) {
      http_->PushResponse(200, "{\"roleArn\":");
    } else {
      http_->PushResponse(status, ErrorBody("Unavailable"));
    }
    http_->PushResponse(200, OkBody("ASIAFROMB"));
    auto r = source_->Fetch(Spec(), 3600);
    ASSERT_TRUE(r) << status << ": " << r.error().ToString();
    EXPECT_EQ(r->credentials.access_key_id, "ASIAFROMB");
    EXPECT_THAT(Urls(), ::testing::ElementsAre(std::string(kA) + "/v1/credentials",
                                               std::string(kB) + "/v1/credentials"))
        << status;
    EXPECT_EQ(Metric("podiam_server_client_failovers_total"), 1) << status;
  }
}

TEST_F(ServerSourceTest, AFailedUrlIsSkippedUntilItsBackoffEnds) {
  Make();
  http_->PushError(ErrorCode::kUnavailable, "connection refused", true);
  http_->PushResponse(200, OkBody());
  ASSERT_TRUE(source_->Fetch(Spec(), 3600));
  EXPECT_EQ(Metric("podiam_server_client_endpoints_backing_off"), 1);
  // Within a's backoff (2 s base, jitter 0.5 => 1 s): b only.
  clock_.Advance(milliseconds(900));
  http_->PushResponse(200, OkBody());
  ASSERT_TRUE(source_->Fetch(Spec(), 3600));
  EXPECT_EQ(http_->last_request().url, std::string(kB) + "/v1/credentials");
  EXPECT_EQ(http_->requests().size(), 3U);
  // After it: a first again, and it recovered.
  clock_.Advance(milliseconds(100));
  http_->PushResponse(200, OkBody());
  ASSERT_TRUE(source_->Fetch(Spec(), 3600));
  EXPECT_EQ(http_->last_request().url, std::string(kA) + "/v1/credentials");
  EXPECT_EQ(Metric("podiam_server_client_endpoints_backing_off"), 0);
}

TEST_F(ServerSourceTest, AllFailingIsRetryableAndThenBacksOffWithoutRequests) {
  Make();
  http_->PushError(ErrorCode::kUnavailable, "connection refused", true);
  http_->PushResponse(503, ErrorBody("StsError"));
  auto r = source_->Fetch(Spec(), 3600);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kUnavailable);
  EXPECT_TRUE(r.error().retryable());
  EXPECT_THAT(r.error().message(), HasSubstr("2 tried"));
  r = source_->Fetch(Spec(), 3600);
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().retryable());
  EXPECT_THAT(r.error().message(), HasSubstr("backing off"));
  EXPECT_EQ(http_->requests().size(), 2U);
}

TEST_F(ServerSourceTest, TransportErrorsAreRetryableEvenWhenTheTransportSaysNot) {
  Make({kA});
  http_->PushError(ErrorCode::kUnavailable, "TLS certificate verification failed", false);
  auto r = source_->Fetch(Spec(), 3600);
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().retryable());
  EXPECT_THAT(r.error().message(), HasSubstr("certificate"));
}

TEST_F(ServerSourceTest, ADifferentRoleIsARetryableConflict) {
  Make();
  http_->PushResponse(200, OkBody("ASIAX", "arn:aws:iam::123456789012:role/other"));
  auto r = source_->Fetch(Spec(), 3600);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kConflict);
  EXPECT_EQ(r.error().upstream_code(), "RoleMismatch");
  EXPECT_TRUE(r.error().retryable());
  EXPECT_EQ(http_->requests().size(), 1U);
}

TEST_F(ServerSourceTest, OneDeadlineForAllUrls) {
  Make();
  http_->SetHandler([this](const http::ClientRequest& r) -> Result<http::Response> {
    clock_.Advance(r.timeout);  // every server times out
    return MakeError(ErrorCode::kDeadlineExceeded, "timed out", {}, true);
  });
  Make({kA, kB, "https://server-c:8443"});
  auto r = source_->Fetch(Spec(), 3600);
  ASSERT_FALSE(r);
  // a: 4 s, b: 4 s, c: the 2 s left; then the deadline has passed.
  auto reqs = http_->requests();
  ASSERT_EQ(reqs.size(), 3U);
  EXPECT_EQ(reqs[2].timeout, seconds(2));
  EXPECT_TRUE(r.error().retryable());
}

TEST_F(ServerSourceTest, PingAsksReadyzUnauthenticated) {
  Make();
  EXPECT_FALSE(source_->Answered());
  http_->PushError(ErrorCode::kUnavailable, "refused", true);
  http_->PushResponse(200, "ok");
  ASSERT_TRUE(source_->Ping());
  EXPECT_TRUE(source_->Answered());
  EXPECT_EQ(http_->last_request().url, std::string(kB) + "/readyz");
  EXPECT_FALSE(http_->last_request().headers.Has("Authorization"));
}

// The broker over a server source: an outage keeps cached credentials served until
// min_remaining before expiry, and recovery needs no restart.
TEST_F(ServerSourceTest, BrokerServesCachedCredentialsThroughAnOutageAndRecovers) {
  Make({kA});
  std::atomic<bool> up{true};
  std::atomic<int> issued{0};
  http_->SetHandler([&](const http::ClientRequest&) -> Result<http::Response> {
    if (!up) {
      return MakeError(ErrorCode::kUnavailable, "connection refused", {}, true);
    }
    http::Response resp;
    resp.status = 200;
    resp.body = OkBody("ASIA" + std::to_string(++issued));
    return resp;
  });
  testing::FakeRandom broker_random(0.0);
  creds::CredentialBroker broker(*source_, clock_, broker_random, *registry_,
                                 {.jitter_fraction = 0, .max_concurrent_sts = 1});
  const creds::CredentialSpec spec = Spec();
  broker.Retain(spec);
  ASSERT_TRUE(broker.AwaitIdle(seconds(10)));
  auto first = broker.Cached(spec.key);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->access_key_id, "ASIA1");

  up = false;  // the server goes away for the refresh (due 30 min before expiry)
  for (int minute = 0; minute < 44; ++minute) {
    clock_.Advance(minutes(1));
    broker.Tick();
    ASSERT_TRUE(broker.AwaitIdle(seconds(10)));
    auto c = broker.Cached(spec.key);
    ASSERT_TRUE(c) << "minute " << minute;  // still served: 60 - 44 > 15 min left
    EXPECT_EQ(c->access_key_id, "ASIA1");
  }
  EXPECT_GT(http_->requests().size(), 2U);  // refreshes were tried
  ASSERT_TRUE(broker.LastError(spec.key));

  up = true;  // back: the next retry (backoff at most 30 s here) gets new credentials
  for (int i = 0; i < 120 && broker.Cached(spec.key)->access_key_id == "ASIA1"; ++i) {
    clock_.Advance(seconds(1));
    broker.Tick();
    ASSERT_TRUE(broker.AwaitIdle(seconds(10)));
  }
  auto fresh = broker.Cached(spec.key);
  ASSERT_TRUE(fresh);
  EXPECT_EQ(fresh->access_key_id, "ASIA2");
  EXPECT_FALSE(broker.LastError(spec.key));
  broker.Stop();
}

TEST_F(ServerSourceTest, BrokerFetchesForThePodThatRetainedTheKeyLast) {
  Make({kA});
  http_->SetHandler([&](const http::ClientRequest&) -> Result<http::Response> {
    http::Response resp;
    resp.status = 200;
    resp.body = OkBody();
    return resp;
  });
  testing::FakeRandom broker_random(0.0);
  creds::CredentialBroker broker(*source_, clock_, broker_random, *registry_,
                                 {.jitter_fraction = 0, .max_concurrent_sts = 1});
  creds::CredentialSpec first = Spec();
  broker.Retain(first);
  ASSERT_TRUE(broker.AwaitIdle(seconds(10)));
  creds::CredentialSpec second = Spec();  // same key (--session-scope service-account)
  second.pod = creds::PodRef{.namespace_name = "team-a", .name = "web-2", .uid = "u2"};
  broker.Retain(second);
  broker.Release(first.key);
  clock_.Advance(minutes(31));  // refresh due
  broker.Tick();
  ASSERT_TRUE(broker.AwaitIdle(seconds(10)));
  ASSERT_EQ(http_->requests().size(), 2U);
  EXPECT_EQ(nlohmann::json::parse(http_->last_request().body)["name"], "web-2");
  broker.Stop();
}

TEST_F(ServerSourceTest, BrokerStopsServingAtMinRemainingWhenTheOutageLasts) {
  Make({kA});
  std::atomic<bool> up{true};
  http_->SetHandler([&](const http::ClientRequest&) -> Result<http::Response> {
    if (!up) {
      return MakeError(ErrorCode::kUnavailable, "connection refused", {}, true);
    }
    http::Response resp;
    resp.status = 200;
    resp.body = OkBody();
    return resp;
  });
  testing::FakeRandom broker_random(0.0);
  creds::CredentialBroker broker(*source_, clock_, broker_random, *registry_,
                                 {.jitter_fraction = 0, .max_concurrent_sts = 1});
  const creds::CredentialSpec spec = Spec();
  broker.Retain(spec);
  ASSERT_TRUE(broker.AwaitIdle(seconds(10)));
  up = false;
  clock_.Advance(minutes(45) + seconds(1));  // 60 min credentials, 15 min minimum left
  broker.Tick();
  ASSERT_TRUE(broker.AwaitIdle(seconds(10)));
  EXPECT_FALSE(broker.Cached(spec.key));
  broker.Stop();
}

}  // namespace
}  // namespace podiam::serverclient
