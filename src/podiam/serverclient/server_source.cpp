#include "podiam/serverclient/server_source.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <optional>

#include "podiam/serverclient/protocol.hpp"

namespace podiam::serverclient {
namespace {

using std::chrono::duration_cast;
using std::chrono::milliseconds;

tl::unexpected<Error> Invalid(std::string message) {
  return MakeError(ErrorCode::kInvalidArgument, std::move(message));
}

// Every failure that moves on to the next URL is retryable, whatever the transport said (a
// certificate rotated in, a replica restarted).
Error Retryable(const Error& e) {
  return {e.code(), e.message(), e.upstream_code(), /*retryable=*/true};
}

}  // namespace

ServerSource::ServerSource(const ServerSourceDeps& deps, ServerSourceOptions options)
    : http_(deps.http),
      token_(deps.token),
      clock_(deps.clock),
      options_(std::move(options)),
      endpoints_(options_.urls, deps.clock, deps.random, options_.backoff),
      metrics_(deps.registry) {}

void ServerSource::MarkFailed(const std::string& url, const Error& error) {
  const int failures = endpoints_.Failed(url);
  metrics_.backing_off.Set(static_cast<double>(endpoints_.BackingOff()));
  if (failures == 1) {
    log_.Warn("podiam server failing; backing off from it",
              {{"server", url}, {"error", error.ToString()}});
  } else {
    log_.Debug("podiam server still failing",
               {{"server", url}, {"failures", failures}, {"error", error.ToString()}});
  }
}

void ServerSource::MarkOk(const std::string& url) {
  answered_.store(true, std::memory_order_relaxed);
  if (endpoints_.Succeeded(url)) {
    metrics_.backing_off.Set(static_cast<double>(endpoints_.BackingOff()));
    log_.Info("podiam server answers again", {{"server", url}});
  }
}

void ServerSource::SetDiscovered(const std::vector<std::string>& urls) {
  endpoints_.SetDiscovered(urls);
  metrics_.backing_off.Set(static_cast<double>(endpoints_.BackingOff()));
  log_.Info("podiam server endpoints changed",
            {{"discovered", urls.size()}, {"servers", endpoints_.All().size()}});
}

std::string ServerSource::TlsName(const std::string& url) const {
  return endpoints_.Discovered(url) ? options_.discovered_tls_name : std::string();
}

Result<aws::AssumeRoleResult> ServerSource::Fetch(const creds::CredentialSpec& spec,
                                                  int /*default_duration_seconds*/) {
  // The server decides the session (duration, tags, external ID) itself; the agent only names
  // the pod and the role its own decision gave.
  if (!spec.pod || spec.pod->namespace_name.empty() || spec.pod->name.empty() ||
      spec.pod->uid.empty()) {
    return Invalid(fmt::format(
        "credentials for role {} are not for a pod; the podiam server only serves pods' roles",
        spec.key.role_arn));
  }
  if (!spec.key.target_role_arn.empty()) {
    return Invalid(fmt::format(
        "role chaining ({} through {}) is not supported with --server: the podiam server "
        "protocol names one role",
        spec.key.target_role_arn, spec.key.role_arn));
  }
  auto token = token_.Read();
  if (!token) {
    return tl::unexpected(token.error());
  }
  const std::string body = EncodeRequest(*spec.pod, spec.key.role_arn);
  const Clock::SteadyTime deadline = clock_.SteadyNow() + options_.request_deadline;

  std::vector<std::string> urls = endpoints_.Pick();
  if (urls.empty() && endpoints_.All().empty()) {
    return MakeError(ErrorCode::kUnavailable,
                     "no podiam server known: the server's Service has no ready endpoints yet "
                     "(--server-service)",
                     {}, /*retryable=*/true);
  }
  if (urls.empty()) {
    auto next = endpoints_.NextAvailable();
    long long in_ms = next ? duration_cast<milliseconds>(*next - clock_.SteadyNow()).count() : 0LL;
    return MakeError(ErrorCode::kUnavailable,
                     fmt::format("every podiam server ({}) is backing off after failures; the "
                                 "next is tried again in {} ms",
                                 endpoints_.All().size(), std::max(in_ms, 0LL)),
                     {}, /*retryable=*/true);
  }
  std::optional<Error> last;
  for (std::size_t i = 0; i < urls.size(); ++i) {
    const std::string& url = urls[i];
    if (i > 0) {
      metrics_.failovers.Inc();
    }
    const auto remaining = duration_cast<milliseconds>(deadline - clock_.SteadyNow());
    if (remaining <= milliseconds(0)) {
      return MakeError(
          ErrorCode::kDeadlineExceeded,
          fmt::format("no podiam server answered within {} ms{}", options_.request_deadline.count(),
                      last ? "; last: " + last->ToString() : std::string()),
          {}, /*retryable=*/true);
    }
    http::ClientRequest request{.method = "POST",
                                .url = url + std::string(kCredentialsPath),
                                .body = body,
                                .timeout = std::min(remaining, options_.attempt_timeout),
                                .tls_server_name = TlsName(url)};
    request.headers.Set("Authorization", "Bearer " + *token);
    request.headers.Set("Content-Type", "application/json");
    request.headers.Set("Accept", "application/json");
    auto response = http_.Send(request);
    if (!response) {
      metrics_.requests.WithLabels({kResultTransport}).Inc();
      last = Retryable(response.error());
      MarkFailed(url, *last);
      continue;
    }
    if (response->status == 200) {
      auto parsed = ParseSuccess(response->body);
      if (!parsed) {
        metrics_.requests.WithLabels({kResultInvalid}).Inc();
        last = parsed.error().Wrap(url);
        MarkFailed(url, *last);
        continue;
      }
      MarkOk(url);
      if (parsed->role_arn != spec.key.role_arn) {
        metrics_.requests.WithLabels({kResultConflict}).Inc();
        return MakeError(ErrorCode::kConflict,
                         fmt::format("podiam server {} returned credentials for role {}, not {}; "
                                     "its decision differs from the agent's (retried)",
                                     url, parsed->role_arn, spec.key.role_arn),
                         "RoleMismatch", /*retryable=*/true);
      }
      metrics_.requests.WithLabels({kResultOk}).Inc();
      parsed->result.credentials.source = "podiam-server " + url;
      return std::move(parsed->result);
    }
    Error error = ErrorFromResponse(response->status, response->body);
    if (FailsOver(response->status)) {
      metrics_.requests
          .WithLabels({response->status == 429 || response->status >= 500 ? kResultServerError
                                                                          : kResultInvalid})
          .Inc();
      last = error.Wrap(url);
      MarkFailed(url, *last);
      continue;
    }
    MarkOk(url);  // it answered: a refusal is about the request, not the server
    metrics_.requests.WithLabels({response->status == 409 ? kResultConflict : kResultRefused})
        .Inc();
    return tl::unexpected(error.Wrap(url));
  }
  return tl::unexpected(Error(last->code(),
                              fmt::format("no podiam server could answer ({} tried); last: {}",
                                          urls.size(), last->message()),
                              last->upstream_code(), /*retryable=*/true));
}

Result<void> ServerSource::Ping() {
  std::optional<Error> last;
  for (const std::string& url : endpoints_.All()) {
    auto response =
        http_.Send({.method = "GET",
                    .url = url + "/readyz",
                    .timeout = std::min(options_.attempt_timeout, options_.request_deadline),
                    .tls_server_name = TlsName(url)});
    if (response && response->status == 200) {
      answered_.store(true, std::memory_order_relaxed);
      return Ok();
    }
    last =
        response ? ErrorFromResponse(response->status, response->body).Wrap(url) : response.error();
  }
  return tl::unexpected(last.value_or(Error(ErrorCode::kUnavailable, "no --server URL")));
}

}  // namespace podiam::serverclient
