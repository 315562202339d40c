#include "podiam/containercreds/request.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "podiam/testing/test_jwt.hpp"

namespace podiam::containercreds {
namespace {

std::string Jwt(const nlohmann::json& claims) {
  return testing::UnsignedJwt(R"({"alg":"RS256","kid":"k"})", claims.dump(), "sig");
}

TEST(HostNameTest, StripsPortAndBrackets) {
  EXPECT_EQ(HostName("169.254.170.23"), "169.254.170.23");
  EXPECT_EQ(HostName("169.254.170.23:80"), "169.254.170.23");
  EXPECT_EQ(HostName("[fd00:ec2::23]"), "fd00:ec2::23");
  EXPECT_EQ(HostName("[FD00:EC2::23]:80"), "fd00:ec2::23");
  EXPECT_EQ(HostName("LocalHost"), "localhost");
}

TEST(HostNameTest, RefusesMalformed) {
  EXPECT_EQ(HostName(""), std::nullopt);
  EXPECT_EQ(HostName(":80"), std::nullopt);
  EXPECT_EQ(HostName("169.254.170.23:"), std::nullopt);
  EXPECT_EQ(HostName("169.254.170.23:80x"), std::nullopt);
  EXPECT_EQ(HostName("fd00:ec2::23"), std::nullopt);  // unbracketed v6 is host:port garbage
  EXPECT_EQ(HostName("[fd00:ec2::23"), std::nullopt);
  EXPECT_EQ(HostName("[]"), std::nullopt);
  EXPECT_EQ(HostName("[fd08259.]:80"), std::nullopt);  // found by container_request_fuzz
  EXPECT_EQ(HostName("[169.254.170.23]"), std::nullopt);
  EXPECT_EQ(HostName("a b"), std::nullopt);
  EXPECT_EQ(HostName("evil.com@169.254.170.23"), std::nullopt);
}

TEST(Base64UrlTest, DecodesUnpaddedAndRefusesOthers) {
  EXPECT_EQ(DecodeBase64Url(testing::Base64Url("hello")), "hello");
  EXPECT_EQ(DecodeBase64Url(""), "");
  EXPECT_EQ(DecodeBase64Url("aGVsbG8="), std::nullopt);  // padding
  EXPECT_EQ(DecodeBase64Url("a+b/"), std::nullopt);      // standard alphabet
  EXPECT_EQ(DecodeBase64Url("a"), std::nullopt);         // impossible length
  EXPECT_EQ(DecodeBase64Url("aB"), std::nullopt);        // non-zero leftover bits
}

TEST(JwtTimesTest, ReadsExpNbfIat) {
  auto t = ParseJwtTimes(Jwt({{"exp", 2000000000}, {"nbf", 1999990000}, {"iat", 1999990000.5}}));
  ASSERT_TRUE(t) << t.error().ToString();
  EXPECT_EQ(t->exp, 2000000000);
  EXPECT_EQ(t->nbf, 1999990000);
  EXPECT_EQ(t->iat, 1999990000);
}

TEST(JwtTimesTest, RefusesWhatIsNotAJwtWithExp) {
  EXPECT_FALSE(ParseJwtTimes(""));
  EXPECT_FALSE(ParseJwtTimes("abc"));
  EXPECT_FALSE(ParseJwtTimes("a.b"));
  EXPECT_FALSE(ParseJwtTimes("a.b.c.d"));
  EXPECT_FALSE(ParseJwtTimes("Bearer " + Jwt({{"exp", 2000000000}})));
  EXPECT_FALSE(ParseJwtTimes(Jwt({{"sub", "x"}})));
  EXPECT_FALSE(ParseJwtTimes(Jwt({{"exp", "2000000000"}})));
  EXPECT_FALSE(ParseJwtTimes(Jwt({{"exp", 1e300}})));
  EXPECT_FALSE(
      ParseJwtTimes(testing::Base64Url("[]") + "." + testing::Base64Url(R"({"exp":1})") + ".c2ln"));
  auto jwt = Jwt({{"exp", 2000000000}});
  EXPECT_FALSE(ParseJwtTimes(jwt + "\n"));
  EXPECT_TRUE(ParseJwtTimes(jwt));
}

TEST(RefusalResponseTest, OneMappingWithJsonBody) {
  EXPECT_EQ(RefusalResponse(Refusal::kBadRequest, "x").status, 400);
  EXPECT_EQ(RefusalResponse(Refusal::kUnauthenticated, "x").status, 401);
  EXPECT_EQ(RefusalResponse(Refusal::kForbidden, "x").status, 403);
  EXPECT_EQ(RefusalResponse(Refusal::kNoRole, "x").status, 404);
  EXPECT_EQ(RefusalResponse(Refusal::kRateLimited, "x").status, 429);
  auto r = RefusalResponse(Refusal::kUnavailable, "bad \xff byte");
  EXPECT_EQ(r.status, 503);
  auto body = nlohmann::json::parse(r.body);
  EXPECT_EQ(body["code"], "ServiceUnavailable");
  EXPECT_THAT(body["message"].get<std::string>(), ::testing::HasSubstr("bad"));
  EXPECT_EQ(r.headers.Get("Retry-After"), "1");
}

}  // namespace
}  // namespace podiam::containercreds
