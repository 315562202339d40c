#include "podiam/webhook/mutation.hpp"

#include <gtest/gtest.h>

#include "podiam/testing/fake_random.hpp"

namespace podiam::webhook {
namespace {

TEST(ParseGoBool, AcceptsGoSpellingsOnly) {
  for (const char* t : {"1", "t", "T", "TRUE", "true", "True"}) {
    EXPECT_EQ(ParseGoBool(t), true) << t;
  }
  for (const char* f : {"0", "f", "F", "FALSE", "false", "False"}) {
    EXPECT_EQ(ParseGoBool(f), false) << f;
  }
  for (const char* bad : {"", "yes", "tRuE", " true", "2"}) {
    EXPECT_EQ(ParseGoBool(bad), std::nullopt) << bad;
  }
}

TEST(ParseGoInt64, BehavesLikeStrconvParseInt) {
  EXPECT_EQ(ParseGoInt64("3600"), 3600);
  EXPECT_EQ(ParseGoInt64("+5"), 5);
  EXPECT_EQ(ParseGoInt64("-5"), -5);
  EXPECT_EQ(ParseGoInt64("9223372036854775807"), INT64_MAX);
  EXPECT_EQ(ParseGoInt64("-9223372036854775808"), INT64_MIN);
  for (const char* bad : {"", "+", "1h", "9223372036854775808", " 1", "1_000", "0x10"}) {
    EXPECT_EQ(ParseGoInt64(bad), std::nullopt) << bad;
  }
}

TEST(ParseCsvRecord, FollowsEncodingCsv) {
  using V = std::vector<std::string>;
  EXPECT_EQ(ParseCsvRecord("a,b"), (V{"a", "b"}));
  EXPECT_EQ(ParseCsvRecord("a, b"), (V{"a", " b"}));
  EXPECT_EQ(ParseCsvRecord(R"("a,b",c)"), (V{"a,b", "c"}));
  EXPECT_EQ(ParseCsvRecord(R"("a""b")"), (V{"a\"b"}));
  EXPECT_EQ(ParseCsvRecord("a,\nb"), (V{"a", ""}));
  EXPECT_EQ(ParseCsvRecord("\n\na"), (V{"a"}));
  EXPECT_EQ(ParseCsvRecord("a,"), (V{"a", ""}));
  EXPECT_EQ(ParseCsvRecord(""), std::nullopt);
  EXPECT_EQ(ParseCsvRecord(R"(a"b)"), std::nullopt);
  EXPECT_EQ(ParseCsvRecord(R"("a"b)"), std::nullopt);
  EXPECT_EQ(ParseCsvRecord(R"("a)"), std::nullopt);
}

TEST(JoinPath, CleansLikeFilepathJoin) {
  EXPECT_EQ(JoinPath("/var/run/x", "token"), "/var/run/x/token");
  EXPECT_EQ(JoinPath("/var/run/x/", "token"), "/var/run/x/token");
  EXPECT_EQ(JoinPath("/var//run/./x/../y", "t"), "/var/run/y/t");
  EXPECT_EQ(JoinPath("/", "../t"), "/t");
  EXPECT_EQ(JoinPath("a", "../../t"), "../t");
  EXPECT_EQ(JoinPath("", "t"), "t");
  EXPECT_EQ(JoinPath("", ""), "");
  EXPECT_EQ(JoinPath("/x", ""), "/x");
}

TEST(EscapeJsonPointer, EscapesTildeFirst) {
  EXPECT_EQ(EscapeJsonPointer("eks.amazonaws.com/pod-identity"), "eks.amazonaws.com~1pod-identity");
  EXPECT_EQ(EscapeJsonPointer("a~/b"), "a~0~1b");
}

TEST(Mutate, RefusesPodsOfTheWrongShape) {
  testing::FakeRandom random;
  k8s::Annotations sa{{"eks.amazonaws.com/role-arn", "arn:aws:iam::111122223333:role/r"}};
  for (const char* bad : {
           R"([])",
           R"({"spec":{"containers":[]}})",
           R"({"metadata":{},"spec":{"containers":{}}})",
           R"({"metadata":{},"spec":{"containers":[1]}})",
           R"({"metadata":{},"spec":{"containers":[{"name":1}]}})",
           R"({"metadata":{},"spec":{"containers":[{"name":"a","env":{}}]}})",
           R"({"metadata":{},"spec":{"containers":[{"name":"a","env":[{"name":2}]}]}})",
           R"({"metadata":{},"spec":{"containers":[{"name":"a","volumeMounts":[3]}]}})",
           R"({"metadata":{},"spec":{"volumes":[1],"containers":[]}})",
           R"({"metadata":{"labels":[]},"spec":{"containers":[]}})",
           R"({"metadata":{"annotations":{"a":1}},"spec":{"containers":[]}})",
           R"({"metadata":{},"spec":{"nodeSelector":"x","containers":[]}})",
       }) {
    auto m = Mutate(OJson::parse(bad), {.service_account = &sa}, {}, random);
    ASSERT_FALSE(m) << bad;
    EXPECT_EQ(m.error().code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(m.error().message().find("cannot be decoded"), std::string::npos);
  }
}

TEST(Mutate, JitterCoversTheWholeRange) {
  k8s::Annotations sa;
  const auto* pod = R"({"metadata":{},"spec":{"containers":[{"name":"a"}]}})";
  for (auto [u, expected] :
       std::vector<std::pair<double, int>>{{0.0, 79200}, {0.9999999, 86400}, {1.0, 86400}}) {
    testing::FakeRandom random(u);
    auto m = Mutate(OJson::parse(pod), {.service_account = &sa, .container_credentials = true}, {},
                    random);
    ASSERT_TRUE(m);
    EXPECT_EQ(m->token_expiration, expected) << u;
  }
}

TEST(Mutate, KeepsContainerFieldOrder) {
  testing::FakeRandom random;
  k8s::Annotations sa{{"eks.amazonaws.com/role-arn", "arn:aws:iam::111122223333:role/r"}};
  auto m = Mutate(
      OJson::parse(R"({"metadata":{},"spec":{"containers":[{"name":"a","z":1,"image":"i"}]}})"),
      {.service_account = &sa}, {}, random);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->patch[1]["value"][0].dump().substr(0, 30), R"({"name":"a","z":1,"image":"i",)");
}

}  // namespace
}  // namespace podiam::webhook
