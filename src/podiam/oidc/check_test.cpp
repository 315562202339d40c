#include "podiam/oidc/check.hpp"

#include <gtest/gtest.h>

#include "podiam/oidc/discovery.hpp"
#include "podiam/oidc/test_keys.hpp"
#include "podiam/oidc/test_sign.hpp"

namespace podiam::oidc {
namespace {

using std::chrono::seconds;
using Time = std::chrono::system_clock::time_point;

constexpr const char* kIssuer = "https://oidc.example.com/c";
const Time kNow{seconds(1'800'000'000)};

std::vector<PublicKey> Keys(std::initializer_list<const char*> pems) {
  std::vector<PublicKey> out;
  for (const char* pem : pems) {
    out.push_back(*LoadPublicKeyPem(pem));
  }
  return out;
}

std::string Rendered(const std::vector<PublicKey>& keys, bool jwks) {
  auto docs = RenderDocuments(*ParseIssuer(kIssuer), keys, {});
  return Serialize(jwks ? docs->jwks : docs->discovery);
}

nlohmann::json Claims() {
  return {{"iss", kIssuer},
          {"sub", "system:serviceaccount:ns:app"},
          {"aud", {"sts.amazonaws.com"}},
          {"iat", 1'800'000'000 - 60},
          {"nbf", 1'800'000'000 - 60},
          {"exp", 1'800'000'000 + 3600}};
}

std::string Token(const char* private_pem, const char* alg, const char* kid,
                  const nlohmann::json& claims = Claims()) {
  return testing::MakeJwt(private_pem, {{"alg", alg}, {"kid", kid}}, claims);
}

TEST(CheckPublished, RenderedDocumentsHaveNoProblems) {
  auto keys = Keys({testkeys::kRsaPublicPkix, testkeys::kEcPublic});
  auto p = CheckPublished(kIssuer, Rendered(keys, false), Rendered(keys, true));
  EXPECT_TRUE(p.problems.empty()) << p.problems.front();
  ASSERT_EQ(p.keys.size(), 2U);
  EXPECT_EQ(p.keys[0].kid, testkeys::kRsaKid);
  EXPECT_EQ(p.jwks_uri, std::string(kIssuer) + "/keys.json");
}

TEST(CheckPublished, ListsEveryProblem) {
  auto keys = Keys({testkeys::kRsaPublicPkix});
  auto other_issuer =
      CheckPublished("https://oidc.example.com/d", Rendered(keys, false), Rendered(keys, true));
  ASSERT_FALSE(other_issuer.problems.empty());
  EXPECT_NE(other_issuer.problems[0].find("byte for byte"), std::string::npos);
  auto port = CheckPublished("https://127.0.0.1:6443", "{}", R"({"keys":[]})");
  EXPECT_GE(port.problems.size(), 3U);
  EXPECT_NE(port.problems[0].find("no port"), std::string::npos);
  auto garbage = CheckPublished(kIssuer, "nope", "[]");
  EXPECT_EQ(garbage.problems[0], "discovery document is not a JSON object");
  auto jwks = nlohmann::json::parse(Rendered(keys, true));
  jwks["keys"].push_back(jwks["keys"][0]);
  jwks["keys"][0].erase("kid");
  auto nokid = ParseJwks(jwks.dump());
  ASSERT_EQ(nokid.problems.size(), 1U);
  EXPECT_NE(nokid.problems[0].find("no kid"), std::string::npos);
}

TEST(VerifyToken, RsaAndEcTokensVerify) {
  auto keys = Keys({testkeys::kRsaPublicPkix, testkeys::kEcPublic, testkeys::kEc384Private});
  for (auto [pem, alg, kid] :
       {std::tuple{testkeys::kRsaPrivatePkcs8, "RS256", testkeys::kRsaKid},
        std::tuple{testkeys::kEcPrivateSec1WithParams, "ES256", testkeys::kEcKid},
        std::tuple{testkeys::kEc384Private, "ES384", testkeys::kEc384Kid}}) {
    auto jwt = ParseJwt(Token(pem, alg, kid) + "\n");
    ASSERT_TRUE(jwt) << jwt.error().ToString();
    auto v = VerifyToken(*jwt, keys, {.issuer = kIssuer, .now = kNow});
    ASSERT_TRUE(v) << alg << ": " << v.error().ToString();
    EXPECT_EQ(v->subject, "system:serviceaccount:ns:app");
    EXPECT_EQ(v->kid, kid);
  }
}

TEST(VerifyToken, SaysWhatIsWrong) {
  auto keys = Keys({testkeys::kRsaPublicPkix});
  auto check = [&keys](const std::string& token, const char* want, Time now = kNow) {
    auto jwt = ParseJwt(token);
    ASSERT_TRUE(jwt);
    auto v = VerifyToken(*jwt, keys, {.issuer = kIssuer, .now = now});
    ASSERT_FALSE(v) << want;
    EXPECT_EQ(v.error().code(), ErrorCode::kUnauthenticated);
    EXPECT_NE(v.error().message().find(want), std::string::npos) << v.error().message();
  };
  // The old key was removed from the JWKS: the token's kid is unknown.
  check(Token(testkeys::kEcPrivateSec1WithParams, "ES256", testkeys::kEcKid), "not in the JWKS");
  // Signed by another key under the published kid.
  check(Token(testkeys::kEc384Private, "RS256", testkeys::kRsaKid), "does not verify");
  auto claims = Claims();
  claims["iss"] = "https://127.0.0.1:6443";
  check(Token(testkeys::kRsaPrivatePkcs8, "RS256", testkeys::kRsaKid, claims), "token iss");
  claims = Claims();
  claims["aud"] = "https://kubernetes.default.svc";
  check(Token(testkeys::kRsaPrivatePkcs8, "RS256", testkeys::kRsaKid, claims), "aud");
  check(Token(testkeys::kRsaPrivatePkcs8, "RS256", testkeys::kRsaKid), "expired",
        kNow + seconds(7200));
  check(Token(testkeys::kRsaPrivatePkcs8, "RS256", testkeys::kRsaKid), "not valid before",
        kNow - seconds(7200));
  claims = Claims();
  claims["exp"] = 1e300;
  claims["nbf"] = -1e300;
  auto jwt = ParseJwt(Token(testkeys::kRsaPrivatePkcs8, "RS256", testkeys::kRsaKid, claims));
  ASSERT_TRUE(jwt);
  auto far = VerifyToken(*jwt, keys, {.issuer = kIssuer, .now = kNow});
  EXPECT_TRUE(far) << far.error().ToString();
  check(Token(testkeys::kRsaPrivatePkcs8, "none", testkeys::kRsaKid), "not RS256");
}

TEST(ParseJwt, RefusesNonJws) {
  for (const char* text : {"", "a.b", "a.b.c.d", "e30.e30.!!", "W10.e30.AA", "e30.e30.AA",
                           "eyJhbGciOiJSUzI1NiJ9.bm90anNvbg.AA"}) {
    EXPECT_FALSE(ParseJwt(text)) << text;
  }
}

}  // namespace
}  // namespace podiam::oidc
