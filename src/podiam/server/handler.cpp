#include "podiam/server/handler.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "podiam/containercreds/request.hpp"

namespace podiam::server {
namespace {

// A token whose nbf lies further ahead than this is not yet valid.
constexpr std::int64_t kClockSkewSeconds = 60;

}  // namespace

struct CredentialsHandler::Context {
  http::Request request;
  SteadyTime started;
  std::string token;
  containercreds::JwtTimes times;
  std::shared_ptr<const TokenIdentity> identity;
  std::optional<Result<CredentialsRequest>> body;
  std::shared_ptr<const ServerPod> pod;
};

CredentialsHandler::CredentialsHandler(TokenReviewer& reviews, PodLookup& pods,
                                       CredentialSource& credentials, const Clock& clock,
                                       ServerMetrics& metrics, HandlerOptions options)
    : reviews_(reviews),
      pods_(pods),
      credentials_(credentials),
      clock_(clock),
      metrics_(metrics),
      options_(std::move(options)),
      cache_(clock, options_.review_cache) {}

CredentialsHandler::~CredentialsHandler() = default;

void CredentialsHandler::Handle(http::Request request, http::ResponseCallback done) {
  auto ctx = std::make_shared<Context>();
  ctx->started = clock_.SteadyNow();
  ctx->request = std::move(request);
  const http::Request& r = ctx->request;
  auto refuse = [&](Refusal refusal, std::string_view reason, std::string message) {
    Finish(*ctx, Refused{refusal, std::string(reason), std::move(message), {}}, done);
  };
  if (r.Path() != kCredentialsPath) {
    return refuse(Refusal::kNotFound, "path", "not found: the only path is POST /v1/credentials");
  }
  if (r.method != "POST") {
    return refuse(Refusal::kMethodNotAllowed, "method", "method not allowed: use POST");
  }
  auto token = BearerToken(r.headers.Get("Authorization").value_or(""));
  if (!token) {
    return refuse(Refusal::kUnauthorized, "no_token",
                  "no Authorization: Bearer token: send the agent's ServiceAccount token");
  }
  auto times = containercreds::ParseJwtTimes(*token);
  if (!times) {
    return refuse(Refusal::kUnauthorized, "malformed_token",
                  "the bearer token is not a JWT: " + times.error().message());
  }
  std::int64_t now =
      std::chrono::duration_cast<std::chrono::seconds>(clock_.Now().time_since_epoch()).count();
  if (times->exp <= now || (times->nbf && *times->nbf > now + kClockSkewSeconds)) {
    return refuse(Refusal::kUnauthorized, "expired_token",
                  "the bearer token has expired or is not valid yet");
  }
  ctx->token = std::string(*token);
  ctx->times = *times;

  if (auto step = Answer(*ctx, false)) {
    return Finish(*ctx, std::move(*step), done);
  }
  auto work = [this, ctx, done]() {
    auto step = Answer(*ctx, true);
    Finish(*ctx, std::move(*step), done);
  };
  if (!options_.offload) {
    return work();
  }
  if (!options_.offload(ctx->request.peer.address, std::move(work))) {
    refuse(Refusal::kUnavailable, "busy", "too many requests are queued; retry");
  }
}

std::optional<CredentialsHandler::Refused> CredentialsHandler::Authenticate(Context& ctx,
                                                                            bool may_block,
                                                                            bool* block) {
  *block = false;
  if (ctx.identity) {
    return std::nullopt;
  }
  if (auto hit = cache_.Get(ctx.token)) {
    if (!hit->identity) {
      metrics_.review_cache.WithLabels({"negative_hit"}).Inc();
      return Refused{Refusal::kUnauthorized, "unauthenticated", hit->error, {}};
    }
    metrics_.review_cache.WithLabels({"hit"}).Inc();
    ctx.identity = hit->identity;
    return std::nullopt;
  }
  if (!may_block) {
    *block = true;
    return std::nullopt;
  }
  metrics_.review_cache.WithLabels({"miss"}).Inc();
  auto reviewed = reviews_.Review(ctx.token);
  if (!reviewed) {
    const Error& e = reviewed.error();
    if (e.code() == ErrorCode::kUnauthenticated) {
      metrics_.token_reviews.WithLabels({"unauthenticated"}).Inc();
      std::string message = "the apiserver did not authenticate the token: " + e.message();
      cache_.PutNegative(ctx.token, message, ctx.times);
      return Refused{Refusal::kUnauthorized, "unauthenticated", std::move(message), {}};
    }
    metrics_.token_reviews.WithLabels({"error"}).Inc();
    log_.Warn("TokenReview failed", {{"error", e.ToString()}});
    return Refused{Refusal::kUnavailable,
                   "review_unavailable",
                   "the apiserver could not review the token; retry",
                   {}};
  }
  metrics_.token_reviews.WithLabels({"authenticated"}).Inc();
  auto identity = std::make_shared<const TokenIdentity>(std::move(*reviewed));
  cache_.PutPositive(ctx.token, identity, ctx.times);
  ctx.identity = std::move(identity);
  return std::nullopt;
}

std::optional<CredentialsHandler::Refused> CredentialsHandler::CheckAgent(
    const Context& ctx) const {
  const TokenIdentity& who = *ctx.identity;
  if (std::find(options_.agent_usernames.begin(), options_.agent_usernames.end(), who.username) ==
      options_.agent_usernames.end()) {
    return Refused{
        Refusal::kNotAnAgent,
        "not_an_agent",
        fmt::format("{} is not an allowed agent ServiceAccount (--agent-service-account)",
                    who.username),
        {}};
  }
  if (who.node_name.empty() && !options_.allow_unbound_agents) {
    return Refused{Refusal::kNoNodeBinding,
                   "no_node_binding",
                   "the token is not bound to a node: mount a projected ServiceAccount token "
                   "(Kubernetes >= 1.30 names the node in its review)",
                   {}};
  }
  return std::nullopt;
}

std::optional<CredentialsHandler::Step> CredentialsHandler::Answer(Context& ctx, bool may_block) {
  bool block = false;
  if (auto refused = Authenticate(ctx, may_block, &block)) {
    return *refused;
  }
  if (block) {
    return std::nullopt;
  }
  if (auto refused = CheckAgent(ctx)) {
    return *refused;
  }
  if (!ctx.body) {
    ctx.body = ParseRequest(ctx.request.body);
  }
  if (!*ctx.body) {
    return Refused{Refusal::kBadRequest, "bad_request", (*ctx.body).error().message(), {}};
  }
  if (!pods_.Ready()) {
    return Refused{Refusal::kUnavailable,
                   "not_ready",
                   "the server is still listing pods, namespaces and ServiceAccounts; retry",
                   {}};
  }
  return Decide(ctx, may_block);
}

std::optional<CredentialsHandler::Step> CredentialsHandler::Decide(const Context& ctx,
                                                                   bool may_block) {
  const CredentialsRequest& want = **ctx.body;
  auto& mutable_ctx = const_cast<Context&>(ctx);  // NOLINT(cppcoreguidelines-pro-type-const-cast)
  if (!ctx.pod) {
    mutable_ctx.pod = pods_.Find(want.namespace_name, want.name, want.uid);
  }
  if (!ctx.pod) {
    if (!may_block) {
      return std::nullopt;
    }
    auto read = pods_.Read(want.namespace_name, want.name, want.uid);
    if (!read) {
      return Refused{Refusal::kUnavailable,
                     "lookup_unavailable",
                     "the pod is not known yet and the apiserver could not be asked; retry",
                     {}};
    }
    if (!*read) {
      return Refused{
          Refusal::kPodNotFound,
          "pod_not_found",
          fmt::format("no pod {}/{} with uid {}", want.namespace_name, want.name, want.uid),
          {}};
    }
    mutable_ctx.pod = std::move(*read);
  }
  const ServerPod& pod = *ctx.pod;
  const std::string& node = ctx.identity->node_name;
  if (!node.empty() && pod.node_name != node) {
    return Refused{Refusal::kPodNotOnNode,
                   "pod_not_on_node",
                   fmt::format("pod {}/{} is not on node {} (it is on '{}')", pod.namespace_name,
                               pod.name, node, pod.node_name),
                   {}};
  }
  if (!pod.decided) {
    return Refused{Refusal::kNoRole,
                   "no_credentials",
                   "the pod is finished or uses the host network: podiam serves it no role",
                   {}};
  }
  const identity::Decision& d = pod.decision;
  switch (d.outcome) {
    case identity::Outcome::kDenied:
    case identity::Outcome::kInvalid:
      return Refused{Refusal::kRoleDenied, "role_denied", d.reason, {}};
    case identity::Outcome::kNoRole:
      return Refused{Refusal::kNoRole, "no_role", d.reason, {}};
    case identity::Outcome::kPending:
      return Refused{Refusal::kUnavailable, "pending", d.reason, {}};
    case identity::Outcome::kAllowed:
      break;
  }
  std::string role = d.role ? d.role->ToString() : std::string();
  if (!pod.spec || role != want.role_arn) {
    return Refused{Refusal::kRoleMismatch,
                   "role_mismatch",
                   fmt::format("the server decided role {} for this pod, not {}; retry later", role,
                               want.role_arn),
                   {}};
  }
  if (auto cached = credentials_.Cached(*pod.spec)) {
    return CredentialsResponse(*pod.spec, *cached);
  }
  if (!may_block) {
    return std::nullopt;
  }
  auto fetched = credentials_.Fetch(*pod.spec, ctx.started + options_.wait);
  if (!fetched) {
    const Error& e = fetched.error();
    log_.Warn("credentials unavailable", {{"namespace", pod.namespace_name},
                                          {"pod", pod.name},
                                          {"role", role},
                                          {"error", e.ToString()}});
    bool final = !e.retryable() && !e.upstream_code().empty();
    return Refused{final ? Refusal::kCredentialsDenied : Refusal::kCredentialsUnavailable,
                   final ? "credentials_denied" : "credentials_unavailable",
                   "credentials are not available: " + e.message(), e.upstream_code()};
  }
  return CredentialsResponse(*pod.spec, *fetched);
}

void CredentialsHandler::Finish(const Context& ctx, Step step, const http::ResponseCallback& done) {
  http::Response response;
  if (auto* refused = std::get_if<Refused>(&step)) {
    metrics_.refusals.WithLabels({refused->reason}).Inc();
    std::string agent = ctx.identity ? ctx.identity->username : std::string();
    std::string node = ctx.identity ? ctx.identity->node_name : std::string();
    std::string pod = ctx.pod ? ctx.pod->namespace_name + "/" + ctx.pod->name : std::string();
    if (refused->refusal == Refusal::kPodNotOnNode) {
      log_.Warn("agent asked for a pod on another node", {{"source", ctx.request.peer.address},
                                                          {"agent", agent},
                                                          {"agent_node", node},
                                                          {"pod", pod},
                                                          {"message", refused->message}});
      if (options_.on_refusal) {
        options_.on_refusal(RefusalNotice{.reason = refused->reason,
                                          .message = refused->message,
                                          .agent = agent,
                                          .agent_node = node,
                                          .pod = ctx.pod});
      }
    } else {
      log_.Info("agent request refused", {{"source", ctx.request.peer.address},
                                          {"agent", agent},
                                          {"agent_node", node},
                                          {"pod", pod},
                                          {"reason", refused->reason},
                                          {"message", refused->message}});
    }
    response = RefusalResponse(refused->refusal, refused->message, refused->upstream_code);
  } else {
    response = std::move(std::get<http::Response>(step));
  }
  metrics_.requests.WithLabels({std::to_string(response.status)}).Inc();
  metrics_.duration.Observe(
      std::chrono::duration<double>(clock_.SteadyNow() - ctx.started).count());
  done(std::move(response));
}

}  // namespace podiam::server
