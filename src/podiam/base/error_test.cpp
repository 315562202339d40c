#include "podiam/base/error.hpp"

#include <gtest/gtest.h>

namespace podiam {
namespace {

Result<int> Half(int n) {
  if (n % 2 != 0) {
    return MakeError(ErrorCode::kInvalidArgument, "odd number");
  }
  return n / 2;
}

TEST(ErrorTest, ResultCarriesValueOrError) {
  EXPECT_EQ(*Half(4), 2);
  auto bad = Half(3);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(bad.error().ToString(), "invalid_argument: odd number");
}

TEST(ErrorTest, UpstreamCodeAndRetryableAreKept) {
  Error e(ErrorCode::kResourceExhausted, "Rate exceeded", "Throttling", true);
  EXPECT_TRUE(e.retryable());
  EXPECT_EQ(e.upstream_code(), "Throttling");
  EXPECT_EQ(e.ToString(), "resource_exhausted: Rate exceeded (Throttling)");
  Error wrapped = e.Wrap("assume role");
  EXPECT_EQ(wrapped.message(), "assume role: Rate exceeded");
  EXPECT_TRUE(wrapped.retryable());
}

TEST(ErrorTest, EveryCodeHasAName) {
  for (int i = 0; i <= static_cast<int>(ErrorCode::kInternal); ++i) {
    EXPECT_NE(ErrorCodeName(static_cast<ErrorCode>(i)), "unknown");
  }
}

}  // namespace
}  // namespace podiam
