#include "podiam/oidc/keys.hpp"

#include <gtest/gtest.h>

#include "podiam/oidc/test_keys.hpp"
#include "podiam/oidc/test_sign.hpp"

namespace podiam::oidc {
namespace {

TEST(Base64Url, RoundTripsAndRejectsPaddingAndStdAlphabet) {
  for (std::string s : {"", "f", "fo", "foo", "foob", "fooba", "foobar", "\xff\xfe\x00\x01"}) {
    auto enc = Base64UrlEncode(s);
    EXPECT_EQ(enc.find('='), std::string::npos);
    auto dec = Base64UrlDecode(enc);
    ASSERT_TRUE(dec) << enc;
    EXPECT_EQ(*dec, s);
  }
  EXPECT_EQ(Base64UrlEncode("\xfb\xff"), "-_8");
  EXPECT_FALSE(Base64UrlDecode("Zg=="));
  EXPECT_FALSE(Base64UrlDecode("+/8"));
  EXPECT_FALSE(Base64UrlDecode("Z"));
  EXPECT_FALSE(Base64UrlDecode("Zh"));  // non-canonical trailing bits
}

TEST(LoadPublicKeyPem, RsaFromEveryFormHasKubeApiserversKid) {
  for (const char* pem : {testkeys::kRsaPrivatePkcs8, testkeys::kRsaPrivatePkcs1,
                          testkeys::kRsaPublicPkix, testkeys::kRsaPublicPkcs1}) {
    auto key = LoadPublicKeyPem(pem);
    ASSERT_TRUE(key) << key.error().ToString();
    EXPECT_EQ(key->kid, testkeys::kRsaKid);
    EXPECT_EQ(key->alg, "RS256");
    EXPECT_EQ(key->bits, 2048);
    EXPECT_EQ(key->jwk["e"], "AQAB");
    EXPECT_EQ(key->jwk["kid"], testkeys::kRsaKid);
    // 2048-bit modulus: 256 bytes -> 342 base64url characters, no leading zero byte.
    EXPECT_EQ(key->jwk["n"].get<std::string>().size(), 342U);
    // Field order as go-jose writes it (kube-apiserver's /openid/v1/jwks).
    EXPECT_EQ(key->jwk.dump().substr(0, 40), R"({"use":"sig","kty":"RSA","kid":"_PWl0eck)");
  }
}

TEST(LoadPublicKeyPem, EcP256FromSec1WithParametersAndPkix) {
  for (const char* pem : {testkeys::kEcPrivateSec1WithParams, testkeys::kEcPublic}) {
    auto key = LoadPublicKeyPem(pem);
    ASSERT_TRUE(key) << key.error().ToString();
    EXPECT_EQ(key->kid, testkeys::kEcKid);
    EXPECT_EQ(key->alg, "ES256");
    EXPECT_EQ(key->jwk["crv"], "P-256");
    EXPECT_EQ(key->jwk["x"].get<std::string>().size(), 43U);
    EXPECT_EQ(key->jwk["y"].get<std::string>().size(), 43U);
    EXPECT_EQ(key->jwk.dump().substr(0, 30), R"({"use":"sig","kty":"EC","kid":)");
  }
}

TEST(LoadPublicKeyPem, EcP384) {
  auto key = LoadPublicKeyPem(testkeys::kEc384Private);
  ASSERT_TRUE(key) << key.error().ToString();
  EXPECT_EQ(key->kid, testkeys::kEc384Kid);
  EXPECT_EQ(key->alg, "ES384");
  EXPECT_EQ(key->jwk["crv"], "P-384");
  EXPECT_EQ(key->jwk["x"].get<std::string>().size(), 64U);
}

TEST(LoadPublicKeyPem, RefusesWhatIamOrKubernetesCannotUse) {
  struct Case {
    const char* pem;
    const char* want;
  };
  for (const auto& c :
       {Case{testkeys::kRsa1024Public, "at least 2048"},
        Case{testkeys::kEd25519Public, "unsupported key type"},
        Case{testkeys::kSecp256k1Public, "P-256 or P-384"},
        Case{testkeys::kCertificate, "a certificate, not a key"},
        Case{testkeys::kEncryptedPrivate, "not an unencrypted"}, Case{"", "no PEM key block"},
        Case{"-----BEGIN PUBLIC KEY-----\nAAAA\n", "no END line"},
        Case{"-----BEGIN PUBLIC KEY-----\n!!\n-----END PUBLIC KEY-----\n", "cannot decode"}}) {
    auto key = LoadPublicKeyPem(c.pem);
    ASSERT_FALSE(key) << c.want;
    EXPECT_EQ(key.error().code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(key.error().message().find(c.want), std::string::npos) << key.error().message();
  }
}

TEST(PublicKeyFromJwk, RoundTripsTheRenderedJwk) {
  for (const char* pem : {testkeys::kRsaPublicPkix, testkeys::kEcPublic, testkeys::kEc384Private}) {
    auto key = LoadPublicKeyPem(pem);
    ASSERT_TRUE(key);
    auto back = PublicKeyFromJwk(nlohmann::json::parse(key->jwk.dump()));
    ASSERT_TRUE(back) << back.error().ToString();
    EXPECT_EQ(back->spki_der, key->spki_der);
    EXPECT_EQ(back->kid, key->kid);
  }
}

TEST(PublicKeyFromJwk, RefusesBrokenKeys) {
  auto ec = LoadPublicKeyPem(testkeys::kEcPublic);
  ASSERT_TRUE(ec);
  auto jwk = nlohmann::json::parse(ec->jwk.dump());
  auto off_curve = jwk;
  off_curve["y"] = off_curve["x"];
  EXPECT_FALSE(PublicKeyFromJwk(off_curve));
  auto wrong_alg = jwk;
  wrong_alg["alg"] = "RS256";
  EXPECT_FALSE(PublicKeyFromJwk(wrong_alg));
  auto short_x = jwk;
  short_x["x"] = "AAAA";
  EXPECT_FALSE(PublicKeyFromJwk(short_x));
  EXPECT_FALSE(PublicKeyFromJwk(nlohmann::json::parse(R"({"kty":"oct","k":"AAAA"})")));
  EXPECT_FALSE(PublicKeyFromJwk(nlohmann::json::parse(R"({"kty":"RSA","n":"AQAB"})")));
  EXPECT_FALSE(PublicKeyFromJwk(nlohmann::json::parse("[1]")));
}

TEST(VerifySignature, AcceptsGoodAndRejectsTamperedSignatures) {
  struct Case {
    const char* private_pem;
    const char* alg;
  };
  for (const auto& c : {Case{testkeys::kRsaPrivatePkcs8, "RS256"},
                        Case{testkeys::kEcPrivateSec1WithParams, "ES256"},
                        Case{testkeys::kEc384Private, "ES384"}}) {
    auto key = LoadPublicKeyPem(c.private_pem);
    ASSERT_TRUE(key);
    std::string sig = testing::Sign(c.private_pem, c.alg, "payload");
    EXPECT_TRUE(VerifySignature(*key, c.alg, "payload", sig)) << c.alg;
    auto bad = VerifySignature(*key, c.alg, "payloaD", sig);
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().code(), ErrorCode::kUnauthenticated);
    EXPECT_FALSE(VerifySignature(*key, c.alg, "payload", sig.substr(1)));
    EXPECT_FALSE(VerifySignature(*key, "HS256", "payload", sig));
  }
}

}  // namespace
}  // namespace podiam::oidc
