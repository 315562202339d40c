#include "podiam/aws/credentials_provider.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "podiam/testing/fake_clock.hpp"
#include "podiam/testing/fake_random.hpp"
#include "podiam/testing/fake_sts_client.hpp"

namespace podiam::aws {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;
using ::testing::HasSubstr;

// A provider whose answers a test scripts: credentials expiring `lifetime` after the clock's now,
// or an error. Counts its calls.
class ScriptedProvider final : public CredentialsProvider {
 public:
  ScriptedProvider(const Clock& clock, std::string name) : clock_(clock), name_(std::move(name)) {}

  Result<Credentials> Get() override {
    ++calls;
    if (error) {
      return tl::unexpected(*error);
    }
    Credentials creds{.access_key_id = "AKID" + std::to_string(calls.load()),
                      .secret_access_key = "secret",
                      .source = name_};
    if (lifetime) {
      creds.expiration = clock_.Now() + *lifetime;
    }
    return creds;
  }
  [[nodiscard]] std::string_view Name() const override { return name_; }

  std::optional<Error> error;
  std::optional<std::chrono::seconds> lifetime = hours(1);
  std::atomic<int> calls{0};

 private:
  const Clock& clock_;
  std::string name_;
};

struct Chain {
  std::unique_ptr<ChainCredentialsProvider> chain;
  std::vector<ScriptedProvider*> providers;
};

Chain MakeChain(const Clock& clock, std::vector<std::string> names) {
  Chain out;
  std::vector<std::unique_ptr<CredentialsProvider>> providers;
  for (auto& name : names) {
    auto p = std::make_unique<ScriptedProvider>(clock, name);
    out.providers.push_back(p.get());
    providers.push_back(std::move(p));
  }
  out.chain = std::make_unique<ChainCredentialsProvider>(std::move(providers));
  return out;
}

TEST(ChainCredentialsProviderTest, FirstConfiguredSourceWins) {
  testing::FakeClock clock;
  auto c = MakeChain(clock, {"environment", "web-identity", "imds"});
  c.providers[0]->error = Error(ErrorCode::kNotFound, "AWS_ACCESS_KEY_ID is not set");
  auto creds = c.chain->Get();
  ASSERT_TRUE(creds);
  EXPECT_EQ(creds->source, "web-identity");
  EXPECT_EQ(c.providers[0]->calls, 1);
  EXPECT_EQ(c.providers[1]->calls, 1);
  EXPECT_EQ(c.providers[2]->calls, 0);
}

TEST(ChainCredentialsProviderTest, AConfiguredSourceThatFailsStopsTheChain) {
  testing::FakeClock clock;
  auto c = MakeChain(clock, {"environment", "web-identity", "imds"});
  c.providers[0]->error = Error(ErrorCode::kNotFound, "not set");
  c.providers[1]->error = Error(ErrorCode::kPermissionDenied, "denied", "AccessDenied");
  auto creds = c.chain->Get();
  ASSERT_FALSE(creds);
  EXPECT_EQ(creds.error().code(), ErrorCode::kPermissionDenied);
  EXPECT_EQ(creds.error().message(), "web-identity: denied");
  EXPECT_EQ(c.providers[2]->calls, 0);
}

TEST(ChainCredentialsProviderTest, NothingConfiguredListsEverySource) {
  testing::FakeClock clock;
  auto c = MakeChain(clock, {"environment", "imds"});
  c.providers[0]->error = Error(ErrorCode::kNotFound, "AWS_ACCESS_KEY_ID is not set");
  c.providers[1]->error = Error(ErrorCode::kNotFound, "no instance metadata service");
  auto creds = c.chain->Get();
  ASSERT_FALSE(creds);
  EXPECT_EQ(creds.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(creds.error().message(),
            "no AWS credentials found; tried environment (AWS_ACCESS_KEY_ID is not set); imds "
            "(no instance metadata service)");
}

class CachingCredentialsProviderTest : public ::testing::Test {
 protected:
  CachingCredentialsProviderTest() {
    auto inner = std::make_unique<ScriptedProvider>(clock_, "imds role=node");
    inner_ = inner.get();
    caching_ = std::make_unique<CachingCredentialsProvider>(std::move(inner), clock_, random_);
  }

  testing::FakeClock clock_;
  testing::FakeRandom random_{0.5};
  ScriptedProvider* inner_;
  std::unique_ptr<CachingCredentialsProvider> caching_;
};

TEST_F(CachingCredentialsProviderTest, CachesUntilMarginPlusJitterBeforeExpiry) {
  auto first = caching_->Get();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->access_key_id, "AKID1");
  // Expires at +60 min; refresh at 60 - (10 + 0.5 * 5) = +47.5 min.
  clock_.Advance(minutes(47) + seconds(29));
  EXPECT_EQ(caching_->Get()->access_key_id, "AKID1");
  EXPECT_EQ(inner_->calls, 1);
  clock_.Advance(seconds(2));
  EXPECT_EQ(caching_->Get()->access_key_id, "AKID2");
  EXPECT_EQ(inner_->calls, 2);
  auto status = caching_->Status();
  EXPECT_TRUE(status.ready);
  EXPECT_EQ(status.source, "imds role=node");
  EXPECT_EQ(status.expiration, clock_.Now() + hours(1));
  EXPECT_EQ(status.refresh_at, clock_.Now() + minutes(47) + seconds(30));
  EXPECT_FALSE(status.last_error);
}

TEST_F(CachingCredentialsProviderTest, JitterComesFromTheRandomPort) {
  random_.set_value(0.0);
  ASSERT_TRUE(caching_->Get());
  EXPECT_EQ(caching_->Status().refresh_at, clock_.Now() + minutes(50));
}

TEST_F(CachingCredentialsProviderTest, ShortLivedCredentialsRefreshAtHalfLife) {
  inner_->lifetime = minutes(8);
  ASSERT_TRUE(caching_->Get());
  EXPECT_EQ(caching_->Status().refresh_at, clock_.Now() + minutes(4));
}

TEST_F(CachingCredentialsProviderTest, NonExpiringCredentialsAreNeverRefreshed) {
  inner_->lifetime.reset();
  ASSERT_TRUE(caching_->Get());
  clock_.Advance(hours(24 * 365));
  ASSERT_TRUE(caching_->Get());
  EXPECT_EQ(inner_->calls, 1);
  EXPECT_FALSE(caching_->Status().refresh_at);
  EXPECT_TRUE(caching_->Status().ready);
}

TEST_F(CachingCredentialsProviderTest, FailedRefreshKeepsServingValidCredentials) {
  ASSERT_TRUE(caching_->Get());
  clock_.Advance(minutes(50));
  inner_->error = Error(ErrorCode::kUnavailable, "IMDS down", "", true);
  auto creds = caching_->Get();
  ASSERT_TRUE(creds);
  EXPECT_EQ(creds->access_key_id, "AKID1");
  EXPECT_EQ(inner_->calls, 2);
  EXPECT_TRUE(caching_->Status().last_error);
  // Within the failure backoff the source is not asked again.
  clock_.Advance(seconds(4));
  ASSERT_TRUE(caching_->Get());
  EXPECT_EQ(inner_->calls, 2);
  clock_.Advance(seconds(2));
  ASSERT_TRUE(caching_->Get());
  EXPECT_EQ(inner_->calls, 3);
  // Once less than a minute of validity is left, the error surfaces.
  clock_.Advance(minutes(9));
  auto expired = caching_->Get();
  ASSERT_FALSE(expired);
  EXPECT_EQ(expired.error().code(), ErrorCode::kUnavailable);
  // Recovery.
  inner_->error.reset();
  clock_.Advance(seconds(6));
  ASSERT_TRUE(caching_->Get());
  EXPECT_FALSE(caching_->Status().last_error);
}

TEST_F(CachingCredentialsProviderTest, ErrorsAreCachedForTheFailureBackoff) {
  inner_->error = Error(ErrorCode::kNotFound, "no AWS credentials found");
  EXPECT_FALSE(caching_->Get());
  EXPECT_FALSE(caching_->Get());
  EXPECT_EQ(inner_->calls, 1);
  EXPECT_FALSE(caching_->Status().ready);
  clock_.Advance(seconds(5));
  EXPECT_FALSE(caching_->Get());
  EXPECT_EQ(inner_->calls, 2);
}

TEST_F(CachingCredentialsProviderTest, AlreadyExpiredCredentialsAreRejected) {
  inner_->lifetime = seconds(30);
  auto creds = caching_->Get();
  ASSERT_FALSE(creds);
  EXPECT_EQ(creds.error().code(), ErrorCode::kUpstreamInvalid);
  EXPECT_THAT(creds.error().message(), HasSubstr("too soon to use"));
}

TEST_F(CachingCredentialsProviderTest, ConcurrentCallersShareOneRefresh) {
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] { ok += caching_->Get().has_value() ? 1 : 0; });
  }
  for (auto& t : threads) {
    t.join();
  }
  EXPECT_EQ(ok, 8);
  EXPECT_EQ(inner_->calls, 1);
}

