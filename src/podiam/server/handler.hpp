// The server's agent-facing handler: the agent protocol v1 (docs/server.md, "Agent protocol"),
// its checks in the documented order, first failure answers:
//
//   1 Bearer token missing/ill-formed/expired        401 Unauthorized
//   2 TokenReview does not authenticate it           401 Unauthorized (apiserver down: 503)
//   3 not one of Options::agent_usernames            403 NotAnAgent
//   4 no node in the review (not pod-bound)          403 NoNodeBinding (unless allow_unbound)
//   5 body not valid                                 400 BadRequest
//   6 pod unknown (caches, then the apiserver) / UID 404 PodNotFound
//   7 pod not on the token's node                    403 PodNotOnNode (+ on_refusal: an Event)
//   8 the server's decision: denied/invalid          403 RoleDenied; none: 404 NoRole;
//     its role differs from the body's               409 RoleMismatch
//   9 credentials: STS refused for good              403 CredentialsDenied, else 503
//
// Reviews are cached (containercreds::ReviewCache: positive ones to the token's exp, bounded);
// the cached path (review, pod and credentials cached) answers on the I/O thread, anything that
// blocks (a review, an apiserver read, a fetch) goes to Options::offload. Every refusal is
// counted (podiam_server_refusals_total{reason}) and logged without the token.
//
// Thread-safety: Handle() is called concurrently from I/O threads.
//
//   server::CredentialsHandler handler(reviews, pods, credentials, clock, metrics, {...});
//   transport::HttpServer https({... .tls_cert_file = cert ...}, handler_ptr);
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "podiam/base/clock.hpp"
#include "podiam/base/log.hpp"
#include "podiam/containercreds/review_cache.hpp"
#include "podiam/http/handler.hpp"
#include "podiam/server/metrics.hpp"
#include "podiam/server/ports.hpp"
#include "podiam/server/protocol.hpp"

namespace podiam::server {

// A refusal worth telling users about (the server records a Warning Event on the pod).
struct RefusalNotice {
  std::string reason;   // the metric label, e.g. "pod_not_on_node"
  std::string message;  // no secrets
  std::string agent;    // the reviewed username
  std::string agent_node;
  std::shared_ptr<const ServerPod> pod;
};

struct HandlerOptions {
  // Reviewed usernames allowed to ask ("system:serviceaccount:<ns>:<name>").
  std::vector<std::string> agent_usernames = {"system:serviceaccount:kube-system:podiam-agent"};
  // --allow-unbound-agents: a token without a node binding may ask for a pod on any node.
  bool allow_unbound_agents = false;
  // How long a request may wait for credentials (the agent's own timeout is longer).
  std::chrono::milliseconds wait{5000};
  containercreds::ReviewCacheOptions review_cache;
  // Runs blocking work off the I/O threads, keyed by the agent's address; false when full.
  // Unset: inline (unit tests, the fuzz target).
  std::function<bool(std::string_view key, std::function<void()>)> offload;
  // Called for pod_not_on_node refusals (the pod is known).
  std::function<void(const RefusalNotice&)> on_refusal;
};

class CredentialsHandler final : public http::Handler {
 public:
  CredentialsHandler(TokenReviewer& reviews, PodLookup& pods, CredentialSource& credentials,
                     const Clock& clock, ServerMetrics& metrics, HandlerOptions options);
  CredentialsHandler(const CredentialsHandler&) = delete;
  CredentialsHandler& operator=(const CredentialsHandler&) = delete;
  ~CredentialsHandler() override;

  void Handle(http::Request request, http::ResponseCallback done) override;

  containercreds::ReviewCache& review_cache() { return cache_; }

 private:
  struct Context;
  struct Refused {
    Refusal refusal;
    std::string reason;
    std::string message;
    std::string upstream_code;
  };
  using Step = std::variant<http::Response, Refused>;

  // nullopt: needs blocking work; call again with may_block from a worker.
  std::optional<Step> Answer(Context& ctx, bool may_block);
  std::optional<Refused> Authenticate(Context& ctx, bool may_block, bool* block);
  std::optional<Refused> CheckAgent(const Context& ctx) const;
  std::optional<Step> Decide(const Context& ctx, bool may_block);
  void Finish(const Context& ctx, Step step, const http::ResponseCallback& done);

  TokenReviewer& reviews_;
  PodLookup& pods_;
  CredentialSource& credentials_;
  const Clock& clock_;
  ServerMetrics& metrics_;
  HandlerOptions options_;
  containercreds::ReviewCache cache_;
  log::Logger log_{"server"};
};

}  // namespace podiam::server
