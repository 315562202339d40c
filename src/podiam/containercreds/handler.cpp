#include "podiam/containercreds/handler.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "podiam/aws/credentials.hpp"
#include "podiam/http/json_string.hpp"

namespace podiam::containercreds {
namespace {

constexpr std::string_view kPath = "/v1/credentials";
constexpr std::size_t kMaxTokenBytes = std::size_t{16} * 1024;
constexpr std::size_t kMaxBuckets = 16384;
// A token whose nbf lies further ahead than this is not yet valid.
constexpr std::int64_t kClockSkewSeconds = 60;

std::string_view OutcomeReason(identity::Outcome outcome) {
  switch (outcome) {
    case identity::Outcome::kNoRole:
      return "no_role";
    case identity::Outcome::kDenied:
      return "denied";
    case identity::Outcome::kInvalid:
      return "invalid_role";
    case identity::Outcome::kPending:
      return "pending";
    case identity::Outcome::kAllowed:
      break;
  }
  return "allowed";
}

}  // namespace

struct ContainerCredentialsHandler::Context {
  http::Request request;
  SteadyTime started;
  std::string_view token;  // into request.headers
  JwtTimes times;
  std::optional<CachedReview> cached;  // the review cache's answer when the request arrived
  std::shared_ptr<const TokenIdentity> identity;
  std::shared_ptr<const PodInfo> pod;
  std::shared_ptr<const RoleChoice> role;
};

ContainerCredentialsHandler::ContainerCredentialsHandler(TokenAuthenticator& reviews,
                                                         PodResolver& pods, RoleResolver& roles,
                                                         CredentialSource& credentials,
                                                         const Clock& clock,
                                                         ContainerMetrics& metrics,
                                                         HandlerOptions options)
    : reviews_(reviews),
      pods_(pods),
      roles_(roles),
      credentials_(credentials),
      clock_(clock),
      metrics_(metrics),
      options_(std::move(options)),
      cache_(clock, options_.review_cache) {}

ContainerCredentialsHandler::~ContainerCredentialsHandler() = default;

void ContainerCredentialsHandler::ForgetPod(std::string_view pod_uid) {
  if (auto n = cache_.InvalidatePod(pod_uid); n > 0) {
    metrics_.review_invalidations.Inc(static_cast<double>(n));
  }
}

bool ContainerCredentialsHandler::TakeRateToken(const std::string& source) {
  if (options_.pod_qps <= 0) {
    return true;
  }
  auto now = clock_.SteadyNow();
  std::lock_guard lock(rate_mu_);
  if (buckets_.size() >= kMaxBuckets && !buckets_.contains(source)) {
    // Forget the buckets that are full again: forgetting them changes nothing.
    std::erase_if(buckets_, [&](const auto& item) {
      double elapsed = std::chrono::duration<double>(now - item.second.last).count();
      return item.second.tokens + elapsed * options_.pod_qps >= options_.pod_burst;
    });
    if (buckets_.size() >= kMaxBuckets) {
      buckets_.clear();
    }
  }
  auto [it, added] = buckets_.try_emplace(source, Bucket{options_.pod_burst, now});
  Bucket& b = it->second;
  double elapsed = std::chrono::duration<double>(now - b.last).count();
  b.tokens = std::min(options_.pod_burst, b.tokens + elapsed * options_.pod_qps);
  b.last = now;
  if (b.tokens < 1) {
    return false;
  }
  b.tokens -= 1;
  return true;
}

void ContainerCredentialsHandler::Handle(http::Request request, http::ResponseCallback done) {
  auto ctx = std::make_shared<Context>();
  ctx->started = clock_.SteadyNow();
  ctx->request = std::move(request);
  const http::Request& r = ctx->request;

  auto refuse = [&](Refusal refusal, std::string_view reason, std::string message) {
    Finish(*ctx, Refused{refusal, std::string(reason), std::move(message), nullptr}, done);
  };
  if (r.Path() != kPath) {
    return refuse(Refusal::kNotFound, "path", "not found: the only path is /v1/credentials");
  }
  if (r.method != "GET") {
    return refuse(Refusal::kMethod, "method", "method not allowed");
  }
  auto host = HostName(r.headers.Get("Host").value_or(""));
  if (!host ||
      std::find(options_.hosts.begin(), options_.hosts.end(), *host) == options_.hosts.end()) {
    return refuse(Refusal::kForbidden, "host",
                  "Access Denied. Called agent through an invalid address (Host header)");
  }
  auto token = r.headers.Get("Authorization");
  if (!token || token->empty()) {
    return refuse(Refusal::kBadRequest, "no_token",
                  "no Authorization header: send the pod's ServiceAccount token");
  }
  if (token->size() > kMaxTokenBytes) {
    return refuse(Refusal::kBadRequest, "malformed_token", "the token is too long");
  }
  ctx->token = *token;
  // A token the cache knows was parsed when its review was stored: its claims come from there
  // (the same bytes, review_cache.hpp), and only an unknown token is decoded here.
  ctx->cached = cache_.Get(ctx->token);
  if (ctx->cached) {
    ctx->times = ctx->cached->times;
  } else {
    auto times = ParseJwtTimes(ctx->token);
    if (!times) {
      return refuse(Refusal::kBadRequest, "malformed_token", times.error().message());
    }
    ctx->times = *times;
  }
  std::int64_t now =
      std::chrono::duration_cast<std::chrono::seconds>(clock_.Now().time_since_epoch()).count();
  if (ctx->times.exp <= now) {
    return refuse(Refusal::kUnauthenticated, "expired_token", "the token has expired");
  }
  if (ctx->times.nbf && *ctx->times.nbf > now + kClockSkewSeconds) {
    return refuse(Refusal::kUnauthenticated, "expired_token", "the token is not valid yet");
  }
  if (!pods_.Ready()) {
    return refuse(Refusal::kUnavailable, "not_ready",
                  "the agent is still listing pods and associations; retry");
  }
  if (!TakeRateToken(r.peer.address)) {
    return refuse(Refusal::kRateLimited, "rate_limited", "too many requests from this pod; retry");
  }

  if (auto step = Answer(*ctx, false)) {
    return Finish(*ctx, std::move(*step), done);
  }
  std::string source = r.peer.address;
  auto work = [this, ctx, done]() {
    auto step = Answer(*ctx, true);
    Finish(*ctx, std::move(*step), done);
  };
  if (!options_.offload) {
    return work();
  }
  if (!options_.offload(source, std::move(work))) {
    Finish(*ctx,
           Refused{Refusal::kUnavailable, "busy", "too many requests are queued; retry", nullptr},
           done);
  }
}

std::optional<ContainerCredentialsHandler::Refused> ContainerCredentialsHandler::Authenticate(
    Context& ctx, bool may_block, bool* block) {
  *block = false;
  if (ctx.identity) {
    return std::nullopt;  // done already (first pass)
  }
  // First pass: the look-up Handle() made; on a worker, again (another request may have stored
  // the review meanwhile).
  std::optional<CachedReview> hit = std::move(ctx.cached);
  ctx.cached.reset();
  if (!hit && may_block) {
    hit = cache_.Get(ctx.token);
  }
  if (hit) {
    if (!hit->identity) {
      metrics_.review_negative_hits.Inc();
      return Refused{Refusal::kUnauthenticated, "unauthenticated", std::move(hit->error), nullptr};
    }
    metrics_.review_hits.Inc();
    ctx.identity = std::move(hit->identity);
    return std::nullopt;
  }
  if (!may_block) {
    *block = true;
    return std::nullopt;
  }
  metrics_.review_misses.Inc();
  auto reviewed = reviews_.Review(ctx.token);
  if (!reviewed) {
    const Error& e = reviewed.error();
    if (e.code() == ErrorCode::kUnauthenticated) {
      metrics_.token_reviews.WithLabels({"unauthenticated"}).Inc();
      std::string message = "the apiserver did not authenticate the token: " + e.message();
      cache_.PutNegative(ctx.token, message, ctx.times);
      return Refused{Refusal::kUnauthenticated, "unauthenticated", std::move(message), nullptr};
    }
    metrics_.token_reviews.WithLabels({"error"}).Inc();
    log_.Warn("TokenReview failed", {{"error", e.ToString()}});
    return Refused{Refusal::kUnavailable, "review_unavailable",
                   "the apiserver could not review the token; retry", nullptr};
  }
  metrics_.token_reviews.WithLabels({"authenticated"}).Inc();
  auto identity = std::make_shared<const TokenIdentity>(std::move(*reviewed));
  cache_.PutPositive(ctx.token, identity, ctx.times);
  ctx.identity = std::move(identity);
  return std::nullopt;
}

std::variant<std::shared_ptr<const PodInfo>, ContainerCredentialsHandler::Refused>
ContainerCredentialsHandler::CheckPod(const Context& ctx) {
  const TokenIdentity& id = *ctx.identity;
  if (id.pod_name.empty() || id.pod_uid.empty()) {
    return Refused{Refusal::kUnauthenticated, "not_pod_bound",
                   "the token is not bound to a pod (use a projected ServiceAccount token)",
                   nullptr};
  }
  if (!id.node_name.empty() && id.node_name != options_.node_name) {
    return Refused{
        Refusal::kForbidden, "other_node",
        fmt::format("pod {}/{} is not on this node", id.service_account_namespace, id.pod_name),
        nullptr};
  }
  auto pod = pods_.Find(id.service_account_namespace, id.pod_name);
  if (!pod) {
    return Refused{Refusal::kForbidden, "unknown_pod",
                   fmt::format("pod {}/{} is not running on this node",
                               id.service_account_namespace, id.pod_name),
                   nullptr};
  }
  if (pod->uid != id.pod_uid) {
    return Refused{Refusal::kForbidden, "pod_replaced",
                   "the token belongs to an earlier pod of that name", pod};
  }
  if (pod->node_name != options_.node_name) {
    return Refused{Refusal::kForbidden, "other_node", "the pod is not on this node", pod};
  }
  if (pod->service_account != id.service_account_name) {
    return Refused{Refusal::kForbidden, "pod_replaced",
                   "the token's ServiceAccount is not the pod's", pod};
  }
  if (pod->finished) {
    return Refused{Refusal::kForbidden, "pod_finished", "the pod has finished", pod};
  }
  const std::string& source = ctx.request.peer.address;
  if (pod->host_network) {
    if (!options_.allow_host_network) {
      return Refused{
          Refusal::kForbidden, "host_network",
          "tokens of hostNetwork pods are refused (--container-credentials-host-network)", pod};
    }
    if (!options_.is_node_address || !options_.is_node_address(source)) {
      return Refused{Refusal::kForbidden, "source_ip",
                     fmt::format("a hostNetwork pod's token is accepted only from this node's own "
                                 "addresses, not from {}",
                                 source),
                     pod};
    }
  } else if (std::find(pod->ips.begin(), pod->ips.end(), source) == pod->ips.end()) {
    return Refused{Refusal::kForbidden, "source_ip",
                   fmt::format("the request did not come from the pod's own address ({})", source),
                   pod};
  }
  return pod;
}

std::optional<ContainerCredentialsHandler::Step> ContainerCredentialsHandler::Answer(
    Context& ctx, bool may_block) {
  bool block = false;
  if (auto refused = Authenticate(ctx, may_block, &block)) {
    return *refused;
  }
  if (block) {
    return std::nullopt;
  }
  if (!ctx.pod) {
    auto checked = CheckPod(ctx);
    if (auto* refused = std::get_if<Refused>(&checked)) {
      return *refused;
    }
    ctx.pod = std::get<std::shared_ptr<const PodInfo>>(checked);
    ctx.role = roles_.Resolve(*ctx.pod);
  }
  const RoleChoice& role = *ctx.role;
  switch (role.outcome) {
    case identity::Outcome::kAllowed:
      break;
    case identity::Outcome::kNoRole:
      return Refused{Refusal::kNoRole, "no_role",
                     fmt::format("no role for ServiceAccount {}/{}: no PodIdentityAssociation{}",
                                 ctx.pod->namespace_name, ctx.pod->service_account, role.reason),
                     ctx.pod};
    case identity::Outcome::kDenied:
    case identity::Outcome::kInvalid:
      return Refused{Refusal::kForbidden, std::string(OutcomeReason(role.outcome)), role.reason,
                     ctx.pod};
    case identity::Outcome::kPending:
      return Refused{Refusal::kUnavailable, "pending", role.reason, ctx.pod};
  }
  if (auto cached = credentials_.Cached(*role.spec)) {
    return Serve(role, cached);
  }
  if (!may_block) {
    return std::nullopt;
  }
  auto fetched = credentials_.Fetch(*role.spec, ctx.started + options_.wait);
  if (!fetched) {
    log_.Warn("credentials unavailable", {{"namespace", ctx.pod->namespace_name},
                                          {"pod", ctx.pod->name},
                                          {"role", role.spec->key.role_arn},
                                          {"error", fetched.error().ToString()}});
    return Refused{Refusal::kUnavailable, "credentials_unavailable",
                   "credentials are not available: " + fetched.error().message(), ctx.pod};
  }
  return http::Response::Json(200, Body(role, *fetched));
}

http::Response ContainerCredentialsHandler::Serve(
    const RoleChoice& role, const std::shared_ptr<const aws::Credentials>& creds) {
  {
    std::lock_guard lock(bodies_mu_);
    auto it = bodies_.find(creds.get());
    if (it != bodies_.end() && it->second.creds.lock() == creds &&
        it->second.account == role.account) {
      return http::Response::Json(200, it->second.json);
    }
  }
  std::string body = Body(role, *creds);
  std::lock_guard lock(bodies_mu_);
  std::erase_if(bodies_, [](const auto& item) { return item.second.creds.expired(); });
  bodies_.insert_or_assign(creds.get(),
                           CachedBody{.creds = creds, .account = role.account, .json = body});
  return http::Response::Json(200, std::move(body));
}

std::string ContainerCredentialsHandler::Body(const RoleChoice& role,
                                              const aws::Credentials& creds) {
  std::string body;
  body.reserve(160 + creds.access_key_id.size() + creds.secret_access_key.size() +
               creds.session_token.size());
  body += R"({"AccessKeyId":)";
  http::AppendJsonString(body, creds.access_key_id);
  body += R"(,"SecretAccessKey":)";
  http::AppendJsonString(body, creds.secret_access_key);
  body += R"(,"Token":)";
  http::AppendJsonString(body, creds.session_token);
  body += R"(,"AccountId":)";
  http::AppendJsonString(body, role.account);
  body += R"(,"Expiration":)";
  http::AppendJsonString(
      body, creds.expiration ? aws::FormatTimestamp(*creds.expiration) : std::string());
  body += '}';
  return body;
}

void ContainerCredentialsHandler::Finish(const Context& ctx, Step step,
                                         const http::ResponseCallback& done) {
  http::Response response;
  if (auto* refused = std::get_if<Refused>(&step)) {
    metrics_.refusals.WithLabels({refused->reason}).Inc();
    const PodInfo* pod = refused->pod ? refused->pod.get() : ctx.pod.get();
    if (pod != nullptr) {
      log_.Info("container credentials refused", {{"namespace", pod->namespace_name},
                                                  {"pod", pod->name},
                                                  {"source", ctx.request.peer.address},
                                                  {"reason", refused->reason},
                                                  {"message", refused->message}});
      if (options_.on_refusal && refused->refusal != Refusal::kRateLimited &&
          refused->refusal != Refusal::kUnavailable) {
        options_.on_refusal(*pod, refused->reason, refused->message);
      }
    } else {
      log_.Info("container credentials refused", {{"source", ctx.request.peer.address},
                                                  {"reason", refused->reason},
                                                  {"message", refused->message}});
    }
    response = RefusalResponse(refused->refusal, refused->message);
  } else {
    response = std::move(std::get<http::Response>(step));
  }
  (response.status == 200 ? metrics_.requests_ok
                          : metrics_.requests.WithLabels({std::to_string(response.status)}))
      .Inc();
  metrics_.duration.Observe(
      std::chrono::duration<double>(clock_.SteadyNow() - ctx.started).count());
  done(std::move(response));
}

}  // namespace podiam::containercreds
