#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>

#include "podiam/server/peer_handler.hpp"
#include "podiam/server/peer_protocol.hpp"
#include "podiam/testing/fake_clock.hpp"
#include "podiam/testing/fake_token_reviews.hpp"
#include "podiam/testing/test_jwt.hpp"

namespace podiam::server {
namespace {

using ::testing::HasSubstr;

constexpr std::int64_t kNow = 2000000000;
constexpr std::string_view kPeer = "system:serviceaccount:kube-system:podiam-server";

creds::CredentialSpec FullSpec() {
  return {.key = {.role_arn = "arn:aws:iam::123456789012:role/app",
                  .target_role_arn = "arn:aws:iam::210987654321:role/target",
                  .external_id = "ext-1",
                  .session_name = "team-a.web-1",
                  .session_policy = R"({"Version":"2012-10-17"})",
                  .owner = "pod/uid-1",
                  .tags = {{.key = "kubernetes-namespace", .value = "team-a"},
                           {.key = "empty", .value = ""}},
                  .source_identity = "web-1",
                  .duration_seconds = 1800},
          .pod = creds::PodRef{"team-a", "web-1", "uid-1"}};
}

TEST(PeerProtocol, RoundTripsEveryField) {
  auto spec = FullSpec();
  auto parsed = ParsePeerRequest(EncodePeerRequest(spec));
  ASSERT_TRUE(parsed) << parsed.error().ToString();
  EXPECT_EQ(parsed->key, spec.key);
  ASSERT_TRUE(parsed->pod);
  EXPECT_EQ(parsed->pod->uid, "uid-1");
  creds::CredentialSpec minimal{.key = {.role_arn = "arn:aws:iam::1:role/r", .session_name = "s"}};
  auto back = ParsePeerRequest(EncodePeerRequest(minimal));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->key, minimal.key);
  EXPECT_FALSE(back->pod);
  EXPECT_FALSE(back->key.duration_seconds);
}

TEST(PeerProtocol, IsStrict) {
  const std::string ok = R"("roleArn":"arn:aws:iam::1:role/r","sessionName":"s")";
  EXPECT_TRUE(ParsePeerRequest("{" + ok + "}"));
  for (const std::string& bad : std::vector<std::string>{
           std::string(""),
           std::string("[]"),
           std::string("{"),
           std::string(R"({"sessionName":"s"})"),
           std::string(R"({"roleArn":"arn:aws:iam::1:role/r"})"),
           std::string(R"({"roleArn":"","sessionName":"s"})"),
           "{" + ok + R"(,"extra":1})",
           "{" + ok + R"(,"externalId":5})",
           "{" + ok + R"(,"durationSeconds":60})",
           "{" + ok + R"(,"durationSeconds":1800.5})",
           "{" + ok + R"(,"durationSeconds":"1800"})",
           "{" + ok + R"(,"tags":{}})",
           "{" + ok + R"(,"tags":[{"key":"k"}]})",
           "{" + ok + R"(,"tags":[{"key":"","value":"v"}]})",
           "{" + ok + R"(,"tags":[{"key":"k","value":"v","x":1}]})",
           "{" + ok + R"(,"pod":{"namespace":"a","name":"b"}})",
           "{" + ok + R"(,"pod":"a/b"})",
           std::string(R"({"roleArn":"arn","sessionName":")") + std::string(65, 'x') + "\"}",
           "{" + ok + R"(,"sessionPolicy":")" + std::string(kMaxPeerBodyBytes, 'x') + "\"}",
       }) {
    auto r = ParsePeerRequest(bad);
    EXPECT_FALSE(r) << bad.substr(0, 100);
    if (!r) {
      EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
    }
  }
  // The sensitive values are never echoed.
  auto r = ParsePeerRequest("{" + ok + R"(,"externalId":"secret-ext","x":1})");
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message(), ::testing::Not(HasSubstr("secret-ext")));
}

std::string Jwt(std::string_view sub, std::int64_t exp = kNow + 600) {
  return testing::UnsignedJwt(R"({"alg":"RS256"})",
                              fmt::format(R"({{"exp":{},"sub":"{}"}})", exp, sub));
}

using FakeReviews = testing::FakeTokenReviews;

class FakeOwners final : public KeyOwners {
 public:
  std::optional<membership::Member> PeerOwner(const creds::CredentialKey& /*k*/) const override {
    return other;
  }
  std::optional<membership::Member> other;
};

