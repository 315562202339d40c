#include "podiam/aws/ini.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace podiam::aws {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(IniTest, SectionsKeysAndValues) {
  auto ini = ParseIni(
      "# comment\n"
      "; another\n"
      "[default]\n"
      "aws_access_key_id = AKIDEXAMPLE\n"
      "AWS_Secret_Access_Key=secret=with=equals\r\n"
      "\n"
      "[profile  ci]\n"
      "region: eu-west-1\n"
      "s3 =\n"
      "  max_concurrent_requests = 10\n"
      "  addressing_style = path\n"
      "output = json # not a comment\n");
  ASSERT_TRUE(ini) << ini.error().ToString();
  const auto* def = ini->Find("default");
  ASSERT_NE(def, nullptr);
  EXPECT_EQ(def->at("aws_access_key_id"), "AKIDEXAMPLE");
  EXPECT_EQ(def->at("aws_secret_access_key"), "secret=with=equals");
  const auto* ci = ini->Find("profile  ci");
  ASSERT_NE(ci, nullptr);
  EXPECT_EQ(ci->at("region"), "eu-west-1");
  EXPECT_EQ(ci->at("s3"), "\nmax_concurrent_requests = 10\naddressing_style = path");
  EXPECT_EQ(ci->at("output"), "json # not a comment");
  EXPECT_EQ(ini->Find("missing"), nullptr);
}

TEST(IniTest, RepeatedSectionsMerge) {
  auto ini = ParseIni("[a]\nx=1\n[b]\n[a]\ny=2\nx=3\n");
  ASSERT_TRUE(ini);
  EXPECT_EQ(ini->Find("a")->at("x"), "3");
  EXPECT_EQ(ini->Find("a")->at("y"), "2");
}

TEST(IniTest, ErrorsNameTheLineButNotItsContent) {
  auto junk = ParseIni("[default]\nAKIASECRETLOOKINGLINE\n");
  ASSERT_FALSE(junk);
  EXPECT_EQ(junk.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(junk.error().message(), HasSubstr("line 2"));
  EXPECT_THAT(junk.error().message(), Not(HasSubstr("AKIA")));
  auto orphan = ParseIni("key = value\n[default]\n");
  ASSERT_FALSE(orphan);
  EXPECT_THAT(orphan.error().message(), HasSubstr("before the first [section]"));
  EXPECT_TRUE(ParseIni(""));
}

}  // namespace
}  // namespace podiam::aws
