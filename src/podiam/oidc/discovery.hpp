// The two documents an OIDC issuer for ServiceAccount tokens publishes, with exactly the fields
// kube-apiserver emits (docs/oidc.md): `/.well-known/openid-configuration` and the JWKS, plus the
// issuer URL rules IAM imposes (https, no port, no query, no fragment).
//
// Thread-safety: pure functions over values.
//
//   auto issuer = oidc::ParseIssuer("https://oidc.example.com/cluster-a");
//   auto docs = oidc::RenderDocuments(*issuer, keys, {});
//   docs->discovery;  // {"issuer":...,"jwks_uri":".../keys.json",...}
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "podiam/base/error.hpp"
#include "podiam/oidc/keys.hpp"

namespace podiam::oidc {

// The static layout: files under DIR and the paths a web server serves them at.
inline constexpr std::string_view kDiscoveryPath = "/.well-known/openid-configuration";
inline constexpr std::string_view kJwksPath = "/keys.json";
// IAM and STS accept at most this many keys in a JWKS (docs/oidc.md).
inline constexpr std::size_t kMaxKeys = 100;

struct Issuer {
  std::string url;        // "https://oidc.example.com/cluster-a" (as given)
  std::string host_path;  // "oidc.example.com/cluster-a": IAM's provider name and condition prefix
  std::string host;
  std::string path;  // "" or "/cluster-a"
};

// kInvalidArgument, saying which IAM rule the URL breaks, for anything but
// https://HOST[/PATH] with no port, query, fragment, user info or trailing slash.
Result<Issuer> ParseIssuer(std::string_view url);

struct RenderOptions {
  std::string jwks_uri;  // empty: issuer + kJwksPath
};

struct Documents {
  nlohmann::ordered_json discovery;
  nlohmann::ordered_json jwks;
};

// Refuses no keys, more than kMaxKeys, and the same key twice.
Result<Documents> RenderDocuments(const Issuer& issuer, const std::vector<PublicKey>& keys,
                                  const RenderOptions& options);

// Serialized as written to disk and served (compact JSON, trailing newline).
std::string Serialize(const nlohmann::ordered_json& doc);

}  // namespace podiam::oidc
