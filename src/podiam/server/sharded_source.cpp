#include "podiam/server/sharded_source.hpp"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "podiam/server/peer_protocol.hpp"
#include "podiam/serverclient/protocol.hpp"

namespace podiam::server {
namespace {

// The "code" of an error body ("" when there is none).
std::string CodeOf(std::string_view body) {
  auto doc = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object()) {
    return {};
  }
  auto it = doc.find("code");
  return it != doc.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

Result<aws::AssumeRoleResult> ShardedSource::Fetch(const creds::CredentialSpec& spec,
                                                   int default_duration_seconds) {
  auto owner = owners_.PeerOwner(spec.key);
  if (!owner) {
    return sts_.Fetch(spec, default_duration_seconds);
  }
  std::string why;
  if (auto answer = AskPeer(spec, *owner, &why)) {
    return std::move(*answer);
  }
  metrics_.fallbacks.Inc();
  log_.Warn("owning replica did not answer; calling STS for this fetch",
            {{"owner", owner->identity},
             {"peer_url", owner->peer_url},
             {"role", spec.key.role_arn},
             {"session", spec.key.session_name},
             {"why", why}});
  return sts_.Fetch(spec, default_duration_seconds);
}

std::optional<Result<aws::AssumeRoleResult>> ShardedSource::AskPeer(
    const creds::CredentialSpec& spec, const membership::Member& owner, std::string* why) {
  auto count = [this](std::string_view result) {
    metrics_.peer_requests.WithLabels({result}).Inc();
  };
  auto token = token_.Read();
  if (!token) {
    count("no_token");
    *why = token.error().ToString();
    return std::nullopt;
  }
  http::ClientRequest request{.method = "POST",
                              .url = owner.peer_url + std::string(kPeerCredentialsPath),
                              .body = EncodePeerRequest(spec),
                              .timeout = options_.timeout,
                              .tls_server_name = options_.tls_server_name};
  request.headers.Set("Authorization", "Bearer " + *token);
  request.headers.Set("Content-Type", "application/json");
  request.headers.Set("Accept", "application/json");
  auto response = peers_.Send(request);
  if (!response) {
    count("transport");
    *why = response.error().ToString();
    return std::nullopt;
  }
  if (response->status == 200) {
    auto parsed = serverclient::ParseSuccess(response->body);
    if (!parsed) {
      count("invalid");
      *why = parsed.error().ToString();
      return std::nullopt;
    }
    count("ok");
    parsed->result.credentials.source = "podiam-server peer " + owner.identity;
    return Result<aws::AssumeRoleResult>(std::move(parsed->result));
  }
  Error error = serverclient::ErrorFromResponse(response->status, response->body);
  const std::string code = CodeOf(response->body);
  if (response->status == 403 && code == "CredentialsDenied") {
    count("denied");  // STS's own answer to the owner: the same for us
    return Result<aws::AssumeRoleResult>(tl::unexpected(Error(
        error.code(), fmt::format("the owning replica {}: {}", owner.identity, error.message()),
        error.upstream_code(), /*retryable=*/false)));
  }
  count(code == "NotOwner" ? "not_owner" : response->status >= 500 ? "server_error" : "refused");
  *why = error.ToString();
  return std::nullopt;
}

}  // namespace podiam::server
