#include "podiam/server/handler.hpp"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>

#include "podiam/aws/arn.hpp"
#include "podiam/metrics/registry.hpp"
#include "podiam/testing/fake_clock.hpp"
#include "podiam/testing/fake_token_reviews.hpp"
#include "podiam/testing/test_jwt.hpp"

namespace podiam::server {
namespace {

using ::testing::HasSubstr;

constexpr std::int64_t kNow = 2000000000;
constexpr std::string_view kAgent = "system:serviceaccount:kube-system:podiam-agent";
constexpr std::string_view kRole = "arn:aws:iam::123456789012:role/app";

std::string Jwt(std::string_view sub, std::int64_t exp = kNow + 600) {
  return testing::UnsignedJwt(R"({"alg":"RS256"})",
                              fmt::format(R"({{"exp":{},"sub":"{}"}})", exp, sub));
}

using FakeReviews = testing::FakeTokenReviews;

class FakePods final : public PodLookup {
 public:
  std::shared_ptr<const ServerPod> Find(std::string_view ns, std::string_view name,
                                        std::string_view uid) override {
    return Lookup(cached, ns, name, uid);
  }
  Result<std::shared_ptr<const ServerPod>> Read(std::string_view ns, std::string_view name,
                                                std::string_view uid) override {
    ++reads;
    if (apiserver_down) {
      return MakeError(ErrorCode::kUnavailable, "down");
    }
    return Lookup(apiserver, ns, name, uid);
  }
  bool Ready() override { return ready; }

  static std::shared_ptr<const ServerPod> Lookup(const std::map<std::string, ServerPod>& pods,
                                                 std::string_view ns, std::string_view name,
                                                 std::string_view uid) {
    auto it = pods.find(std::string(ns) + "/" + std::string(name));
    if (it == pods.end() || it->second.uid != uid) {
      return nullptr;
    }
    return std::make_shared<const ServerPod>(it->second);
  }

  std::map<std::string, ServerPod> cached;
  std::map<std::string, ServerPod> apiserver;
  int reads = 0;
  bool ready = true;
  bool apiserver_down = false;
};

class FakeCredentials final : public CredentialSource {
 public:
  std::shared_ptr<const aws::Credentials> Cached(const creds::CredentialSpec& /*spec*/) override {
    return cached ? std::make_shared<const aws::Credentials>(Make()) : nullptr;
  }
  Result<aws::Credentials> Fetch(const creds::CredentialSpec& spec,
                                 SteadyTime /*deadline*/) override {
    ++fetches;
    last_role = spec.key.role_arn;
    if (error) {
      return tl::unexpected(*error);
    }
    return Make();
  }
  static aws::Credentials Make() {
    return {.access_key_id = "ASIAEXAMPLE",
            .secret_access_key = "secret-key",
            .session_token = "session-token",
            .expiration = Clock::WallTime(std::chrono::seconds(kNow + 3600))};
  }
  bool cached = false;
  int fetches = 0;
  std::string last_role;
  std::optional<Error> error;
};

ServerPod Pod(std::string name, std::string node,
              identity::Outcome outcome = identity::Outcome::kAllowed) {
  ServerPod pod{.namespace_name = "team-a",
                .name = std::move(name),
                .uid = "uid-" + node,
                .node_name = std::move(node),
                .decided = true};
  pod.decision.outcome = outcome;
  pod.decision.reason = "because";
  if (outcome == identity::Outcome::kAllowed || outcome == identity::Outcome::kDenied) {
    pod.decision.role = *aws::ParseRoleArn(kRole);
  }
  if (outcome == identity::Outcome::kAllowed) {
    auto spec = std::make_shared<creds::CredentialSpec>();
    spec->key.role_arn = std::string(kRole);
    spec->key.session_name = "web-1-session";
    pod.spec = spec;
  }
  return pod;
}

class HandlerTest : public ::testing::Test {
 protected:
  HandlerTest() {
    reviews_.known[Jwt("agent-a")] = {.username = std::string(kAgent), .node_name = "node-a"};
    reviews_.known[Jwt("agent-b")] = {.username = std::string(kAgent), .node_name = "node-b"};
    reviews_.known[Jwt("unbound")] = {.username = std::string(kAgent)};
    reviews_.known[Jwt("other")] = {.username = "system:serviceaccount:team-a:default",
                                    .node_name = "node-a"};
    pods_.cached["team-a/web-1"] = Pod("web-1", "node-a");
    pods_.cached["team-a/web-2"] = Pod("web-2", "node-b");
  }

