#include "podiam/oidc/check.hpp"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <set>

#include "podiam/oidc/discovery.hpp"

namespace podiam::oidc {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front())) != 0) {
    s.remove_prefix(1);
  }
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back())) != 0) {
    s.remove_suffix(1);
  }
  return s;
}

nlohmann::json ParseObject(std::string_view body) {
  auto doc = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  return doc.is_object() ? doc : nlohmann::json();
}

std::string Str(const nlohmann::json& obj, const char* name) {
  auto it = obj.find(name);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : std::string();
}

Result<Verified> Fail(const std::string& why) {
  return MakeError(ErrorCode::kUnauthenticated, why);
}

// JSON numbers as times, clamped to 0..year 2255 so that no cast overflows (system_clock counts
// nanoseconds in 64 bits: about 292 years from 1970).
std::chrono::system_clock::time_point ToTime(double seconds) {
  constexpr double kMax = 9e9;
  seconds = seconds < 0 ? 0 : (seconds > kMax ? kMax : seconds);
  return std::chrono::system_clock::time_point(
      std::chrono::seconds(static_cast<std::int64_t>(seconds)));
}

std::string FormatTime(std::chrono::system_clock::time_point t) {
  auto secs = std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
  return std::to_string(secs) + " (Unix seconds)";
}

}  // namespace

Published ParseJwks(std::string_view jwks_body) {
  Published out;
  auto jwks = ParseObject(jwks_body);
  if (jwks.is_null()) {
    out.problems.emplace_back("JWKS is not a JSON object");
    return out;
  }
  auto keys = jwks.find("keys");
  if (keys == jwks.end() || !keys->is_array()) {
    out.problems.emplace_back("JWKS has no \"keys\" array");
    return out;
  }
  if (keys->empty()) {
    out.problems.emplace_back("JWKS has no keys");
  }
  if (keys->size() > kMaxKeys) {
    out.problems.emplace_back("JWKS has " + std::to_string(keys->size()) +
                              " keys; IAM accepts at most " + std::to_string(kMaxKeys));
  }
  std::set<std::string> kids;
  std::size_t index = 0;
  for (const auto& jwk : *keys) {
    std::string where = "JWKS key " + std::to_string(index++);
    auto key = PublicKeyFromJwk(jwk);
    if (!key) {
      out.problems.push_back(where + ": " + key.error().message());
      continue;
    }
    if (key->kid.empty()) {
      out.problems.push_back(where + ": no kid (tokens of Kubernetes >= 1.16 carry one)");
    } else if (!kids.insert(key->kid).second) {
      out.problems.push_back(where + ": kid " + key->kid + " appears twice");
    }
    if (jwk.is_object() && jwk.contains("use") && Str(jwk, "use") != "sig") {
      out.problems.push_back(where + ": use is not \"sig\"");
    }
    out.keys.push_back(std::move(*key));
  }
  return out;
}

Published CheckPublished(std::string_view issuer_url, std::string_view discovery_body,
                         std::string_view jwks_body) {
  Published out = ParseJwks(jwks_body);
  auto discovery = ParseObject(discovery_body);
  if (discovery.is_null()) {
    out.problems.insert(out.problems.begin(), "discovery document is not a JSON object");
    return out;
  }
  std::vector<std::string> first;
  if (auto issuer = ParseIssuer(issuer_url); !issuer) {
    first.push_back(issuer.error().message());
  }
  std::string published_issuer = Str(discovery, "issuer");
  if (published_issuer != issuer_url) {
    first.push_back("discovery issuer \"" + published_issuer + "\" is not \"" +
                    std::string(issuer_url) + "\" (must be equal, byte for byte)");
  }
  out.jwks_uri = Str(discovery, "jwks_uri");
  if (!out.jwks_uri.starts_with("https://")) {
    first.push_back("jwks_uri \"" + out.jwks_uri + "\" is not an https URL");
  }
  auto algs = discovery.find("id_token_signing_alg_values_supported");
  if (algs == discovery.end() || !algs->is_array()) {
    first.emplace_back("discovery has no id_token_signing_alg_values_supported array");
  } else {
    for (const auto& key : out.keys) {
      if (std::find(algs->begin(), algs->end(), key.alg) == algs->end()) {
        first.push_back("key " + key.kid + " is " + key.alg +
                        ", which id_token_signing_alg_values_supported does not list");
      }
    }
  }
  out.problems.insert(out.problems.begin(), first.begin(), first.end());
  return out;
}

