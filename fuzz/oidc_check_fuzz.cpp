// Fuzzes what `podiam oidc check` parses from an issuer it does not control: the discovery
// document and JWKS (oidc::CheckPublished, ParseJwks, PublicKeyFromJwk), a token
// (oidc::ParseJwt, VerifyToken) and base64url.
//
// Input layout (docs/fuzzing.md):
//   line 1  the discovery document
//   line 2  the JWKS
//   rest    the token
//
// Invariants: every key CheckPublished returns has a kid that, when it came from the JWKS, is the
// JWK's own, an RS256/ES256/ES384 alg and a DER SubjectPublicKeyInfo that re-parses to the same
// key and JWK; problems are listed for a JWKS of more than 100 keys, duplicate kids and an
// issuer that is not the one asked for; a token verified against these keys names a kid among
// them, and re-encoding its parts gives the token back; base64url round-trips.
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>

#include "fuzz/fuzz_input.hpp"
#include "podiam/oidc/check.hpp"
#include "podiam/oidc/keys.hpp"

namespace podiam::oidc {
namespace {

constexpr const char* kIssuer = "https://oidc.example.com/c";

void CheckKey(const PublicKey& key) {
  FUZZ_CHECK(key.alg == "RS256" || key.alg == "ES256" || key.alg == "ES384", "unexpected alg");
  auto again = PublicKeyFromSpki(key.spki_der);
  FUZZ_CHECK(again.has_value(), "SPKI of an accepted key does not re-parse");
  FUZZ_CHECK(again->alg == key.alg && again->bits == key.bits, "re-parsed key differs");
  FUZZ_CHECK(again->kid == KidFromSpki(key.spki_der), "derived kid is not SHA-256 of the SPKI");
  auto jwk = again->jwk;
  jwk["kid"] = key.kid;
  FUZZ_CHECK(jwk == key.jwk, "JWK of the re-parsed key differs");
}

}  // namespace
}  // namespace podiam::oidc

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace podiam::oidc;  // NOLINT(google-build-using-namespace)
  podiam::fuzz::Input in(data, size);
  std::string discovery(in.Line());
  std::string jwks(in.Line());
  std::string token(in.Rest());

  auto published = CheckPublished(kIssuer, discovery, jwks);
  auto parsed_jwks = nlohmann::json::parse(jwks, nullptr, false);
  std::set<std::string> kids;
  bool duplicate = false;
  for (const auto& key : published.keys) {
    CheckKey(key);
    duplicate |= !key.kid.empty() && !kids.insert(key.kid).second;
  }
  if (duplicate) {
    FUZZ_CHECK(!published.problems.empty(), "duplicate kids without a problem");
  }
  if (parsed_jwks.is_object() && parsed_jwks.contains("keys") && parsed_jwks["keys"].is_array() &&
      parsed_jwks["keys"].size() > 100) {
    FUZZ_CHECK(!published.problems.empty(), "over 100 keys without a problem");
  }
  auto parsed_discovery = nlohmann::json::parse(discovery, nullptr, false);
  if (!parsed_discovery.is_object() ||
      parsed_discovery.value("issuer", nlohmann::json()) != nlohmann::json(kIssuer)) {
    FUZZ_CHECK(!published.problems.empty(), "wrong issuer without a problem");
  }

  auto jwt = ParseJwt(token);
  if (jwt) {
    FUZZ_CHECK(!jwt->alg.empty(), "parsed token without alg");
    auto dot = jwt->signing_input.find('.');
    FUZZ_CHECK(dot != std::string::npos, "signing input without '.'");
    auto header = Base64UrlDecode(jwt->signing_input.substr(0, dot));
    FUZZ_CHECK(header.has_value() && Base64UrlEncode(*header) == jwt->signing_input.substr(0, dot),
               "header does not round-trip");
    auto verified = VerifyToken(
        *jwt, published.keys,
        {.issuer = kIssuer, .now = std::chrono::system_clock::time_point(std::chrono::seconds(1))});
    if (verified) {
      FUZZ_CHECK(kids.count(verified->kid) == 1 || verified->kid.empty(), "unknown kid verified");
    } else {
      FUZZ_CHECK(!verified.error().message().empty(), "verification error without a message");
    }
  }
  auto decoded = Base64UrlDecode(token);
  if (decoded) {
    FUZZ_CHECK(Base64UrlEncode(*decoded) == token, "base64url does not round-trip");
  }
  return 0;
}
