#include "podiam/metadata/imds_token.hpp"

#include <gtest/gtest.h>

#include "podiam/aws/sigv4.hpp"
#include "podiam/testing/fake_clock.hpp"
#include "podiam/testing/fake_random.hpp"

namespace podiam::metadata {
namespace {

TEST(ImdsTokenTest, IssuedTokenVerifiesOnlyForItsPodAndIpUntilExpiry) {
  testing::FakeClock clock;
  testing::FakeRandom random;
  auto issuer = ImdsTokenIssuer::Create(random, clock);
  ASSERT_TRUE(issuer);
  std::string token = (*issuer)->Issue("uid-a", "10.0.0.5", std::chrono::seconds(60));
  EXPECT_EQ(token.size(), 43U);
  EXPECT_TRUE((*issuer)->Verify(token, "uid-a", "10.0.0.5"));
  EXPECT_EQ((*issuer)->Verify(token, "uid-b", "10.0.0.5").error().code(),
            ErrorCode::kUnauthenticated);
  EXPECT_FALSE((*issuer)->Verify(token, "uid-a", "10.0.0.6"));
  clock.Advance(std::chrono::seconds(59));
  EXPECT_TRUE((*issuer)->Verify(token, "uid-a", "10.0.0.5"));
  clock.Advance(std::chrono::seconds(1));
  auto expired = (*issuer)->Verify(token, "uid-a", "10.0.0.5");
  ASSERT_FALSE(expired);
  EXPECT_EQ(expired.error().message(), "IMDS token has expired");
}

TEST(ImdsTokenTest, TokenIsExpiryAndTruncatedHmacSha256OfExpiryUidAndIp) {
  testing::FakeClock clock;
  testing::FakeRandom random;
  testing::FakeRandom same_random;  // yields the same key bytes
  std::string key = same_random.SecureBytes(32);
  auto issuer = *ImdsTokenIssuer::Create(random, clock);
  std::string token = issuer->Issue("uid-a", "10.0.0.5", std::chrono::seconds(60));
  auto raw = Base64UrlDecode(token);
  ASSERT_TRUE(raw);
  ASSERT_EQ(raw->size(), 32U);
  std::string expiry = raw->substr(0, 8);
  std::string message = expiry + std::string(1, '\0') + "uid-a" + std::string(1, '\0') + "10.0.0.5";
  EXPECT_EQ(raw->substr(8), aws::HmacSha256(key, message).substr(0, 24));
}

TEST(ImdsTokenTest, GarbageTokensAreUnauthenticatedNeverACrash) {
  testing::FakeClock clock;
  testing::FakeRandom random;
  auto issuer = *ImdsTokenIssuer::Create(random, clock);
  for (const std::string& bad :
       std::vector<std::string>{"", "x", "!!!!", std::string(43, 'A'), std::string(10000, 'A'),
                                std::string("AQAA\0AA", 7), "eyJhbGciOiJIUzI1NiJ9"}) {
    auto r = issuer->Verify(bad, "uid", "10.0.0.1");
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code(), ErrorCode::kUnauthenticated);
  }
  // A token from another process (another key) is rejected.
  testing::FakeRandom other_random;
  (void)other_random.SecureBytes(7);
  auto other = *ImdsTokenIssuer::Create(other_random, clock);
  EXPECT_FALSE(issuer->Verify(other->Issue("uid", "ip", std::chrono::seconds(5)), "uid", "ip"));
}

TEST(ImdsTokenTest, TtlHeaderMustBeAnIntegerInRange) {
  EXPECT_EQ(*ParseTokenTtl("1"), 1);
  EXPECT_EQ(*ParseTokenTtl("21600"), 21600);
  for (const char* bad : {"", "0", "-1", "21601", "60s", " 60", "1e3", "99999999999999"}) {
    auto r = ParseTokenTtl(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
  }
}

TEST(Base64UrlTest, RoundTripsAllLengths) {
  std::string data;
  for (int i = 0; i < 40; ++i) {
    EXPECT_EQ(*Base64UrlDecode(Base64UrlEncode(data)), data);
    data += static_cast<char>(i * 37);
  }
  EXPECT_FALSE(Base64UrlDecode("abc+"));
  EXPECT_FALSE(Base64UrlDecode("abcde"));
}

}  // namespace
}  // namespace podiam::metadata
