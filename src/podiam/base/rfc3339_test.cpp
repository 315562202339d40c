#include "podiam/base/rfc3339.hpp"

#include <gtest/gtest.h>

#include <chrono>

namespace podiam {
namespace {

using std::chrono::seconds;

Clock::WallTime Epoch(long long s) { return Clock::WallTime(seconds(s)); }  // NOLINT

TEST(Rfc3339Test, ParsesUtcOffsetsAndFractions) {
  EXPECT_EQ(*ParseRfc3339("2026-11-23T07:39:25Z"), Epoch(1795419565));
  EXPECT_EQ(*ParseRfc3339("2026-11-23t07:39:25z"), Epoch(1795419565));
  EXPECT_EQ(*ParseRfc3339("2026-11-23T09:39:25+02:00"), Epoch(1795419565));
  EXPECT_EQ(*ParseRfc3339("2026-11-23T05:09:25-02:30"), Epoch(1795419565));
  EXPECT_EQ(*ParseRfc3339("2026-11-23T07:39:25.669870Z"),
            Epoch(1795419565) + std::chrono::microseconds(669870));
  EXPECT_EQ(*ParseRfc3339("2024-01-01T00:00:00.1234567891Z"),
            Epoch(1704067200) + std::chrono::nanoseconds(123456789));
  EXPECT_EQ(*ParseRfc3339("2016-12-31T23:59:60Z"), Epoch(1483228800));  // leap second
}

TEST(Rfc3339Test, RejectsMalformedAndOutOfRange) {
  for (const char* bad :
       {"", "2026-11-23", "2026-11-23T07:39:25", "2026-11-23T07:39:25.Z", "2026-02-30T00:00:00Z",
        "2026-11-23T24:00:00Z", "2026-11-23T07:39:25+2:00", "2026-11-23T07:39:25+24:00",
        "2026-11-23T07:39:25+01:60", "2026-11-23T07:39:25Z ", "2026-11-23 07:39:25Z",
        "+026-11-23T07:39:25Z"}) {
    auto parsed = ParseRfc3339(bad);
    ASSERT_FALSE(parsed) << bad;
    EXPECT_EQ(parsed.error(), Rfc3339Error::kMalformed) << bad;
  }
  for (const char* far : {"2263-01-01T00:00:00Z", "1600-01-01T00:00:00Z", "9999-12-31T23:59:59Z"}) {
    auto parsed = ParseRfc3339(far);
    ASSERT_FALSE(parsed) << far;
    EXPECT_EQ(parsed.error(), Rfc3339Error::kOutOfRange) << far;
  }
}

TEST(Rfc3339Test, FormatsSecondsOrMicrosecondsAndRoundTrips) {
  const auto t = Epoch(1795419565) + std::chrono::nanoseconds(669870999);
  EXPECT_EQ(FormatRfc3339(t), "2026-11-23T07:39:25Z");
  EXPECT_EQ(FormatRfc3339(t, Rfc3339Fraction::kMicros), "2026-11-23T07:39:25.669870Z");
  EXPECT_EQ(FormatRfc3339(Epoch(-1)), "1969-12-31T23:59:59Z");
  EXPECT_EQ(*ParseRfc3339(FormatRfc3339(t, Rfc3339Fraction::kMicros)),
            Epoch(1795419565) + std::chrono::microseconds(669870));
}

}  // namespace
}  // namespace podiam
