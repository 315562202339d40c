#include "podiam/containercreds/handler.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>

#include "podiam/metrics/registry.hpp"
#include "podiam/testing/fake_clock.hpp"
#include "podiam/testing/fake_token_reviews.hpp"
#include "podiam/testing/test_jwt.hpp"

namespace podiam::containercreds {
namespace {

using ::testing::HasSubstr;

using FakeReviews = testing::FakeTokenReviews;

class FakePods final : public PodResolver {
 public:
  std::shared_ptr<const PodInfo> Find(std::string_view ns, std::string_view name) override {
    auto it = pods.find(std::string(ns) + "/" + std::string(name));
    return it == pods.end() ? nullptr : std::make_shared<const PodInfo>(it->second);
  }
  bool Ready() override { return ready; }
  std::map<std::string, PodInfo> pods;
  bool ready = true;
};

class FakeRoles final : public RoleResolver {
 public:
  std::shared_ptr<const RoleChoice> Resolve(const PodInfo& pod) override {
    auto choice = std::make_shared<RoleChoice>();
    choice->outcome = outcome;
    choice->reason = "because";
    if (outcome == identity::Outcome::kAllowed || outcome == identity::Outcome::kDenied) {
      auto spec = std::make_shared<creds::CredentialSpec>();
      spec->key.role_arn = "arn:aws:iam::123456789012:role/app";
      spec->key.owner = "pod/" + pod.uid;
      choice->spec = spec;
      choice->account = "123456789012";
    }
    return choice;
  }
  identity::Outcome outcome = identity::Outcome::kAllowed;
};

class FakeCredentials final : public CredentialSource {
 public:
  std::shared_ptr<const aws::Credentials> Cached(const creds::CredentialSpec& /*spec*/) override {
    if (held) {
      return held;
    }
    return cached ? std::make_shared<const aws::Credentials>(Creds()) : nullptr;
  }
  Result<aws::Credentials> Fetch(const creds::CredentialSpec& spec,
                                 SteadyTime /*deadline*/) override {
    ++fetches;
    last_owner = spec.key.owner;
    if (sts_down) {
      return MakeError(ErrorCode::kUnavailable, "sts down");
    }
    return Creds();
  }
  static aws::Credentials Creds() {
    aws::Credentials c;
    c.access_key_id = "ASIAEXAMPLE";
    c.secret_access_key = "secret";
    c.session_token = "session";
    c.expiration = Clock::WallTime(std::chrono::seconds(2000003600));
    return c;
  }
  bool cached = false;
  std::shared_ptr<const aws::Credentials> held;  // when set, what Cached() returns
  bool sts_down = false;
  int fetches = 0;
  std::string last_owner;
};

class HandlerTest : public ::testing::Test {
 protected:
  HandlerTest() : clock_(std::chrono::seconds(2000000000)) {
    token_ = Token(2000000600);
    reviews_.known[token_] = TokenIdentity{.username = "system:serviceaccount:team-a:web",
                                           .service_account_namespace = "team-a",
                                           .service_account_name = "web",
                                           .audiences = {"pods.eks.amazonaws.com"},
                                           .pod_name = "web-1",
                                           .pod_uid = "uid-1",
                                           .node_name = "node-1"};
    pods_.pods["team-a/web-1"] = PodInfo{.namespace_name = "team-a",
                                         .name = "web-1",
                                         .uid = "uid-1",
                                         .node_name = "node-1",
                                         .service_account = "web",
                                         .ips = {"10.0.0.7"}};
  }
  std::string Token(std::int64_t exp) {
    return testing::UnsignedJwt(R"({"alg":"RS256"})", nlohmann::json({{"exp", exp}}).dump(),
                                "signature-" + std::to_string(exp));
  }
  ContainerCredentialsHandler& Handler() {
    if (!handler_) {
      handler_ = std::make_unique<ContainerCredentialsHandler>(
          reviews_, pods_, roles_, credentials_, clock_, metrics_, options_);
    }
    return *handler_;
  }
  http::Response Get(std::optional<std::string> token, std::string ip = "10.0.0.7",
                     std::string host = "169.254.170.23", std::string path = "/v1/credentials") {
    http::Request r;
    r.method = "GET";
    r.target = std::move(path);
    r.peer.address = std::move(ip);
    r.headers.Set("Host", host);
    if (token) {
      r.headers.Set("Authorization", *token);
    }
    http::Response out;
    Handler().Handle(std::move(r), [&](http::Response response) { out = std::move(response); });
    return out;
  }
  std::string Code(const http::Response& r) {
    return nlohmann::json::parse(r.body).value("code", "");
  }
  double Refusals(std::string_view reason) {
    return metrics_.refusals.WithLabels({reason}).Value();
  }

