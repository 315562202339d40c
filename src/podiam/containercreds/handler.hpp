// The container-credentials protocol as a pod's SDK speaks it (docs/container-credentials.md):
//
//   GET /v1/credentials
//   Host: 169.254.170.23 | [fd00:ec2::23]        (one of Options::hosts, else 403)
//   Authorization: <the pod's projected ServiceAccount token, raw JWT>
//
//   200 {"AccessKeyId","SecretAccessKey","Token","AccountId","Expiration"}
//   4xx/5xx {"code","message"}                   (request.hpp, RefusalResponse: the only mapping)
//
// The token is authenticated by a TokenReview (cached: review_cache.hpp) and must be bound to a
// pod that is on this node now, with the same UID, not finished, and — beyond what the EKS Pod
// Identity agent checks — whose IP is the connection's source address (a token copied out of one
// pod and replayed from another is refused; Options::allow_host_network relaxes this for
// hostNetwork pods only). The role comes from RoleResolver (association, else ServiceAccount
// annotation, through the namespace policy), the credentials from CredentialSource (the broker
// the IMDS path uses). Every refusal is counted, logged (never the token) and, once the pod is
// known, reported through Options::on_refusal (the agent records an Event on the pod).
//
// Thread-safety: Handle() is called concurrently from I/O threads. The cached path (review and
// credentials cached) answers inline; TokenReviews and credential fetches go to Options::offload,
// which may refuse when full (503 at once).
//
//   containercreds::ContainerCredentialsHandler handler(reviews, pods, roles, credentials, clock,
//                                                       metrics, {.node_name = node, ...});
//   server.SetHandler(handler);
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

#include "podiam/base/clock.hpp"
#include "podiam/base/log.hpp"
#include "podiam/containercreds/metrics.hpp"
#include "podiam/containercreds/ports.hpp"
#include "podiam/containercreds/request.hpp"
#include "podiam/containercreds/review_cache.hpp"
#include "podiam/http/handler.hpp"

namespace podiam::containercreds {

struct HandlerOptions {
  std::string node_name;
  // Accepted Host header names (lower case, IPv6 without brackets).
  std::vector<std::string> hosts = {"169.254.170.23", "fd00:ec2::23"};
  // --container-credentials-host-network: a hostNetwork pod's token is accepted from an address
  // of this node (it has no IP of its own), as `is_node_address` says; from anywhere else it is
  // refused like a replayed token. Off: such tokens are refused.
  bool allow_host_network = false;
  std::function<bool(std::string_view)> is_node_address;
  // Per source address (a pod's IP): sustained requests per second and burst. 0: unlimited.
  double pod_qps = 50;
  double pod_burst = 100;
  // How long a request may wait for a TokenReview or credentials (botocore: 2 s timeout).
  std::chrono::milliseconds wait{1500};
  ReviewCacheOptions review_cache;
  // Runs blocking work off the I/O threads, keyed by source address; false when full.
  // Unset: inline (unit tests).
  std::function<bool(std::string_view source, std::function<void()>)> offload;
  // A refusal concerning a known pod (reason is the metric label): the agent records an Event.
  std::function<void(const PodInfo& pod, std::string_view reason, std::string_view message)>
      on_refusal;
};

class ContainerCredentialsHandler final : public http::Handler {
 public:
  ContainerCredentialsHandler(TokenAuthenticator& reviews, PodResolver& pods, RoleResolver& roles,
                              CredentialSource& credentials, const Clock& clock,
                              ContainerMetrics& metrics, HandlerOptions options);
  ContainerCredentialsHandler(const ContainerCredentialsHandler&) = delete;
  ContainerCredentialsHandler& operator=(const ContainerCredentialsHandler&) = delete;
  ~ContainerCredentialsHandler() override;

  void Handle(http::Request request, http::ResponseCallback done) override;

  // The pod was deleted or replaced: its cached reviews go (the agent calls this from the pod
  // watch).
  void ForgetPod(std::string_view pod_uid);

  ReviewCache& review_cache() { return cache_; }

 private:
  struct Context;
  struct Refused {
    Refusal refusal;
    std::string reason;
    std::string message;
    std::shared_ptr<const PodInfo> pod;
  };
  using Step = std::variant<http::Response, Refused>;

  // nullopt: needs blocking work; call again with may_block from a worker.
  std::optional<Step> Answer(Context& ctx, bool may_block);
  // Sets ctx.identity, or says why not; *block: a review is needed and !may_block.
  std::optional<Refused> Authenticate(Context& ctx, bool may_block, bool* block);
  std::variant<std::shared_ptr<const PodInfo>, Refused> CheckPod(const Context& ctx);
  static std::string Body(const RoleChoice& role, const aws::Credentials& creds);
  // The cached path: the body built once per credentials object and account (Bodies).
  http::Response Serve(const RoleChoice& role,
                       const std::shared_ptr<const aws::Credentials>& creds);
  void Finish(const Context& ctx, Step step, const http::ResponseCallback& done);
  bool TakeRateToken(const std::string& source);

  TokenAuthenticator& reviews_;
  PodResolver& pods_;
  RoleResolver& roles_;
  CredentialSource& credentials_;
  const Clock& clock_;
  ContainerMetrics& metrics_;
  HandlerOptions options_;
  ReviewCache cache_;
  log::Logger log_{"container-credentials"};

  struct Bucket {
    double tokens = 0;
    SteadyTime last{};
  };
  // 200 bodies by the address of the broker's credentials object: valid while `creds` still
  // owns that object (a live object has a unique address); dead ones go at the next insertion.
  struct CachedBody {
    std::weak_ptr<const aws::Credentials> creds;
    std::string account;
    std::string json;
  };
  std::mutex bodies_mu_;
  std::unordered_map<const aws::Credentials*, CachedBody> bodies_;

  std::mutex rate_mu_;
  std::unordered_map<std::string, Bucket> buckets_;  // by source address
};

}  // namespace podiam::containercreds
