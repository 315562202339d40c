// What `podiam oidc check` verifies, as pure functions over untrusted bytes: the discovery
// document and JWKS an issuer publishes (against the rules IAM applies, docs/oidc.md), and a
// ServiceAccount token (JWS compact form) against that JWKS: signature, iss, aud, exp, nbf.
//
// Thread-safety: pure functions over values.
//
//   auto published = oidc::CheckPublished(issuer_url, discovery_body, jwks_body);
//   for (auto& p : published.problems) { ... }
//   auto token = oidc::ParseJwt(text);
//   auto verdict = oidc::VerifyToken(*token, published.keys, {.issuer = url, .now = clock.Now()});
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "podiam/base/error.hpp"
#include "podiam/oidc/keys.hpp"

namespace podiam::oidc {

struct Published {
  std::vector<std::string> problems;  // each one a reason IAM/STS would refuse
  std::vector<PublicKey> keys;        // the usable keys of the JWKS, with their published kid
  std::string jwks_uri;               // from the discovery document ("" when unreadable)
};

// Parses discovery (JSON object) and JWKS ({"keys":[...]}) and lists every problem: issuer not
// equal to `issuer_url`, not https, jwks_uri not https, no or too many keys, keys without kid,
// duplicate kids, unusable keys (RSA < 2048 bits, unknown curves).
Published CheckPublished(std::string_view issuer_url, std::string_view discovery_body,
                         std::string_view jwks_body);
// Only the JWKS part of CheckPublished (no discovery rules).
Published ParseJwks(std::string_view jwks_body);

struct Jwt {
  nlohmann::json header;
  nlohmann::json claims;
  std::string alg;
  std::string kid;
  std::string signing_input;  // "header.payload" as received
  std::string signature;      // raw bytes
};

// Splits and decodes a compact JWS. kInvalidArgument for anything else (JWE, bad base64url, not
// JSON objects, no alg). Leading/trailing whitespace is ignored (token files often end in \n).
Result<Jwt> ParseJwt(std::string_view text);

struct VerifyOptions {
  std::string issuer;                          // iss must equal it
  std::string audience = "sts.amazonaws.com";  // must be in aud
  std::chrono::system_clock::time_point now;
  std::chrono::seconds leeway{0};
};

struct Verified {
  std::string subject;  // "system:serviceaccount:NS:NAME"
  std::string kid;
  std::chrono::system_clock::time_point expires;
};

// kUnauthenticated with a message saying exactly what failed: kid not in the JWKS (the key was
// removed or never published), signature, iss, aud, exp, nbf.
Result<Verified> VerifyToken(const Jwt& token, const std::vector<PublicKey>& keys,
                             const VerifyOptions& options);

}  // namespace podiam::oidc
