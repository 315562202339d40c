#include "podiam/metadata/imds_handler.hpp"

#include <fmt/format.h>
#include <re2/re2.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "podiam/aws/arn.hpp"
#include "podiam/aws/sigv4.hpp"
#include "podiam/http/json_string.hpp"
#include "podiam/metadata/imds_path.hpp"

namespace podiam::metadata {
namespace {

constexpr std::string_view kTokenHeader = "X-aws-ec2-metadata-token";
constexpr std::string_view kTtlHeader = "X-aws-ec2-metadata-token-ttl-seconds";

// Error messages come from STS and are not always valid UTF-8: replace bad bytes, never throw.
std::string Json(std::string_view value) {
  return nlohmann::json(value).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

http::Response Plain(int status, std::string body) {
  http::Response r = http::Response::Text(status, std::move(body));
  return r;
}

tl::unexpected<ImdsError> Refuse(ImdsErrorKind kind, std::string message = {}) {
  return tl::unexpected(ImdsError{.kind = kind, .message = std::move(message)});
}

}  // namespace

std::string_view RouteName(Route route) {
  switch (route) {
    case Route::kToken:
      return "token";
    case Route::kRoleList:
      return "role_list";
    case Route::kCredentials:
      return "credentials";
    case Route::kCredentialsExtended:
      return "credentials_extended";
    case Route::kIamInfo:
      return "iam_info";
    case Route::kIam:
      return "iam";
    case Route::kOther:
      return "other";
  }
  return "other";
}

Route ImdsHandler::Classify(std::string_view path, std::string* role_name) {
  return ClassifyImdsPath(path, role_name);
}

ImdsHandler::ImdsHandler(CallerDirectory& directory, CredentialSource& credentials,
                         const ImdsTokenIssuer& tokens, const Clock& clock, ImdsMetrics& metrics,
                         ImdsOptions options, MetadataUpstream* upstream,
                         std::unique_ptr<re2::RE2> allow)
    : directory_(directory),
      credentials_(credentials),
      tokens_(tokens),
      clock_(clock),
      metrics_(metrics),
      options_(std::move(options)),
      upstream_(upstream),
      allow_(std::move(allow)) {}

ImdsHandler::~ImdsHandler() = default;

Result<std::shared_ptr<ImdsHandler>> ImdsHandler::Create(
    CallerDirectory& directory, CredentialSource& credentials, const ImdsTokenIssuer& tokens,
    const Clock& clock, ImdsMetrics& metrics, ImdsOptions options, MetadataUpstream* upstream) {
  std::unique_ptr<re2::RE2> allow;
  if (!options.allow_path.empty()) {
    re2::RE2::Options re_options;
    re_options.set_log_errors(false);
    allow = std::make_unique<re2::RE2>(fmt::format("^(?:{})$", options.allow_path), re_options);
    if (!allow->ok()) {
      return MakeError(ErrorCode::kInvalidArgument,
                       fmt::format("--allow-metadata-path is not a valid regular expression: {}",
                                   allow->error()));
    }
  }
  return std::shared_ptr<ImdsHandler>(new ImdsHandler(directory, credentials, tokens, clock,
                                                      metrics, std::move(options), upstream,
                                                      std::move(allow)));
}

void ImdsHandler::Finish(Route route, SteadyTime started, Reply reply,
                         const http::ResponseCallback& done) {
  if (!reply) {
    metrics_.rejections.WithLabels({ImdsErrorReason(reply.error().kind)}).Inc();
    reply = ImdsErrorResponse(reply.error());
  }
  http::Response response = std::move(*reply);
  auto elapsed = std::chrono::duration<double>(clock_.SteadyNow() - started).count();
  auto route_name = RouteName(route);
  metrics_.requests.WithLabels({route_name, std::to_string(response.status)}).Inc();
  metrics_.duration.WithLabels({route_name}).Observe(elapsed);
  done(std::move(response));
}

bool ImdsHandler::IsHealthPath(std::string_view path) {
  return path == "/healthz" || path == "/ping";
}

void ImdsHandler::Handle(http::Request request, http::ResponseCallback done) {
  SteadyTime started = clock_.SteadyNow();
  std::string role_in_path;
  Route route = Classify(request.Path(), &role_in_path);
  bool is_get = request.method == "GET" || request.method == "HEAD";

  // The node's own liveness probes (kube2iam's chart probes /healthz, kiam's /ping, on this port).
  if (is_get && IsHealthPath(request.Path()) && directory_.IsNodeAddress(request.peer.address)) {
    return Finish(route, started, Plain(200, request.Path() == "/ping" ? "pong" : "ok"), done);
  }
  // Checks that need no caller.
  if (request.headers.Has("X-Forwarded-For")) {
    return Finish(route, started, Refuse(ImdsErrorKind::kForwarded), done);
  }
  if (route == Route::kToken && request.method != "PUT") {
    return Finish(route, started, Refuse(ImdsErrorKind::kMethodToken), done);
  }
  if (route != Route::kToken && !is_get) {
    return Finish(route, started, Refuse(ImdsErrorKind::kMethod), done);
  }
  if (!directory_.Ready()) {
    return Finish(route, started, Refuse(ImdsErrorKind::kNotReady), done);
  }

  if (auto caller = directory_.Find(request.peer.address)) {
    return Respond(std::move(request), route, std::move(role_in_path), std::move(caller), started,
                   done);
  }
  std::string ip = request.peer.address;
  directory_.Await(
      ip, started + options_.pod_wait,
      [this, request = std::move(request), route, role_in_path = std::move(role_in_path), started,
       done = std::move(done)](AwaitResult found) mutable {
        if (found.overloaded) {
          return Finish(route, started, Refuse(ImdsErrorKind::kBusyWaiting), done);
        }
        if (!found.caller) {
          log_.Debug("no pod known at this address", {{"ip", request.peer.address}});
          return Finish(
              route, started,
              Refuse(ImdsErrorKind::kUnknownPod,
                     fmt::format("no pod with IP {} is known on this node", request.peer.address)),
              done);
        }
        Respond(std::move(request), route, std::move(role_in_path), std::move(found.caller),
                started, done);
      });
}

void ImdsHandler::Respond(http::Request request, Route route, std::string role_in_path,
                          std::shared_ptr<const Caller> caller, SteadyTime started,
                          const http::ResponseCallback& done) {
  if (route == Route::kToken) {
    return Finish(route, started, IssueToken(request, *caller), done);
  }
  // The token is checked here, once: the blocking answer below is the same request.
  if (auto refused = CheckToken(request, *caller)) {
    return Finish(route, started, tl::unexpected(std::move(*refused)), done);
  }
  if (auto answer = Answer(request, route, role_in_path, *caller, false, started)) {
    return Finish(route, started, std::move(*answer), done);
  }
  std::string source = request.peer.address;
  auto work = [this, request = std::move(request), route, role_in_path = std::move(role_in_path),
               caller = std::move(caller), started, done]() {
    auto answer = Answer(request, route, role_in_path, *caller, true, started);
    Finish(route, started, std::move(*answer), done);
  };
  if (!options_.offload) {
    return work();
  }
  if (!options_.offload(source, std::move(work))) {
    Finish(route, started, Refuse(ImdsErrorKind::kBusyQueued), done);
  }
}

ImdsHandler::Reply ImdsHandler::IssueToken(const http::Request& request, const Caller& caller) {
  auto ttl = ParseTokenTtl(request.headers.Get(kTtlHeader).value_or(""));
  if (!ttl) {
    return Refuse(ImdsErrorKind::kBadTtl, ttl.error().message());
  }
  metrics_.tokens_issued.Inc();
  http::Response r =
      Plain(200, tokens_.Issue(caller.pod_uid, caller.ip, std::chrono::seconds(*ttl)));
  r.headers.Set(kTtlHeader, std::to_string(*ttl));
  return r;
}

std::optional<ImdsError> ImdsHandler::CheckToken(const http::Request& request,
                                                 const Caller& caller) const {
  if (auto token = request.headers.Get(kTokenHeader)) {
    if (auto ok = tokens_.Verify(*token, caller.pod_uid, caller.ip); !ok) {
      return ImdsError{.kind = ImdsErrorKind::kBadToken, .message = ok.error().message()};
    }
  } else if (!options_.imdsv1) {
    return ImdsError{.kind = ImdsErrorKind::kNoToken};
  }
  return std::nullopt;
}

std::optional<ImdsHandler::Reply> ImdsHandler::Answer(const http::Request& request, Route route,
                                                      const std::string& role_in_path,
                                                      const Caller& caller, bool may_block,
                                                      SteadyTime started) {
  if (route == Route::kOther) {
    std::string_view path = request.Path();
    if (upstream_ != nullptr &&
        PassthroughAllowed(path, options_.default_allow_list, allow_.get())) {
      if (!may_block) {
        return std::nullopt;
      }
      return Passthrough(path, started + options_.credentials_wait);
    }
    return Refuse(ImdsErrorKind::kPathNotAllowed);
  }

  const identity::Decision& d = caller.decision;
  switch (d.outcome) {
    case identity::Outcome::kAllowed:
      break;
    case identity::Outcome::kNoRole:
      return Refuse(ImdsErrorKind::kNoRole);
    case identity::Outcome::kDenied:
      return Refuse(ImdsErrorKind::kDenied, d.reason);
    case identity::Outcome::kInvalid:
      return Refuse(ImdsErrorKind::kInvalidRole, d.reason);
    case identity::Outcome::kPending:
      return Refuse(ImdsErrorKind::kPending, d.reason);
  }
  const aws::RoleArn& role = *d.role;

  switch (route) {
    case Route::kIam:
      return Plain(200, "info\nsecurity-credentials/");
    case Route::kRoleList:
      return Plain(200, role.name);  // no trailing newline: botocore appends it to the next URL
    case Route::kIamInfo: {
      std::string id = aws::HexEncode(aws::HmacSha256("instance-profile-id", role.ToString()));
      for (auto& c : id) {
        c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      }
      std::string body = fmt::format(
          R"({{"Code":"Success","LastUpdated":{},"InstanceProfileArn":{},"InstanceProfileId":{}}})",
          Json(aws::FormatTimestamp(clock_.Now())),
          Json(fmt::format("arn:{}:iam::{}:instance-profile/{}", role.partition, role.account,
                           role.name)),
          Json("AIPA" + id.substr(0, 17)));
      return http::Response::Json(200, std::move(body));
    }
    case Route::kCredentials:
    case Route::kCredentialsExtended: {
      if (role_in_path != role.name) {
        return Refuse(ImdsErrorKind::kWrongRole);
      }
      bool extended = route == Route::kCredentialsExtended;
      if (auto cached = credentials_.Cached(caller)) {
        return Credentials(caller, extended, *cached);
      }
      if (!may_block) {
        return std::nullopt;
      }
      auto fetched = credentials_.Fetch(caller, started + options_.credentials_wait);
      if (!fetched) {
        const Error& e = fetched.error();
        log_.Warn("credentials unavailable", {{"namespace", caller.namespace_name},
                                              {"pod", caller.pod_name},
                                              {"role", role.ToString()},
                                              {"error", e.ToString()}});
        return tl::unexpected(ImdsError{.kind = ImdsErrorKind::kCredentialsUnavailable,
                                        .message = e.message(),
                                        .code = e.upstream_code().empty()
                                                    ? std::string(ErrorCodeName(e.code()))
                                                    : e.upstream_code()});
      }
      return Credentials(caller, extended, *fetched);
    }
    case Route::kToken:
    case Route::kOther:
      break;
  }
  return Refuse(ImdsErrorKind::kPathNotAllowed);
}

http::Response ImdsHandler::Credentials(const Caller& caller, bool extended,
                                        const aws::Credentials& creds) {
  std::string body;
  body.reserve(200 + creds.access_key_id.size() + creds.secret_access_key.size() +
               creds.session_token.size());
  body += R"({"Code":"Success","LastUpdated":)";
  http::AppendJsonString(body, aws::FormatTimestamp(clock_.Now()));
  body += R"(,"Type":"AWS-HMAC","AccessKeyId":)";
  http::AppendJsonString(body, creds.access_key_id);
  body += R"(,"SecretAccessKey":)";
  http::AppendJsonString(body, creds.secret_access_key);
  body += R"(,"Token":)";
  http::AppendJsonString(body, creds.session_token);
  body += R"(,"Expiration":)";
  http::AppendJsonString(
      body, creds.expiration ? aws::FormatTimestamp(*creds.expiration) : std::string());
  if (extended) {
    body += R"(,"AccountId":)";
    http::AppendJsonString(body, caller.decision.role->account);
  }
  body += '}';
  return http::Response::Json(200, std::move(body));
}

ImdsHandler::Reply ImdsHandler::Passthrough(std::string_view path, SteadyTime deadline) {
  auto response = upstream_->Get(path, deadline);
  if (!response) {
    return Refuse(ImdsErrorKind::kUpstreamError);
  }
  http::Response out;
  out.status = response->status;
  out.body = std::move(response->body);
  out.headers.Set("Content-Type", "text/plain");
  return out;
}

}  // namespace podiam::metadata