  std::unique_ptr<CredentialsHandler> Make(HandlerOptions options = {}) {
    options.on_refusal = [this](const RefusalNotice& n) { notices_.push_back(n); };
    return std::make_unique<CredentialsHandler>(reviews_, pods_, credentials_, clock_, metrics_,
                                                std::move(options));
  }

  http::Response Ask(CredentialsHandler& handler, std::optional<std::string> authorization,
                     std::string body, std::string method = "POST",
                     std::string target = "/v1/credentials") {
    http::Request request;
    request.method = std::move(method);
    request.target = std::move(target);
    request.peer.address = "10.0.0.1";
    if (authorization) {
      request.headers.Set("Authorization", *authorization);
    }
    request.body = std::move(body);
    http::Response response;
    int answers = 0;
    handler.Handle(std::move(request), [&](http::Response r) {
      ++answers;
      response = std::move(r);
    });
    EXPECT_EQ(answers, 1);
    return response;
  }

  static std::string Body(std::string_view name, std::string_view uid,
                          std::string_view role = kRole) {
    return fmt::format(R"({{"namespace":"team-a","name":"{}","uid":"{}","roleArn":"{}"}})", name,
                       uid, role);
  }

  http::Response AskAs(CredentialsHandler& handler, std::string_view who, std::string body) {
    return Ask(handler, "Bearer " + Jwt(who), std::move(body));
  }

  static nlohmann::json Json(const http::Response& r) { return nlohmann::json::parse(r.body); }

  double Refusals(const std::string& reason) {
    return metrics_.refusals.WithLabels({reason}).Value();
  }

