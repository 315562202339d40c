#include "podiam/identity/session_name.hpp"

#include <gtest/gtest.h>

#include <regex>

namespace podiam::identity {
namespace {

bool ValidForSts(const std::string& s) {
  static const std::regex kAlphabet(R"([\w+=,.@-]{2,64})");
  return std::regex_match(s, kAlphabet);
}

TEST(SessionNameTest, NamespaceDotPod) {
  EXPECT_EQ(SessionName("team-a", "web-7d9f8c-x2x"), "team-a.web-7d9f8c-x2x");
}

TEST(SessionNameTest, ForeignCharactersBecomeDashes) {
  EXPECT_EQ(SanitizeSessionName("a b/c:d\xc3\xa9"), "a-b-c-d--");
  EXPECT_EQ(SanitizeSessionName(""), "--");
  EXPECT_EQ(SanitizeSessionName("x"), "x-");
}

TEST(SessionNameTest, LongNamesAreCutWithAHashSoTheyStayDistinct) {
  std::string pod(63, 'p');
  std::string a = SessionName("namespace-with-a-long-name", pod + "a");
  std::string b = SessionName("namespace-with-a-long-name", pod + "b");
  EXPECT_EQ(a.size(), 64U);
  EXPECT_NE(a, b);
  EXPECT_TRUE(ValidForSts(a)) << a;
  EXPECT_EQ(SanitizeSessionName(std::string(64, 'x')), std::string(64, 'x'));
}

TEST(SessionNameTest, KiamAnnotationWinsAfterSanitising) {
  EXPECT_EQ(SessionName("ns", "pod", "my session"), "my-session");
}

}  // namespace
}  // namespace podiam::identity
