// The owner's side of the peer protocol (peer_protocol.hpp; docs/server.md, "High availability
// and sharding"): another replica asks this one for the credentials of a key this one owns.
// Checks, in order, first failure answers:
//
//   1 POST only                                        405 MethodNotAllowed
//   2 Bearer token missing/ill-formed/expired          401 Unauthorized
//   3 TokenReview (the agents' cached reviewer)        401 Unauthorized (apiserver down: 503)
//   4 one of Options::peer_usernames                   403 NotAPeer
//   5 body (strict, ParsePeerRequest)                  400 BadRequest
//   6 this replica owns the key by its own view        503 NotOwner (the asker falls back to STS;
//                                                      never forwarded again: no loops)
//   7 the broker's credentials, refreshed first when   200; STS refused for good: 403
//     inside their refresh window (Get(fresh))         CredentialsDenied, else 503
//
// Every answer is counted (podiam_server_peer_answers_total{code}); refusals are logged without
// the token. Blocking work (a review, a fetch) runs through Options::offload.
//
// Thread-safety: Handle() from any I/O thread.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "podiam/base/clock.hpp"
#include "podiam/base/log.hpp"
#include "podiam/containercreds/review_cache.hpp"
#include "podiam/http/handler.hpp"
#include "podiam/server/ports.hpp"
#include "podiam/server/protocol.hpp"
#include "podiam/server/shard.hpp"

namespace podiam::server {

// The owner's credentials for a peer: the broker's Get(spec, deadline, /*fresh=*/true).
class PeerCredentials {
 public:
  virtual ~PeerCredentials() = default;
  virtual Result<aws::Credentials> FetchFresh(const creds::CredentialSpec& spec,
                                              SteadyTime deadline) = 0;
};

class BrokerPeerCredentials final : public PeerCredentials {
 public:
  explicit BrokerPeerCredentials(creds::CredentialBroker& broker) : broker_(broker) {}
  Result<aws::Credentials> FetchFresh(const creds::CredentialSpec& spec,
                                      SteadyTime deadline) override {
    return broker_.Get(spec, deadline, /*fresh=*/true);
  }

 private:
  creds::CredentialBroker& broker_;
};

struct PeerHandlerOptions {
  // Reviewed usernames of the server replicas ("system:serviceaccount:<ns>:<name>").
  std::vector<std::string> peer_usernames = {"system:serviceaccount:kube-system:podiam-server"};
  // Below the asker's 2 s timeout, so that it gets an answer rather than a timeout.
  std::chrono::milliseconds wait{1500};
  std::function<bool(std::string_view key, std::function<void()>)> offload;
};

class PeerHandler final : public http::Handler {
 public:
  PeerHandler(TokenReviewer& reviews, containercreds::ReviewCache& cache, const KeyOwners& owners,
              PeerCredentials& credentials, const Clock& clock, ShardMetrics& metrics,
              PeerHandlerOptions options)
      : reviews_(reviews),
        cache_(cache),
        owners_(owners),
        credentials_(credentials),
        clock_(clock),
        metrics_(metrics),
        options_(std::move(options)) {}

  void Handle(http::Request request, http::ResponseCallback done) override;

 private:
  http::Response Answer(const http::Request& request, const std::string& token,
                        const containercreds::JwtTimes& times, SteadyTime started);
  http::Response Refuse(const http::Request& request, Refusal refusal, std::string_view reason,
                        const std::string& message, std::string_view upstream = {});

  TokenReviewer& reviews_;
  containercreds::ReviewCache& cache_;
  const KeyOwners& owners_;
  PeerCredentials& credentials_;
  const Clock& clock_;
  ShardMetrics& metrics_;
  PeerHandlerOptions options_;
  log::Logger log_{"server.peer"};
};

}  // namespace podiam::server