  testing::FakeClock clock_{std::chrono::seconds(kNow)};
  FakeReviews reviews_;
  FakePods pods_;
  FakeCredentials credentials_;
  metrics::Registry registry_;
  ServerMetrics metrics_{registry_};
  std::vector<RefusalNotice> notices_;
};

TEST_F(HandlerTest, ServesTheAgentsOwnNodesPod) {
  auto h = Make();
  auto r = AskAs(*h, "agent-a", Body("web-1", "uid-node-a"));
  ASSERT_EQ(r.status, 200) << r.body;
  auto j = Json(r);
  EXPECT_EQ(j["roleArn"], kRole);
  EXPECT_EQ(j["sessionName"], "web-1-session");
  EXPECT_EQ(j["assumedRoleUser"]["arn"],
            "arn:aws:sts::123456789012:assumed-role/app/web-1-session");
  EXPECT_EQ(j["credentials"]["AccessKeyId"], "ASIAEXAMPLE");
  EXPECT_EQ(j["credentials"]["SecretAccessKey"], "secret-key");
  EXPECT_EQ(j["credentials"]["SessionToken"], "session-token");
  EXPECT_EQ(j["credentials"]["Expiration"], "2033-05-18T04:33:20Z");
  EXPECT_EQ(credentials_.fetches, 1);
  EXPECT_EQ(metrics_.requests.WithLabels({"200"}).Value(), 1);
}

TEST_F(HandlerTest, CachedReviewAndCredentialsNeedNoBlockingWork) {
  int offloaded = 0;
  auto h = Make({.offload = [&](std::string_view, std::function<void()> work) {
    ++offloaded;
    work();
    return true;
  }});
  ASSERT_EQ(AskAs(*h, "agent-a", Body("web-1", "uid-node-a")).status, 200);
  credentials_.cached = true;
  ASSERT_EQ(AskAs(*h, "agent-a", Body("web-1", "uid-node-a")).status, 200);
  EXPECT_EQ(offloaded, 1);
  EXPECT_EQ(reviews_.calls, 1);
  EXPECT_EQ(metrics_.review_cache.WithLabels({"hit"}).Value(), 1);
}

TEST_F(HandlerTest, NoOrIllFormedBearerTokenIs401) {
  auto h = Make();
  for (std::optional<std::string> auth :
       {std::optional<std::string>(), std::optional<std::string>(""),
        std::optional<std::string>("Bearer "), std::optional<std::string>("Basic abc"),
        std::optional<std::string>(Jwt("agent-a")), std::optional<std::string>("Bearer not-a-jwt"),
        std::optional<std::string>("Bearer " + Jwt("agent-a", kNow - 1))}) {
    auto r = Ask(*h, auth, Body("web-1", "uid-node-a"));
    EXPECT_EQ(r.status, 401) << auth.value_or("<none>");
    EXPECT_EQ(Json(r)["code"], "Unauthorized");
    EXPECT_EQ(Json(r)["retryable"], false);
  }
  EXPECT_EQ(reviews_.calls, 0);
}

TEST_F(HandlerTest, UnauthenticatedTokenIs401AndTheAnswerIsCached) {
  auto h = Make();
  EXPECT_EQ(AskAs(*h, "stranger", Body("web-1", "uid-node-a")).status, 401);
  EXPECT_EQ(AskAs(*h, "stranger", Body("web-1", "uid-node-a")).status, 401);
  EXPECT_EQ(reviews_.calls, 1);
  EXPECT_EQ(Refusals("unauthenticated"), 2);
}

TEST_F(HandlerTest, ApiserverDownIsRetryable503) {
  reviews_.down = true;
  auto h = Make();
  auto r = AskAs(*h, "agent-a", Body("web-1", "uid-node-a"));
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(Json(r)["retryable"], true);
}

TEST_F(HandlerTest, AnotherServiceAccountIsNotAnAgent) {
  auto h = Make();
  auto r = AskAs(*h, "other", Body("web-1", "uid-node-a"));
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(Json(r)["code"], "NotAnAgent");
  EXPECT_EQ(credentials_.fetches, 0);
}

TEST_F(HandlerTest, ConfiguredAgentServiceAccountsAreAccepted) {
  auto h = Make({.agent_usernames = {"system:serviceaccount:team-a:default"}});
  EXPECT_EQ(AskAs(*h, "other", Body("web-1", "uid-node-a")).status, 200);
  EXPECT_EQ(AskAs(*h, "agent-a", Body("web-1", "uid-node-a")).status, 403);
}

TEST_F(HandlerTest, UnboundTokenIsRefusedUnlessAllowed) {
  auto strict = Make();
  auto r = AskAs(*strict, "unbound", Body("web-1", "uid-node-a"));
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(Json(r)["code"], "NoNodeBinding");
  auto lax = Make({.allow_unbound_agents = true});
  EXPECT_EQ(AskAs(*lax, "unbound", Body("web-2", "uid-node-b")).status, 200);
}

TEST_F(HandlerTest, BadBodyIs400AfterAuthentication) {
  auto h = Make();
  for (std::string body : {std::string(""), std::string("{"), std::string("[]"),
                           std::string(R"({"namespace":"team-a","name":"web-1","uid":"u"})"),
                           std::string(R"({"namespace":1,"name":"web-1","uid":"u","roleArn":"r"})"),
                           Body("web-1", std::string(5000, 'u'))}) {
    auto r = AskAs(*h, "agent-a", body);
    EXPECT_EQ(r.status, 400) << body.substr(0, 80);
    EXPECT_EQ(Json(r)["code"], "BadRequest");
  }
  // Authentication comes first: a stranger's garbage is 401.
  EXPECT_EQ(AskAs(*h, "stranger", "{").status, 401);
}

TEST_F(HandlerTest, NotReadyIs503) {
  pods_.ready = false;
  auto h = Make();
  EXPECT_EQ(AskAs(*h, "agent-a", Body("web-1", "uid-node-a")).status, 503);
}

TEST_F(HandlerTest, UnknownPodOrUidIs404AfterAnApiserverRead) {
  auto h = Make();
  auto r = AskAs(*h, "agent-a", Body("web-9", "uid-node-a"));
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(Json(r)["code"], "PodNotFound");
  EXPECT_EQ(AskAs(*h, "agent-a", Body("web-1", "another-uid")).status, 404);
  EXPECT_EQ(pods_.reads, 2);
}

TEST_F(HandlerTest, PodOnlyTheApiserverKnowsIsServed) {
  pods_.apiserver["team-a/web-3"] = Pod("web-3", "node-a");
  auto h = Make();
  EXPECT_EQ(AskAs(*h, "agent-a", Body("web-3", "uid-node-a")).status, 200);
}

TEST_F(HandlerTest, ApiserverReadFailingIs503) {
  pods_.apiserver_down = true;
  auto h = Make();
  EXPECT_EQ(AskAs(*h, "agent-a", Body("web-9", "uid-node-a")).status, 503);
}

TEST_F(HandlerTest, PodOnAnotherNodeIs403CountedAndReported) {
  auto h = Make();
  auto r = AskAs(*h, "agent-a", Body("web-2", "uid-node-b"));
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(Json(r)["code"], "PodNotOnNode");
  EXPECT_THAT(Json(r)["message"].get<std::string>(), HasSubstr("not on node node-a"));
  EXPECT_EQ(Refusals("pod_not_on_node"), 1);
  ASSERT_EQ(notices_.size(), 1U);
  EXPECT_EQ(notices_[0].agent_node, "node-a");
  ASSERT_TRUE(notices_[0].pod);
  EXPECT_EQ(notices_[0].pod->name, "web-2");
  EXPECT_EQ(credentials_.fetches, 0);
}

TEST_F(HandlerTest, TheServersDecisionIsAuthoritative) {
  pods_.cached["team-a/denied"] = Pod("denied", "node-a", identity::Outcome::kDenied);
  pods_.cached["team-a/invalid"] = Pod("invalid", "node-a", identity::Outcome::kInvalid);
  pods_.cached["team-a/none"] = Pod("none", "node-a", identity::Outcome::kNoRole);
  pods_.cached["team-a/pending"] = Pod("pending", "node-a", identity::Outcome::kPending);
  ServerPod host = Pod("host", "node-a");
  host.decided = false;
  pods_.cached["team-a/host"] = host;
  auto h = Make();
  auto denied = AskAs(*h, "agent-a", Body("denied", "uid-node-a"));
  EXPECT_EQ(denied.status, 403);
  EXPECT_EQ(Json(denied)["code"], "RoleDenied");
  EXPECT_EQ(Json(denied)["message"], "because");
  EXPECT_EQ(AskAs(*h, "agent-a", Body("invalid", "uid-node-a")).status, 403);
  auto none = AskAs(*h, "agent-a", Body("none", "uid-node-a"));
  EXPECT_EQ(none.status, 404);
  EXPECT_EQ(Json(none)["code"], "NoRole");
  EXPECT_EQ(AskAs(*h, "agent-a", Body("pending", "uid-node-a")).status, 503);
  EXPECT_EQ(AskAs(*h, "agent-a", Body("host", "uid-node-a")).status, 404);
  auto mismatch =
      AskAs(*h, "agent-a", Body("web-1", "uid-node-a", "arn:aws:iam::123456789012:role/other"));
  EXPECT_EQ(mismatch.status, 409);
  EXPECT_EQ(Json(mismatch)["code"], "RoleMismatch");
  EXPECT_EQ(Json(mismatch)["retryable"], true);
  EXPECT_EQ(credentials_.fetches, 0);
}

TEST_F(HandlerTest, StsRefusalIs403AndFailureIs503WithTheUpstreamCode) {
  auto h = Make();
  credentials_.error = Error(ErrorCode::kPermissionDenied, "not authorized", "AccessDenied");
  auto denied = AskAs(*h, "agent-a", Body("web-1", "uid-node-a"));
  EXPECT_EQ(denied.status, 403);
  EXPECT_EQ(Json(denied)["code"], "CredentialsDenied");
  EXPECT_EQ(Json(denied)["upstreamCode"], "AccessDenied");
  credentials_.error = Error(ErrorCode::kUnavailable, "throttled", "Throttling", true);
  auto failed = AskAs(*h, "agent-a", Body("web-1", "uid-node-a"));
  EXPECT_EQ(failed.status, 503);
  EXPECT_EQ(Json(failed)["upstreamCode"], "Throttling");
  EXPECT_EQ(Json(failed)["retryable"], true);
}

TEST_F(HandlerTest, OtherPathsAndMethods) {
  auto h = Make();
  EXPECT_EQ(Ask(*h, "Bearer " + Jwt("agent-a"), "", "GET").status, 405);
  EXPECT_EQ(Ask(*h, "Bearer " + Jwt("agent-a"), "", "POST", "/v2/x").status, 404);
}

TEST_F(HandlerTest, FullQueueIs503Busy) {
  auto h = Make({.offload = [](std::string_view, std::function<void()>) { return false; }});
  auto r = AskAs(*h, "agent-a", Body("web-1", "uid-node-a"));
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(Refusals("busy"), 1);
}

TEST_F(HandlerTest, RefusalsNeverEchoTheToken) {
  auto h = Make();
  std::string token = Jwt("agent-a");
  for (const auto& body : {Body("web-2", "uid-node-b"), std::string("{")}) {
    auto r = Ask(*h, "Bearer " + token, body);
    EXPECT_EQ(r.body.find(token), std::string::npos);
  }
}

}  // namespace
}  // namespace podiam::server