  testing::FakeClock clock_;
  FakeReviews reviews_;
  FakePods pods_;
  FakeRoles roles_;
  FakeCredentials credentials_;
  metrics::Registry registry_;
  ContainerMetrics metrics_{registry_};
  HandlerOptions options_{.node_name = "node-1"};
  std::unique_ptr<ContainerCredentialsHandler> handler_;
  std::string token_;
};

TEST_F(HandlerTest, ServesTheCredentialsJsonAndReviewsOnce) {
  auto r = Get(token_);
  ASSERT_EQ(r.status, 200) << r.body;
  auto body = nlohmann::json::parse(r.body);
  EXPECT_EQ(body["AccessKeyId"], "ASIAEXAMPLE");
  EXPECT_EQ(body["SecretAccessKey"], "secret");
  EXPECT_EQ(body["Token"], "session");
  EXPECT_EQ(body["AccountId"], "123456789012");
  EXPECT_EQ(body["Expiration"], "2033-05-18T04:33:20Z");
  EXPECT_EQ(credentials_.last_owner, "pod/uid-1");
  for (int i = 0; i < 50; ++i) {
    EXPECT_EQ(Get(token_).status, 200);
  }
  EXPECT_EQ(reviews_.calls, 1);
  EXPECT_EQ(metrics_.token_reviews.WithLabels({"authenticated"}).Value(), 1);
  EXPECT_EQ(metrics_.review_cache.WithLabels({"hit"}).Value(), 50);
  EXPECT_EQ(metrics_.requests.WithLabels({"200"}).Value(), 51);
}

TEST_F(HandlerTest, CachedCredentialsBodyFollowsTheBrokersObject) {
  auto first = std::make_shared<const aws::Credentials>(FakeCredentials::Creds());
  credentials_.held = first;
  auto a = Get(token_);
  auto b = Get(token_);
  ASSERT_EQ(a.status, 200);
  EXPECT_EQ(b.body, a.body);
  EXPECT_EQ(b.headers.Get("Content-Type"), "application/json");
  // Refreshed: a new object (possibly at the old one's address once that is freed).
  aws::Credentials next = FakeCredentials::Creds();
  next.access_key_id = "ASIANEXT";
  credentials_.held = std::make_shared<const aws::Credentials>(next);
  first.reset();
  auto c = Get(token_);
  ASSERT_EQ(c.status, 200);
  EXPECT_EQ(nlohmann::json::parse(c.body)["AccessKeyId"], "ASIANEXT");
  credentials_.held.reset();
  credentials_.held = std::make_shared<const aws::Credentials>(FakeCredentials::Creds());
  EXPECT_EQ(nlohmann::json::parse(Get(token_).body)["AccessKeyId"], "ASIAEXAMPLE");
  EXPECT_EQ(credentials_.fetches, 0);
}

TEST_F(HandlerTest, HostMustBeAListenAddress) {
  EXPECT_EQ(Get(token_, "10.0.0.7", "[fd00:ec2::23]:80").status, 200);
  EXPECT_EQ(Get(token_, "10.0.0.7", "169.254.170.23:80").status, 200);
  auto r = Get(token_, "10.0.0.7", "169.254.170.2");
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(Code(r), "AccessDenied");
  EXPECT_EQ(Get(token_, "10.0.0.7", "localhost").status, 403);
  EXPECT_EQ(Refusals("host"), 2);
}

TEST_F(HandlerTest, MissingOrMalformedTokenIs400WithoutAReview) {
  EXPECT_EQ(Get(std::nullopt).status, 400);
  EXPECT_EQ(Get("").status, 400);
  EXPECT_EQ(Get("Bearer " + token_).status, 400);
  EXPECT_EQ(Get("not-a-jwt").status, 400);
  EXPECT_EQ(reviews_.calls, 0);
  EXPECT_EQ(Refusals("no_token"), 2);
  EXPECT_EQ(Refusals("malformed_token"), 2);
}

TEST_F(HandlerTest, ExpiredTokenIs401WithoutAReview) {
  auto r = Get(Token(2000000000));
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(Code(r), "InvalidToken");
  EXPECT_EQ(reviews_.calls, 0);
}

TEST_F(HandlerTest, RejectedTokenIs401AndCachedBriefly) {
  std::string other = Token(2000000500);  // not known: another audience, or forged
  EXPECT_EQ(Get(other).status, 401);
  EXPECT_EQ(Get(other).status, 401);
  EXPECT_EQ(reviews_.calls, 1);
  clock_.Advance(std::chrono::seconds(6));
  EXPECT_EQ(Get(other).status, 401);
  EXPECT_EQ(reviews_.calls, 2);
}

TEST_F(HandlerTest, ApiserverErrorIs503AndNeverCached) {
  reviews_.down = true;
  EXPECT_EQ(Get(token_).status, 503);
  EXPECT_EQ(Get(token_).status, 503);
  EXPECT_EQ(reviews_.calls, 2);
  reviews_.down = false;
  EXPECT_EQ(Get(token_).status, 200);
}

TEST_F(HandlerTest, TokenReplayedFromAnotherAddressIs403) {
  auto r = Get(token_, "10.0.0.8");
  EXPECT_EQ(r.status, 403);
  EXPECT_THAT(r.body, HasSubstr("own address"));
  EXPECT_EQ(Refusals("source_ip"), 1);
}

TEST_F(HandlerTest, RefusalsAboutAKnownPodAreReported) {
  std::vector<std::string> reported;
  options_.on_refusal = [&](const PodInfo& pod, std::string_view reason, std::string_view) {
    reported.push_back(pod.name + ":" + std::string(reason));
  };
  Get(token_, "10.0.0.8");
  EXPECT_THAT(reported, ::testing::ElementsAre("web-1:source_ip"));
}

TEST_F(HandlerTest, PodOnAnotherNodeIs403) {
  reviews_.known[token_].node_name = "node-2";
  EXPECT_EQ(Get(token_).status, 403);
  EXPECT_EQ(Refusals("other_node"), 1);
}

TEST_F(HandlerTest, UnknownReplacedOrFinishedPodIs403) {
  pods_.pods["team-a/web-1"].uid = "uid-2";
  EXPECT_EQ(Get(token_).status, 403);
  EXPECT_EQ(Refusals("pod_replaced"), 1);
  pods_.pods["team-a/web-1"].uid = "uid-1";
  pods_.pods["team-a/web-1"].finished = true;
  EXPECT_EQ(Get(token_).status, 403);
  EXPECT_EQ(Refusals("pod_finished"), 1);
  pods_.pods.clear();
  EXPECT_EQ(Get(token_).status, 403);
  EXPECT_EQ(Refusals("unknown_pod"), 1);
}

TEST_F(HandlerTest, TokenNotBoundToAPodIs401) {
  reviews_.known[token_].pod_name.clear();
  EXPECT_EQ(Get(token_).status, 401);
  EXPECT_EQ(Refusals("not_pod_bound"), 1);
}

TEST_F(HandlerTest, HostNetworkPodsRefusedUnlessAllowed) {
  pods_.pods["team-a/web-1"].host_network = true;
  pods_.pods["team-a/web-1"].ips = {"192.168.1.1"};
  EXPECT_EQ(Get(token_, "192.168.1.1").status, 403);
  handler_.reset();
  options_.allow_host_network = true;
  options_.is_node_address = [](std::string_view ip) { return ip == "192.168.1.1"; };
  EXPECT_EQ(Get(token_, "192.168.1.1").status, 200);
  // Allowed, but only from the node's own addresses: a pod's address replaying the token is not.
  EXPECT_EQ(Get(token_, "10.1.2.3").status, 403);
  EXPECT_EQ(Refusals("source_ip"), 1);
}

TEST_F(HandlerTest, RoleOutcomes) {
  roles_.outcome = identity::Outcome::kNoRole;
  auto r = Get(token_);
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(Code(r), "ResourceNotFound");
  roles_.outcome = identity::Outcome::kDenied;
  EXPECT_EQ(Get(token_).status, 403);
  roles_.outcome = identity::Outcome::kPending;
  EXPECT_EQ(Get(token_).status, 503);
  EXPECT_EQ(credentials_.fetches, 0);
}

TEST_F(HandlerTest, StsDownWithNothingCachedIs503) {
  credentials_.sts_down = true;
  EXPECT_EQ(Get(token_).status, 503);
  credentials_.cached = true;
  EXPECT_EQ(Get(token_).status, 200);
}

TEST_F(HandlerTest, NotReadyIs503) {
  pods_.ready = false;
  EXPECT_EQ(Get(token_).status, 503);
  EXPECT_EQ(reviews_.calls, 0);
}

TEST_F(HandlerTest, PerPodRateLimitIs429) {
  options_.pod_qps = 1;
  options_.pod_burst = 3;
  EXPECT_EQ(Get(token_).status, 200);
  EXPECT_EQ(Get(token_).status, 200);
  EXPECT_EQ(Get(token_).status, 200);
  EXPECT_EQ(Get(token_).status, 429);
  EXPECT_EQ(Get(token_, "10.0.0.9").status, 403);  // another source has its own bucket
  clock_.Advance(std::chrono::seconds(1));
  EXPECT_EQ(Get(token_).status, 200);
}

TEST_F(HandlerTest, ForgetPodDropsItsReviews) {
  EXPECT_EQ(Get(token_).status, 200);
  Handler().ForgetPod("uid-1");
  EXPECT_EQ(metrics_.review_invalidations.Value(), 1);
  pods_.pods.clear();
  EXPECT_EQ(Get(token_).status, 403);
  EXPECT_EQ(reviews_.calls, 2);
}

TEST_F(HandlerTest, OtherPathsAndMethods) {
  EXPECT_EQ(Get(token_, "10.0.0.7", "169.254.170.23", "/v2/credentials").status, 404);
  http::Request r;
  r.method = "POST";
  r.target = "/v1/credentials";
  http::Response out;
  Handler().Handle(std::move(r), [&](http::Response response) { out = std::move(response); });
  EXPECT_EQ(out.status, 405);
}

TEST_F(HandlerTest, OffloadRefusalIs503) {
  options_.offload = [](std::string_view, const std::function<void()>&) { return false; };
  EXPECT_EQ(Get(token_).status, 503);
  EXPECT_EQ(Refusals("busy"), 1);
}

}  // namespace
}  // namespace podiam::containercreds
