#include "podiam/explain/explanation.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace podiam::explain {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

Explanation Sample() {
  return {.kind = "pod",
          .namespace_name = "team-a",
          .name = "web-1",
          .paths = {{.path = "imds",
                     .steps = {{"role-annotation", StepStatus::kOk, "pod annotation = 'app'"},
                               {"namespace-policy", StepStatus::kRefused, "no entry \x1b[2J"}},
                     .verdict = "denied",
                     .role = "arn:aws:iam::123456789012:role/app",
                     .reason = "refused",
                     .fix = "add it"}}};
}

TEST(RenderJsonTest, FollowsTheDocumentedSchema) {
  auto json = nlohmann::json::parse(RenderJson(Sample()));
  EXPECT_EQ(json["kind"], "pod");
  EXPECT_EQ(json["namespace"], "team-a");
  EXPECT_EQ(json["name"], "web-1");
  const auto& path = json["paths"][0];
  EXPECT_EQ(path["path"], "imds");
  EXPECT_EQ(path["verdict"], "denied");
  EXPECT_EQ(path["role"], "arn:aws:iam::123456789012:role/app");
  EXPECT_EQ(path["reason"], "refused");
  EXPECT_EQ(path["fix"], "add it");
  EXPECT_EQ(path["steps"][1]["check"], "namespace-policy");
  EXPECT_EQ(path["steps"][1]["status"], "refused");
}

TEST(RenderJsonTest, InvalidUtf8IsReplacedNotThrown) {
  Explanation e = Sample();
  e.paths[0].reason = "bad \xff byte";
  auto json = nlohmann::json::parse(RenderJson(e));
  EXPECT_THAT(json["paths"][0]["reason"].get<std::string>(), HasSubstr("bad "));
}

TEST(RenderTextTest, PlainWithoutColourAndControlCharactersNeutralised) {
  std::string text = RenderText(Sample(), false);
  EXPECT_THAT(text, Not(HasSubstr("\x1b")));
  EXPECT_THAT(text, HasSubstr("imds path, pod team-a/web-1"));
  EXPECT_THAT(text, HasSubstr("NO  namespace-policy  no entry ?[2J"));
  EXPECT_THAT(text, HasSubstr("verdict imds: DENIED arn:aws:iam::123456789012:role/app\n"));
  EXPECT_THAT(text, HasSubstr("  fix: add it\n"));
}

TEST(RenderTextTest, ColourOnlyWhenAsked) {
  EXPECT_THAT(RenderText(Sample(), true), HasSubstr("\x1b[31mDENIED\x1b[0m"));
}

TEST(ExitCodeTest, ZeroWhenAnyPathAllows) {
  Explanation e = Sample();
  EXPECT_EQ(ExitCode(e), 1);
  e.paths.push_back({.path = "irsa", .verdict = "allowed"});
  EXPECT_EQ(ExitCode(e), 0);
}

}  // namespace
}  // namespace podiam::explain
