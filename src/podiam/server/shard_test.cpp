#include "podiam/server/shard.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "podiam/server/peer_protocol.hpp"
#include "podiam/server/protocol.hpp"
#include "podiam/server/sharded_source.hpp"
#include "podiam/testing/fake_clock.hpp"
#include "podiam/testing/fake_http_client.hpp"
#include "podiam/testing/fake_random.hpp"
#include "podiam/testing/fake_sts_client.hpp"

namespace podiam::server {
namespace {

using membership::Member;

creds::CredentialSpec Spec(int i) {
  return {.key = {.role_arn = "arn:aws:iam::123456789012:role/r" + std::to_string(i % 5),
                  .session_name = "team-a.pod-" + std::to_string(i),
                  .owner = "pod/uid-" + std::to_string(i)},
          .pod = creds::PodRef{"team-a", "pod-" + std::to_string(i), "uid-" + std::to_string(i)}};
}

// Owners decided by a test: the keys whose owner is set belong to that peer.
class FakeOwners final : public KeyOwners {
 public:
  std::optional<Member> PeerOwner(const creds::CredentialKey& key) const override {
    if (all) {
      return all;
    }
    auto it = owners.find(key.session_name);
    return it == owners.end() ? std::nullopt : std::optional<Member>(it->second);
  }
  std::map<std::string, Member> owners;
  std::optional<Member> all;
};

class CountingSource final : public creds::CredentialSource {
 public:
  Result<aws::AssumeRoleResult> Fetch(const creds::CredentialSpec& spec, int /*d*/) override {
    ++calls;
    last = spec;
    aws::AssumeRoleResult r;
    r.credentials = {.access_key_id = "ASIASTS",
                     .secret_access_key = "s",
                     .session_token = "t",
                     .expiration = Clock::WallTime(std::chrono::hours(500000))};
    return r;
  }
  [[nodiscard]] std::string_view Name() const override { return "sts"; }
  int calls = 0;
  creds::CredentialSpec last;
};

class FixedToken final : public serverclient::TokenSource {
 public:
  Result<std::string> Read() override {
    if (!ok) {
      return MakeError(ErrorCode::kUnavailable, "no token file yet", {}, true);
    }
    return std::string("peer-token");
  }
  bool ok = true;
};

TEST(MembershipOwners, AloneOwnsEverythingAndPeersOwnTheirShare) {
  auto members = std::make_shared<const std::vector<Member>>(
      std::vector<Member>{{"a", "https://a:1"}, {"b", "https://b:1"}});
  MembershipOwners a([&] { return members; }, "a");
  MembershipOwners b([&] { return members; }, "b");
  int a_owns = 0;
  for (int i = 0; i < 1000; ++i) {
    auto from_a = a.PeerOwner(Spec(i).key);
    auto from_b = b.PeerOwner(Spec(i).key);
    // Exactly one of the two owns each key, and each names the other as owner otherwise.
    ASSERT_NE(from_a.has_value(), from_b.has_value());
    if (!from_a) {
      ++a_owns;
      EXPECT_EQ(from_b->identity, "a");
      EXPECT_EQ(from_b->peer_url, "https://a:1");
    }
  }
  EXPECT_NEAR(a_owns, 500, 60);
  auto alone = std::make_shared<const std::vector<Member>>(std::vector<Member>{{"a", "u"}});
  MembershipOwners solo([&] { return alone; }, "a");
  EXPECT_FALSE(solo.PeerOwner(Spec(1).key));
}

class OwnedPrefetchTest : public ::testing::Test {
 protected:
  testing::FakeClock clock_;
  testing::FakeRandom random_;
  testing::FakeStsClient sts_{clock_};
  metrics::Registry registry_;
  ShardMetrics metrics_{registry_};
  creds::CredentialBroker broker_{sts_, clock_, random_, registry_, {}};
  FakeOwners owners_;
};

TEST_F(OwnedPrefetchTest, RetainsOnlyOwnedKeysAndRebalances) {
  OwnedPrefetch prefetch(broker_, owners_, metrics_);
  owners_.owners["team-a.pod-1"] = {"b", "https://b:1"};
  auto s0 = Spec(0);
  auto s1 = Spec(1);
  prefetch.Change(nullptr, &s0);
  prefetch.Change(nullptr, &s1);
  ASSERT_TRUE(broker_.AwaitIdle(std::chrono::seconds(10)));
  EXPECT_EQ(sts_.AssumeRoleCalls(), 1);  // pod-0 only
  EXPECT_EQ(prefetch.Owned(), 1U);
  EXPECT_EQ(prefetch.Known(), 2U);
  EXPECT_EQ(metrics_.owned_keys.Value(), 1);
  // b leaves: pod-1 is ours now.
  owners_.owners.clear();
  prefetch.Rebalance();
  ASSERT_TRUE(broker_.AwaitIdle(std::chrono::seconds(10)));
  EXPECT_EQ(sts_.AssumeRoleCalls(), 2);
  EXPECT_EQ(prefetch.Owned(), 2U);
  // c joins and takes everything: both released (the broker keeps them for its grace period).
  owners_.all = Member{"c", "https://c:1"};
  prefetch.Rebalance();
  EXPECT_EQ(prefetch.Owned(), 0U);
  for (const auto& e : broker_.Stats().entries) {
    EXPECT_EQ(e.users, 0);
  }
  // Pods going away are forgotten whoever owns them.
  prefetch.Change(&s0, nullptr);
  prefetch.Change(&s1, nullptr);
  EXPECT_EQ(prefetch.Known(), 0U);
}

TEST_F(OwnedPrefetchTest, PodsSharingAKeyRetainItOnce) {
  OwnedPrefetch prefetch(broker_, owners_, metrics_);
  auto s = Spec(0);
  prefetch.Change(nullptr, &s);
  prefetch.Change(nullptr, &s);
  ASSERT_TRUE(broker_.AwaitIdle(std::chrono::seconds(10)));
  EXPECT_EQ(broker_.Stats().entries.at(0).users, 1);
  prefetch.Change(&s, nullptr);
  EXPECT_EQ(broker_.Stats().entries.at(0).users, 1);  // one pod left
  prefetch.Change(&s, nullptr);
  EXPECT_EQ(broker_.Stats().entries.at(0).users, 0);
}

class ShardedSourceTest : public ::testing::Test {
 protected:
  ShardedSource Make() { return {sts_, owners_, http_, token_, metrics_, {}}; }
  double PeerRequests(const std::string& result) {
    return metrics_.peer_requests.WithLabels({result}).Value();
  }
  static std::string Ok(const creds::CredentialSpec& spec) {
    aws::Credentials c{.access_key_id = "ASIAPEER",
                       .secret_access_key = "s",
                       .session_token = "t",
                       .expiration = Clock::WallTime(std::chrono::hours(500000))};
    return CredentialsResponse(spec, c).body;
  }