Result<Jwt> ParseJwt(std::string_view text) {
  text = Trim(text);
  auto dot1 = text.find('.');
  auto dot2 = dot1 == std::string_view::npos ? dot1 : text.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || text.find('.', dot2 + 1) != std::string_view::npos) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "not a JWT: a token is three base64url parts joined by '.'");
  }
  auto header = Base64UrlDecode(text.substr(0, dot1));
  auto payload = Base64UrlDecode(text.substr(dot1 + 1, dot2 - dot1 - 1));
  auto signature = Base64UrlDecode(text.substr(dot2 + 1));
  if (!header || !payload || !signature) {
    return MakeError(ErrorCode::kInvalidArgument, "not a JWT: a part is not base64url");
  }
  Jwt jwt;
  jwt.header = ParseObject(*header);
  jwt.claims = ParseObject(*payload);
  if (jwt.header.is_null() || jwt.claims.is_null()) {
    return MakeError(ErrorCode::kInvalidArgument, "not a JWT: header or claims not a JSON object");
  }
  jwt.alg = Str(jwt.header, "alg");
  jwt.kid = Str(jwt.header, "kid");
  if (jwt.alg.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "JWT header has no alg");
  }
  jwt.signing_input = std::string(text.substr(0, dot2));
  jwt.signature = std::move(*signature);
  return jwt;
}

Result<Verified> VerifyToken(const Jwt& token, const std::vector<PublicKey>& keys,
                             const VerifyOptions& options) {
  if (token.alg != "RS256" && token.alg != "ES256" && token.alg != "ES384") {
    return Fail("token alg " + token.alg + " is not RS256, ES256 or ES384");
  }
  auto key = std::find_if(keys.begin(), keys.end(),
                          [&token](const PublicKey& k) { return k.kid == token.kid; });
  if (key == keys.end()) {
    return Fail("token kid \"" + token.kid +
                "\" is not in the JWKS: the key that signed it is not published (removed in a "
                "rotation, or never added); STS answers InvalidIdentityToken");
  }
  if (auto ok = VerifySignature(*key, token.alg, token.signing_input, token.signature); !ok) {
    return Fail(ok.error().message());
  }
  std::string iss = Str(token.claims, "iss");
  if (iss != options.issuer) {
    return Fail("token iss \"" + iss + "\" is not the issuer \"" + options.issuer + "\"");
  }
  bool aud_ok = false;
  if (auto aud = token.claims.find("aud"); aud != token.claims.end()) {
    if (aud->is_string()) {
      aud_ok = aud->get<std::string>() == options.audience;
    } else if (aud->is_array()) {
      aud_ok = std::find(aud->begin(), aud->end(), options.audience) != aud->end();
    }
  }
  if (!aud_ok) {
    return Fail("token aud does not contain \"" + options.audience +
                "\" (request the token with that audience)");
  }
  auto exp = token.claims.find("exp");
  if (exp == token.claims.end() || !exp->is_number()) {
    return Fail("token has no numeric exp");
  }
  auto expires = ToTime(exp->get<double>());
  if (expires + options.leeway <= options.now) {
    return Fail("token expired at " + FormatTime(expires));
  }
  if (auto nbf = token.claims.find("nbf"); nbf != token.claims.end() && nbf->is_number()) {
    auto not_before = ToTime(nbf->get<double>());
    if (not_before > options.now + options.leeway) {
      return Fail("token is not valid before " + FormatTime(not_before));
    }
  }
  return Verified{.subject = Str(token.claims, "sub"), .kid = token.kid, .expires = expires};
}

}  // namespace podiam::oidc
