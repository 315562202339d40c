#include "podiam/server/peer_handler.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "podiam/containercreds/request.hpp"
#include "podiam/server/peer_protocol.hpp"
#include "podiam/server/protocol.hpp"

namespace podiam::server {

void PeerHandler::Handle(http::Request request, http::ResponseCallback done) {
  auto finish = [this, done](http::Response response) {
    metrics_.peer_answers.WithLabels({std::to_string(response.status)}).Inc();
    done(std::move(response));
  };
  if (request.method != "POST") {
    return finish(
        Refuse(request, Refusal::kMethodNotAllowed, "method", "method not allowed: use POST"));
  }
  auto token = BearerToken(request.headers.Get("Authorization").value_or(""));
  if (!token) {
    return finish(
        Refuse(request, Refusal::kUnauthorized, "no_token",
               "no Authorization: Bearer token: send the replica's ServiceAccount token"));
  }
  auto times = containercreds::ParseJwtTimes(*token);
  if (!times) {
    return finish(Refuse(request, Refusal::kUnauthorized, "malformed_token",
                         "the bearer token is not a JWT"));
  }
  const std::int64_t now =
      std::chrono::duration_cast<std::chrono::seconds>(clock_.Now().time_since_epoch()).count();
  if (times->exp <= now) {
    return finish(
        Refuse(request, Refusal::kUnauthorized, "expired_token", "the bearer token has expired"));
  }
  std::string peer = request.peer.address;
  auto work = [this, request = std::move(request), token = std::string(*token), times = *times,
               started = clock_.SteadyNow(),
               finish]() { finish(Answer(request, token, times, started)); };
  if (!options_.offload) {
    return work();
  }
  if (!options_.offload(peer, work)) {
    http::Request none;
    none.peer.address = peer;
    finish(Refuse(none, Refusal::kUnavailable, "busy", "too many requests are queued; retry"));
  }
}

http::Response PeerHandler::Answer(const http::Request& request, const std::string& token,
                                   const containercreds::JwtTimes& times, SteadyTime started) {
  std::shared_ptr<const TokenIdentity> identity;
  if (auto hit = cache_.Get(token)) {
    if (!hit->identity) {
      return Refuse(request, Refusal::kUnauthorized, "unauthenticated", hit->error);
    }
    identity = hit->identity;
  } else {
    auto reviewed = reviews_.Review(token);
    if (!reviewed) {
      if (reviewed.error().code() == ErrorCode::kUnauthenticated) {
        std::string message =
            "the apiserver did not authenticate the token: " + reviewed.error().message();
        cache_.PutNegative(token, message, times);
        return Refuse(request, Refusal::kUnauthorized, "unauthenticated", message);
      }
      return Refuse(request, Refusal::kUnavailable, "review_unavailable",
                    "the apiserver could not review the token; retry");
    }
    identity = std::make_shared<const TokenIdentity>(std::move(*reviewed));
    cache_.PutPositive(token, identity, times);
  }
  const auto& allowed = options_.peer_usernames;
  if (std::find(allowed.begin(), allowed.end(), identity->username) == allowed.end()) {
    return Refuse(request, Refusal::kNotAPeer, "not_a_peer",
                  fmt::format("{} is not a podiam server replica's ServiceAccount "
                              "(--peer-service-account)",
                              identity->username));
  }
  auto spec = ParsePeerRequest(request.body);
  if (!spec) {
    return Refuse(request, Refusal::kBadRequest, "bad_request", spec.error().message());
  }
  if (auto owner = owners_.PeerOwner(spec->key)) {
    return Refuse(request, Refusal::kNotOwner, "not_owner",
                  fmt::format("this replica does not own the key; {} does (membership views "
                              "differ for a moment): call STS",
                              owner->identity));
  }
  auto creds = credentials_.FetchFresh(*spec, started + options_.wait);
  if (!creds) {
    const Error& e = creds.error();
    bool final = !e.retryable() && !e.upstream_code().empty();
    return Refuse(request, final ? Refusal::kCredentialsDenied : Refusal::kCredentialsUnavailable,
                  final ? "credentials_denied" : "credentials_unavailable",
                  "credentials are not available: " + e.message(), e.upstream_code());
  }
  return CredentialsResponse(*spec, *creds);
}

http::Response PeerHandler::Refuse(const http::Request& request, Refusal refusal,
                                   std::string_view reason, const std::string& message,
                                   std::string_view upstream) {
  log_.Info(
      "peer request refused",
      {{"source", request.peer.address}, {"reason", std::string(reason)}, {"message", message}});
  return RefusalResponse(refusal, message, upstream);
}

}  // namespace podiam::server