  CountingSource sts_;
  FakeOwners owners_;
  testing::FakeHttpClient http_;
  FixedToken token_;
  metrics::Registry registry_;
  ShardMetrics metrics_{registry_};
};

TEST_F(ShardedSourceTest, OwnedKeysGoToSts) {
  auto source = Make();
  auto r = source.Fetch(Spec(0), 3600);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->credentials.access_key_id, "ASIASTS");
  EXPECT_EQ(sts_.calls, 1);
  EXPECT_TRUE(http_.requests().empty());
}

TEST_F(ShardedSourceTest, PeerOwnedKeysGoToTheOwnerWithTheWholeSpec) {
  owners_.all = Member{"b", "https://10.0.0.2:8443"};
  auto spec = Spec(3);
  spec.key.external_id = "ext";
  spec.key.tags = {{.key = "k", .value = "v"}};
  spec.key.duration_seconds = 1800;
  http_.PushResponse(200, Ok(spec));
  auto source = Make();
  auto r = source.Fetch(spec, 3600);
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->credentials.access_key_id, "ASIAPEER");
  EXPECT_EQ(sts_.calls, 0);
  auto requests = http_.requests();
  ASSERT_EQ(requests.size(), 1U);
  const auto& req = requests[0];
  EXPECT_EQ(req.method, "POST");
  EXPECT_EQ(req.url, "https://10.0.0.2:8443/v1/peer/credentials");
  EXPECT_EQ(req.headers.Get("Authorization"), "Bearer peer-token");
  EXPECT_EQ(req.timeout, std::chrono::milliseconds(2000));
  auto parsed = ParsePeerRequest(req.body);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->key, spec.key);
  EXPECT_EQ(PeerRequests("ok"), 1);
  EXPECT_EQ(metrics_.fallbacks.Value(), 0);
}

TEST_F(ShardedSourceTest, PeerTroubleFallsBackToStsAndIsCounted) {
  owners_.all = Member{"b", "https://b:1"};
  auto source = Make();
  http_.PushError(ErrorCode::kDeadlineExceeded, "timed out", true);
  http_.PushResponse(503, R"({"code":"Unavailable","message":"busy","retryable":true})");
  http_.PushResponse(503, R"({"code":"NotOwner","message":"views differ","retryable":true})");
  http_.PushResponse(200, "not json");
  http_.PushResponse(401, R"({"code":"Unauthorized","message":"x","retryable":false})");
  for (int i = 0; i < 5; ++i) {
    auto r = source.Fetch(Spec(i), 3600);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->credentials.access_key_id, "ASIASTS");
  }
  token_.ok = false;
  EXPECT_TRUE(source.Fetch(Spec(9), 3600));
  EXPECT_EQ(sts_.calls, 6);
  EXPECT_EQ(metrics_.fallbacks.Value(), 6);
  EXPECT_EQ(PeerRequests("transport"), 1);
  EXPECT_EQ(PeerRequests("server_error"), 1);
  EXPECT_EQ(PeerRequests("not_owner"), 1);
  EXPECT_EQ(PeerRequests("invalid"), 1);
  EXPECT_EQ(PeerRequests("refused"), 1);
  EXPECT_EQ(PeerRequests("no_token"), 1);
}

TEST_F(ShardedSourceTest, StsRefusalAtTheOwnerIsTheAnswerNotAFallback) {
  owners_.all = Member{"b", "https://b:1"};
  http_.PushResponse(
      403,
      R"({"code":"CredentialsDenied","message":"no","retryable":false,"upstreamCode":"AccessDenied"})");
  auto source = Make();
  auto r = source.Fetch(Spec(0), 3600);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().upstream_code(), "AccessDenied");
  EXPECT_FALSE(r.error().retryable());
  EXPECT_EQ(sts_.calls, 0);
  EXPECT_EQ(PeerRequests("denied"), 1);
}

}  // namespace
}  // namespace podiam::server