TEST(AssumeRoleCredentialsProviderTest, AssumesTheRoleWithADefaultSessionName) {
  testing::FakeClock clock;
  testing::FakeStsClient sts(clock);
  AssumeRoleCredentialsProvider provider(
      sts, {.role_arn = "arn:aws:iam::123456789012:role/podiam", .external_id = "ext-1"}, clock);
  auto creds = provider.Get();
  ASSERT_TRUE(creds) << creds.error().ToString();
  EXPECT_EQ(creds->source, "assume-role arn:aws:iam::123456789012:role/podiam");
  EXPECT_EQ(creds->expiration, clock.Now() + hours(1));
  auto requests = sts.Requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].role_session_name, "podiam-1767225600");
  EXPECT_EQ(requests[0].external_id, "ext-1");

  sts.Fail(Error(ErrorCode::kPermissionDenied, "not authorized", "AccessDenied"), 1);
  auto denied = provider.Get();
  ASSERT_FALSE(denied);
  EXPECT_EQ(denied.error().upstream_code(), "AccessDenied");
  EXPECT_THAT(denied.error().message(),
              HasSubstr("assume role arn:aws:iam::123456789012:role/podiam: not authorized"));
}

TEST(AssumeRoleCredentialsProviderTest, CachedIntermediateRole) {
  testing::FakeClock clock;
  testing::FakeRandom random;
  testing::FakeStsClient sts(clock);
  CachingCredentialsProvider via_role(
      std::make_unique<AssumeRoleCredentialsProvider>(
          sts,
          AssumeRoleRequest{.role_arn = "arn:aws:iam::123456789012:role/podiam",
                            .role_session_name = "podiam-agent"},
          clock),
      clock, random);
  ASSERT_TRUE(via_role.Get());
  ASSERT_TRUE(via_role.Get());
  EXPECT_EQ(sts.AssumeRoleCalls(), 1);
  EXPECT_EQ(via_role.Name(), "assume-role");
  EXPECT_EQ(via_role.Status().source, "assume-role arn:aws:iam::123456789012:role/podiam");
}

}  // namespace
}  // namespace podiam::aws
