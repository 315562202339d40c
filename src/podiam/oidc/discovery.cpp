#include "podiam/oidc/discovery.hpp"

#include <algorithm>
#include <set>

namespace podiam::oidc {
namespace {

Result<Issuer> Bad(std::string_view url, const std::string& why) {
  return MakeError(ErrorCode::kInvalidArgument,
                   "issuer " + std::string(url) + ": " + why +
                       " (IAM wants https://HOST[/PATH], equal to the tokens' iss)");
}

}  // namespace

Result<Issuer> ParseIssuer(std::string_view url) {
  constexpr std::string_view kScheme = "https://";
  if (!url.starts_with(kScheme)) {
    return Bad(url, "must start with https://");
  }
  std::string_view rest = url.substr(kScheme.size());
  if (rest.find('?') != std::string_view::npos) {
    return Bad(url, "must have no query");
  }
  if (rest.find('#') != std::string_view::npos) {
    return Bad(url, "must have no fragment");
  }
  auto slash = rest.find('/');
  std::string_view host = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? "" : rest.substr(slash);
  if (host.empty()) {
    return Bad(url, "has no host");
  }
  if (host.find('@') != std::string_view::npos) {
    return Bad(url, "must have no user info");
  }
  for (char c : host) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '.' || c == ':';
    if (!ok) {
      return Bad(url, "host has a character other than letters, digits, '-' and '.'");
    }
  }
  if (host.find(':') != std::string_view::npos) {
    return Bad(url, "must have no port");
  }
  if (path == "/" || path.ends_with("/")) {
    return Bad(url, "must not end with '/'");
  }
  for (char c : path) {
    if (static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7F ||
        c == '\\' || c == '%') {
      return Bad(url, "path has a space, control, non-ASCII, '%' or '\\' character");
    }
  }
  if (path.find("//") != std::string_view::npos) {
    return Bad(url, "path has an empty segment");
  }
  return Issuer{.url = std::string(url),
                .host_path = std::string(rest),
                .host = std::string(host),
                .path = std::string(path)};
}

Result<Documents> RenderDocuments(const Issuer& issuer, const std::vector<PublicKey>& keys,
                                  const RenderOptions& options) {
  if (keys.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "no keys: give at least one --key");
  }
  if (keys.size() > kMaxKeys) {
    return MakeError(
        ErrorCode::kInvalidArgument,
        std::to_string(keys.size()) + " keys: IAM accepts at most " + std::to_string(kMaxKeys));
  }
  Documents docs;
  docs.jwks = {{"keys", nlohmann::ordered_json::array()}};
  std::set<std::string> kids;
  std::set<std::string> algs;  // kube-apiserver lists them sorted and unique
  for (const auto& key : keys) {
    if (!kids.insert(key.kid).second) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "the same key is given twice (kid " + key.kid + ")");
    }
    algs.insert(key.alg);
    docs.jwks["keys"].push_back(key.jwk);
  }
  docs.discovery = {
      {"issuer", issuer.url},
      {"jwks_uri",
       options.jwks_uri.empty() ? issuer.url + std::string(kJwksPath) : options.jwks_uri},
      {"response_types_supported", {"id_token"}},
      {"subject_types_supported", {"public"}},
      {"id_token_signing_alg_values_supported", std::vector<std::string>(algs.begin(), algs.end())},
  };
  return docs;
}

std::string Serialize(const nlohmann::ordered_json& doc) { return doc.dump() + "\n"; }

}  // namespace podiam::oidc
