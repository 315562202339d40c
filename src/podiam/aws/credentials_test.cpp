#include "podiam/aws/credentials.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "podiam/aws/text.hpp"

namespace podiam::aws {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::chrono::system_clock::time_point Epoch(long long seconds) {
  return std::chrono::system_clock::time_point(std::chrono::seconds(seconds));
}

TEST(TimestampTest, WholeSecondsAndFractions) {
  EXPECT_EQ(*ParseTimestamp("2026-11-23T07:39:25Z"), Epoch(1795419565));
  // moto: microseconds.
  EXPECT_EQ(*ParseTimestamp("2026-11-23T07:39:25.669870Z"),
            Epoch(1795419565) + std::chrono::microseconds(669870));
  // EKS Pod Identity Agent: RFC3339Nano.
  EXPECT_EQ(*ParseTimestamp("2024-01-01T00:00:00.123456789Z"),
            Epoch(1704067200) + std::chrono::nanoseconds(123456789));
  EXPECT_EQ(*ParseTimestamp("2026-11-23T07:39:25+00:00"), Epoch(1795419565));
  EXPECT_EQ(*ParseTimestamp("2026-11-23T09:39:25+02:00"), Epoch(1795419565));
  EXPECT_EQ(*ParseTimestamp("2026-11-23T05:09:25-02:30"), Epoch(1795419565));
  EXPECT_EQ(*ParseTimestamp("1970-01-01T00:00:00Z"), Epoch(0));
  EXPECT_EQ(*ParseTimestamp("2024-02-29T00:00:00Z"), Epoch(1709164800));  // leap day
}

TEST(TimestampTest, RejectsMalformed) {
  for (std::string_view bad :
       {"", "2026-11-23", "2026-11-23T07:39:25", "2026-11-23 07:39:25Z", "2026-13-01T00:00:00Z",
        "2026-02-30T00:00:00Z", "2026-11-23T24:00:00Z", "2026-11-23T07:39:25.Z",
        "2026-11-23T07:39:25Zjunk", "2026-11-23T07:39:25+0000", "+2026-11-23T07:39:25Z",
        "2026-11-23T07:39:25\xc3\xa9"}) {
    auto parsed = ParseTimestamp(bad);
    ASSERT_FALSE(parsed) << bad;
    EXPECT_EQ(parsed.error().code(), ErrorCode::kUpstreamInvalid);
    EXPECT_THAT(parsed.error().message(), HasSubstr("ISO 8601"));
  }
}

// Found by fuzz/sts_xml_fuzz: an Expiration outside the years the wall clock can hold in
// nanoseconds overflowed a signed 64-bit conversion (UBSan) instead of being rejected.
TEST(TimestampTest, RejectsYearsTheClockCannotHold) {
  for (std::string_view far : {"9999-12-31T23:59:59Z", "2263-01-01T00:00:00Z",
                               "0000-01-01T00:00:00.999999999Z", "1677-01-01T00:00:00+14:00"}) {
    auto parsed = ParseTimestamp(far);
    ASSERT_FALSE(parsed) << far;
    EXPECT_EQ(parsed.error().code(), ErrorCode::kUpstreamInvalid);
    EXPECT_THAT(parsed.error().message(), HasSubstr("out of range"));
  }
  // The ends of the range still parse.
  EXPECT_EQ(*ParseTimestamp("2262-04-11T23:47:15.999999999Z"),
            Epoch(9223372035) + std::chrono::nanoseconds(999999999));
  EXPECT_EQ(*ParseTimestamp("1677-09-21T00:12:45Z"), Epoch(-9223372035));
  EXPECT_TRUE(ParseTimestamp("2200-01-01T00:00:00Z"));
}

TEST(TimestampTest, FormatsWholeSecondsUtc) {
  EXPECT_EQ(FormatTimestamp(Epoch(1795419565) + std::chrono::microseconds(669870)),
            "2026-11-23T07:39:25Z");
  EXPECT_EQ(FormatTimestamp(Epoch(0)), "1970-01-01T00:00:00Z");
  auto round_trip = ParseTimestamp(FormatTimestamp(Epoch(1709164800)));
  EXPECT_EQ(*round_trip, Epoch(1709164800));
}

TEST(CredentialsTest, RedactedHasNoSecrets) {
  Credentials creds{.access_key_id = "ASIARZPUZDIKBRQSI4T2",
                    .secret_access_key = "K8PII1G8HC7LutwjBTFdubDnuolZccyG1piTSp8M",
                    .session_token = "FQoGZXIvYXdzEBYaDZb0bY6NMZsvzbRX64MToVJHeIIAz2eZ",
                    .expiration = Epoch(1795419565),
                    .source = "environment"};
  std::string text = creds.Redacted();
  EXPECT_THAT(text, HasSubstr("ASIA"));
  EXPECT_THAT(text, HasSubstr("expires=2026-11-23T07:39:25Z"));
  EXPECT_THAT(text, HasSubstr("source=environment"));
  EXPECT_THAT(text, HasSubstr("session"));
  EXPECT_THAT(text, Not(HasSubstr("RZPUZDIKBRQSI4T2")));
  EXPECT_THAT(text, Not(HasSubstr("K8PII1G8")));
  EXPECT_THAT(text, Not(HasSubstr("FQoGZXIv")));

  Credentials long_term{.access_key_id = "AKIAIOSFODNN7EXAMPLE", .secret_access_key = "x"};
  EXPECT_THAT(long_term.Redacted(), HasSubstr("long-term expires=never"));
}

TEST(CredentialsTest, ExpiresBefore) {
  Credentials creds{.expiration = Epoch(100)};
  EXPECT_TRUE(creds.ExpiresBefore(Epoch(100)));
  EXPECT_FALSE(creds.ExpiresBefore(Epoch(99)));
  EXPECT_FALSE(Credentials{}.ExpiresBefore(Epoch(1LL << 33)));
}

TEST(TextTest, Utf8) {
  EXPECT_EQ(Utf8Length("abc"), 3u);
  EXPECT_EQ(Utf8Length("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"), 3u);  // é € 😀
  EXPECT_FALSE(Utf8Length("\xc3"));                                   // truncated
  EXPECT_FALSE(Utf8Length("\xc0\xaf"));                               // overlong '/'
  EXPECT_FALSE(Utf8Length("\xed\xa0\x80"));                           // surrogate
  EXPECT_FALSE(Utf8Length("\xff"));
  EXPECT_EQ(Quote("a'b\n"), "'a\\x27b\\x0a'");
}

}  // namespace
}  // namespace podiam::aws