class FakeFresh final : public PeerCredentials {
 public:
  Result<aws::Credentials> FetchFresh(const creds::CredentialSpec& spec,
                                      SteadyTime /*deadline*/) override {
    ++calls;
    last = spec;
    if (error) {
      return tl::unexpected(*error);
    }
    return aws::Credentials{.access_key_id = "ASIAOWNER",
                            .secret_access_key = "s",
                            .session_token = "t",
                            .expiration = Clock::WallTime(std::chrono::seconds(kNow + 3600))};
  }
  int calls = 0;
  creds::CredentialSpec last;
  std::optional<Error> error;
};

class PeerHandlerTest : public ::testing::Test {
 protected:
  PeerHandlerTest() {
    reviews_.known[Jwt("peer")] = {.username = std::string(kPeer)};
    reviews_.known[Jwt("agent")] = {.username = "system:serviceaccount:kube-system:podiam-agent",
                                    .node_name = "node-a"};
  }
  http::Response Ask(std::optional<std::string> who, std::string body,
                     std::string method = "POST") {
    http::Request request;
    request.method = std::move(method);
    request.target = "/v1/peer/credentials";
    request.peer.address = "10.0.0.2";
    if (who) {
      request.headers.Set("Authorization", "Bearer " + *who);
    }
    request.body = std::move(body);
    http::Response response;
    int answers = 0;
    handler_.Handle(std::move(request), [&](http::Response r) {
      ++answers;
      response = std::move(r);
    });
    EXPECT_EQ(answers, 1);
    return response;
  }
  static std::string Code(const http::Response& r) {
    return nlohmann::json::parse(r.body).value("code", "");
  }

  testing::FakeClock clock_{std::chrono::seconds(kNow)};
  FakeReviews reviews_;
  containercreds::ReviewCache cache_{clock_, {}};
  FakeOwners owners_;
  FakeFresh fresh_;
  metrics::Registry registry_;
  ShardMetrics metrics_{registry_};
  PeerHandler handler_{reviews_, cache_, owners_, fresh_, clock_, metrics_, {}};
};

TEST_F(PeerHandlerTest, ServesAPeerFromTheBrokerFresh) {
  auto r = Ask(Jwt("peer"), EncodePeerRequest(FullSpec()));
  ASSERT_EQ(r.status, 200) << r.body;
  auto j = nlohmann::json::parse(r.body);
  EXPECT_EQ(j["credentials"]["AccessKeyId"], "ASIAOWNER");
  EXPECT_EQ(j["roleArn"], FullSpec().key.target_role_arn);  // chained: the target role
  EXPECT_EQ(fresh_.calls, 1);
  EXPECT_EQ(fresh_.last.key, FullSpec().key);
  // The review is cached.
  EXPECT_EQ(Ask(Jwt("peer"), EncodePeerRequest(FullSpec())).status, 200);
  EXPECT_EQ(reviews_.calls, 1);
  EXPECT_EQ(metrics_.peer_answers.WithLabels({"200"}).Value(), 2);
}

TEST_F(PeerHandlerTest, RefusesInOrder) {
  const std::string body = EncodePeerRequest(FullSpec());
  auto r = Ask(std::nullopt, body);
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(Ask("not-a-jwt", body).status, 401);
  EXPECT_EQ(Ask(Jwt("peer", kNow - 1), body).status, 401);
  EXPECT_EQ(Ask(Jwt("stranger"), body).status, 401);
  r = Ask(Jwt("agent"), body);
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(Code(r), "NotAPeer");
  r = Ask(Jwt("peer"), R"({"roleArn":"x"})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(Code(r), "BadRequest");
  EXPECT_EQ(Ask(Jwt("peer"), body, "GET").status, 405);
  owners_.other = membership::Member{"c", "https://c:1"};
  r = Ask(Jwt("peer"), body);
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(Code(r), "NotOwner");
  EXPECT_EQ(fresh_.calls, 0);
  owners_.other.reset();
  reviews_.down = true;
  EXPECT_EQ(Ask(Jwt("peer2"), body).status, 503);
}

TEST_F(PeerHandlerTest, StsErrorsAtTheOwner) {
  fresh_.error = Error(ErrorCode::kPermissionDenied, "denied", "AccessDenied", false);
  auto r = Ask(Jwt("peer"), EncodePeerRequest(FullSpec()));
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(Code(r), "CredentialsDenied");
  fresh_.error = Error(ErrorCode::kUnavailable, "down", "ServiceUnavailable", true);
  r = Ask(Jwt("peer"), EncodePeerRequest(FullSpec()));
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(Code(r), "CredentialsUnavailable");
}

}  // namespace
}  // namespace podiam::server
