#include "podiam/base/log.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace podiam::log {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// Values shaped like real credentials (these are AWS's documented example values).
constexpr std::string_view kSecretKey = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
constexpr std::string_view kSessionToken =
    "FQoGZXIvYXdzEBYaDZb0bY6NMZsvzbRX64MToVJHeIIAz2eZpPcvKfgAQ2lrM3Yx0ZkLm9Qa7";
constexpr std::string_view kJwt =
    "eyJhbGciOiJSUzI1NiIsImtpZCI6IjEifQ.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQifQ.c2lnbmF0dXJl";

const auto kWhen = std::chrono::system_clock::time_point{} + std::chrono::hours(24 * 365 * 56);

TEST(LogTest, TextLineHasComponentMessageAndFields) {
  std::string line = FormatLine(Format::kText, Level::kInfo, "agent", kWhen, "served",
                                {{"namespace", "team-a"}, {"pod", "web 1"}, {"count", 3}});
  EXPECT_THAT(line, HasSubstr("info  agent: served namespace=team-a pod=\"web 1\" count=3"));
}

TEST(LogTest, JsonLineIsValidJson) {
  std::string line =
      FormatLine(Format::kJson, Level::kWarn, "sts", kWhen, "throttled \"x\"", {{"role", "app"}});
  auto parsed = nlohmann::json::parse(line);
  EXPECT_EQ(parsed["level"], "warn");
  EXPECT_EQ(parsed["component"], "sts");
  EXPECT_EQ(parsed["msg"], "throttled \"x\"");
  EXPECT_EQ(parsed["role"], "app");
}

// Found by fuzz/imds_request_fuzz: an STS error message with invalid UTF-8 (and a space, so it is
// quoted) made the text formatter throw nlohmann::json's type_error out of Logger::Warn.
TEST(LogTest, TextLineWithInvalidUtf8FieldDoesNotThrow) {
  std::string line;
  ASSERT_NO_THROW(line = FormatLine(Format::kText, Level::kWarn, "imds", kWhen, "unavailable",
                                    {{"error", "bad \xff\xfe utf8"}}));
  EXPECT_THAT(line, HasSubstr("error=\"bad \xef\xbf\xbd\xef\xbf\xbd utf8\""));
  ASSERT_NO_THROW(line = FormatLine(Format::kJson, Level::kWarn, "imds", kWhen, "bad \xc3",
                                    {{"error", "\xff"}}));
  nlohmann::json parsed;
  ASSERT_NO_THROW(parsed = nlohmann::json::parse(line));
  EXPECT_EQ(parsed["error"], "\xef\xbf\xbd");
}

TEST(LogTest, SecretFieldIsFingerprintedNeverPrinted) {
  Field f = Secret("token", kSessionToken);
  EXPECT_THAT(f.value, Not(HasSubstr(std::string(kSessionToken.substr(0, 12)))));
  EXPECT_THAT(f.value, HasSubstr("<redacted len="));
  EXPECT_EQ(Secret("token", kSessionToken).value, f.value);  // stable fingerprint
}

TEST(LogTest, ScrubMasksCredentialsInFreeText) {
  for (std::string_view secret : {kSecretKey, kSessionToken, kJwt}) {
    std::string text = "upstream said " + std::string(secret) + " and more";
    EXPECT_THAT(Scrub(text), Not(HasSubstr(std::string(secret.substr(5, 20))))) << secret;
    EXPECT_THAT(Scrub(text), HasSubstr("upstream said"));
  }
}

TEST(LogTest, ScrubMasksValuesAfterSecretKeys) {
  EXPECT_EQ(Scrub(R"({"AccessKeyId":"ASIAX","SecretAccessKey":"abc","Token":"def"})"),
            R"({"AccessKeyId":"ASIAX","SecretAccessKey":"<redacted>","Token":"<redacted>"})");
  EXPECT_EQ(Scrub("Authorization: Bearer abc.def"), "Authorization: Bearer <redacted>");
  EXPECT_EQ(Scrub("X-aws-ec2-metadata-token: AQAAAshort"), "X-aws-ec2-metadata-token: <redacted>");
  EXPECT_EQ(Scrub("password=hunter2&user=bob"), "password=<redacted>&user=bob");
}

TEST(LogTest, ScrubKeepsOrdinaryIdentifiers) {
  std::string text =
      "role arn:aws:iam::123456789012:role/division/team/app-reader for team-a/web-7d9f8c-x2x";
  EXPECT_EQ(Scrub(text), text);
}

TEST(LogTest, FormatterNeverEmitsSecretsInEitherFormat) {
  for (Format format : {Format::kText, Format::kJson}) {
    std::string line = FormatLine(format, Level::kError, "imds", kWhen,
                                  "bad upstream reply: " + std::string(kSessionToken),
                                  {{"body", R"({"SecretAccessKey":"x1y2"})"}, {"jwt", kJwt}});
    EXPECT_THAT(line, Not(HasSubstr(std::string(kSessionToken))));
    EXPECT_THAT(line, Not(HasSubstr("x1y2")));
    EXPECT_THAT(line, Not(HasSubstr(std::string(kJwt))));
  }
}

TEST(LogTest, LevelsFilterAndCaptureWorks) {
  Configure({.format = Format::kText, .level = Level::kWarn});
  Logger logger("test");
  Capture capture;
  logger.Info("hidden");
  logger.Warn("shown", {{"k", "v"}});
  EXPECT_THAT(capture.Text(), Not(HasSubstr("hidden")));
  EXPECT_THAT(capture.Text(), HasSubstr("test: shown k=v"));
  Configure({});
}

TEST(LogTest, ParsesNames) {
  EXPECT_EQ(ParseLevel("debug"), Level::kDebug);
  EXPECT_EQ(ParseLevel("loud"), std::nullopt);
  EXPECT_EQ(ParseFormat("json"), Format::kJson);
  EXPECT_EQ(ParseFormat("xml"), std::nullopt);
}

}  // namespace
}  // namespace podiam::log
