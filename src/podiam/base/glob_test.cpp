#include "podiam/base/glob.hpp"

#include <gtest/gtest.h>

#include <string>

namespace podiam {
namespace {

TEST(GlobMatchTest, Kube2iamDialect) {
  EXPECT_TRUE(GlobMatch("*", ""));
  EXPECT_TRUE(GlobMatch("", ""));
  EXPECT_FALSE(GlobMatch("", "a"));
  EXPECT_TRUE(GlobMatch("a*c", "abbbc"));
  EXPECT_TRUE(GlobMatch("a*b*c", "a/x/b/y/c"));
  EXPECT_FALSE(GlobMatch("a*c", "abcd"));
  EXPECT_FALSE(GlobMatch("abc", "ab"));
  EXPECT_TRUE(GlobMatch("**", "anything"));
  EXPECT_FALSE(GlobMatch("a?c", "abc"));  // '?' is literal
  EXPECT_TRUE(GlobMatch("a?c", "a?c"));
  EXPECT_FALSE(GlobMatch("ABC", "abc"));  // case matters
}

TEST(GlobMatchTest, IamDialect) {
  const GlobOptions action{.question_mark = true, .ignore_case = true};
  EXPECT_TRUE(GlobMatch("sts:Assume*", "sts:AssumeRoleWithWebIdentity", action));
  EXPECT_TRUE(GlobMatch("STS:TAGSESSION", "sts:TagSession", action));
  EXPECT_TRUE(GlobMatch("sts:?agSession", "sts:TagSession", action));
  EXPECT_FALSE(GlobMatch("sts:?agSession", "sts:agSession", action));
  const GlobOptions like{.question_mark = true};
  EXPECT_TRUE(GlobMatch("system:serviceaccount:*:app", "system:serviceaccount:ns:app", like));
  EXPECT_FALSE(GlobMatch("System:*", "system:serviceaccount:ns:app", like));
  EXPECT_TRUE(GlobMatch("a?c*", "abcdef", like));
}

TEST(GlobMatchTest, BacktracksWithoutBlowingUp) {
  const std::string text(2000, 'a');
  EXPECT_FALSE(GlobMatch("*a*a*a*a*a*b", text));
  EXPECT_TRUE(GlobMatch("*a*a*a*a*a*", text));
}

}  // namespace
}  // namespace podiam
