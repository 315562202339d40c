#include "podiam/k8s/timestamps.hpp"

#include <gtest/gtest.h>

namespace podiam::k8s {
namespace {

using std::chrono::seconds;

TEST(TimestampsTest, ParsesKubernetesTimes) {
  auto t = ParseTime("2026-01-01T00:00:00Z");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->time_since_epoch(), seconds(1767225600));
  auto micro = ParseTime("2026-01-01T00:00:01.250000Z");
  ASSERT_TRUE(micro);
  EXPECT_EQ(*micro - *t, std::chrono::milliseconds(1250));
  auto offset = ParseTime("2026-01-01T02:00:00+02:00");
  ASSERT_TRUE(offset);
  EXPECT_EQ(*offset, *t);
  EXPECT_EQ(*ParseTime("2025-12-31T23:00:00-01:00"), *t);
}

TEST(TimestampsTest, RejectsMalformedTimes) {
  for (const char* bad : {"", "2026-01-01", "2026-01-01T00:00:00", "2026-13-01T00:00:00Z",
                          "2026-02-30T00:00:00Z", "2026-01-01T00:00:00.Z", "2026-01-01T00:00:00Zx",
                          "2026-01-01 00:00:00Z", "2026-01-01T25:00:00Z"}) {
    EXPECT_FALSE(ParseTime(bad)) << bad;
  }
}

// Found by fuzz/watch_decoder_fuzz: a creationTimestamp outside the years WallTime can hold in
// nanoseconds overflowed a signed 64-bit conversion (UBSan) instead of being rejected.
TEST(TimestampsTest, RejectsYearsWallTimeCannotHold) {
  for (const char* far : {"1013-11-23T07:39:25Z", "9999-12-31T23:59:59.999999999Z",
                          "2263-01-01T00:00:00Z", "1677-01-01T00:00:00+14:00"}) {
    EXPECT_FALSE(ParseTime(far)) << far;
  }
  EXPECT_EQ(ParseTime("2262-04-11T23:47:15.5Z")->time_since_epoch(),
            seconds(9223372035) + std::chrono::milliseconds(500));
  EXPECT_EQ(ParseTime("1677-09-21T00:12:45Z")->time_since_epoch(), seconds(-9223372035));
}

TEST(TimestampsTest, FormatsSecondsAndMicroseconds) {
  WallTime t{seconds(1767225600) + std::chrono::microseconds(123456)};
  EXPECT_EQ(FormatTime(t), "2026-01-01T00:00:00Z");
  EXPECT_EQ(FormatMicroTime(t), "2026-01-01T00:00:00.123456Z");
  EXPECT_EQ(*ParseTime(FormatMicroTime(t)), t);
  EXPECT_EQ(FormatTime(WallTime{seconds(951782400)}), "2000-02-29T00:00:00Z");
}

}  // namespace
}  // namespace podiam::k8s
