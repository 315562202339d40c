#include "podiam/oidc/discovery.hpp"

#include <gtest/gtest.h>

#include "podiam/oidc/test_keys.hpp"

namespace podiam::oidc {
namespace {

TEST(ParseIssuer, AcceptsHostAndPath) {
  auto i = ParseIssuer("https://oidc.example.com/cluster-a");
  ASSERT_TRUE(i);
  EXPECT_EQ(i->host_path, "oidc.example.com/cluster-a");
  EXPECT_EQ(i->host, "oidc.example.com");
  EXPECT_EQ(i->path, "/cluster-a");
  auto bare = ParseIssuer("https://s3.eu-west-1.amazonaws.com");
  ASSERT_TRUE(bare);
  EXPECT_EQ(bare->host_path, "s3.eu-west-1.amazonaws.com");
  EXPECT_EQ(bare->path, "");
}

TEST(ParseIssuer, RefusesWhatIamRefusesWithTheReason) {
  struct Case {
    const char* url;
    const char* why;
  };
  for (const auto& c :
       {Case{"http://oidc.example.com", "https://"}, Case{"oidc.example.com", "https://"},
        Case{"https://oidc.example.com:8443/x", "no port"},
        Case{"https://oidc.example.com/x?a=b", "no query"},
        Case{"https://oidc.example.com/x#f", "no fragment"},
        Case{"https://user@oidc.example.com", "no user info"},
        Case{"https://oidc.example.com/", "not end with '/'"},
        Case{"https://oidc.example.com/a/", "not end with '/'"}, Case{"https:///a", "no host"},
        Case{"https://oidc.example.com/a b", "space"},
        Case{"https://oidc.example.com/a//b", "empty segment"},
        Case{"https://[::1]/a", "host has a character"}}) {
    auto i = ParseIssuer(c.url);
    ASSERT_FALSE(i) << c.url;
    EXPECT_NE(i.error().message().find(c.why), std::string::npos) << i.error().message();
  }
}

TEST(RenderDocuments, KubeApiserversFieldsInItsOrder) {
  auto issuer = ParseIssuer("https://oidc.example.com/c");
  auto rsa = LoadPublicKeyPem(testkeys::kRsaPublicPkix);
  auto ec = LoadPublicKeyPem(testkeys::kEcPublic);
  ASSERT_TRUE(issuer && rsa && ec);
  auto docs = RenderDocuments(*issuer, {*rsa, *ec}, {});
  ASSERT_TRUE(docs) << docs.error().ToString();
  EXPECT_EQ(
      Serialize(docs->discovery),
      R"({"issuer":"https://oidc.example.com/c","jwks_uri":"https://oidc.example.com/c/keys.json",)"
      R"("response_types_supported":["id_token"],"subject_types_supported":["public"],)"
      R"("id_token_signing_alg_values_supported":["ES256","RS256"]})"
      "\n");
  ASSERT_EQ(docs->jwks["keys"].size(), 2U);
  EXPECT_EQ(docs->jwks["keys"][0]["kid"], testkeys::kRsaKid);
  EXPECT_EQ(docs->jwks["keys"][1]["kid"], testkeys::kEcKid);
  auto custom = RenderDocuments(*issuer, {*rsa}, {.jwks_uri = "https://cdn.example.com/j"});
  ASSERT_TRUE(custom);
  EXPECT_EQ(custom->discovery["jwks_uri"], "https://cdn.example.com/j");
  EXPECT_EQ(custom->discovery["id_token_signing_alg_values_supported"],
            nlohmann::json::parse(R"(["RS256"])"));
}

TEST(RenderDocuments, RefusesNoKeysDuplicatesAndTooMany) {
  auto issuer = ParseIssuer("https://oidc.example.com");
  auto rsa = LoadPublicKeyPem(testkeys::kRsaPublicPkix);
  auto rsa_again = LoadPublicKeyPem(testkeys::kRsaPrivatePkcs1);
  ASSERT_TRUE(issuer && rsa && rsa_again);
  EXPECT_FALSE(RenderDocuments(*issuer, {}, {}));
  auto dup = RenderDocuments(*issuer, {*rsa, *rsa_again}, {});
  ASSERT_FALSE(dup);
  EXPECT_NE(dup.error().message().find("twice"), std::string::npos);
  std::vector<PublicKey> many(101, *rsa);
  for (std::size_t i = 0; i < many.size(); ++i) {
    many[i].kid = std::to_string(i);
  }
  auto too_many = RenderDocuments(*issuer, many, {});
  ASSERT_FALSE(too_many);
  EXPECT_NE(too_many.error().message().find("at most 100"), std::string::npos);
}

}  // namespace
}  // namespace podiam::oidc
