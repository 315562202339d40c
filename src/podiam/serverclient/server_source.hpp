// ServerSource: a creds::CredentialSource that asks a podiam server for a pod's credentials
// instead of calling STS (`podiam agent --server`; docs/agent.md "Server mode", protocol in
// docs/server.md "Agent protocol"). The broker keeps doing what it does for STS: prefetch,
// refresh, single-flight, backoff, and serving cached credentials while fetches fail.
//
// One Fetch(): read the Bearer token (every call: kubelet rotates it), POST the pod and role to
// the first URL not backing off, and on a transport error, an invalid 200 body, 429 or 5xx mark
// that URL failed (its own backoff with jitter) and move on to the next; any other answer ends
// the call. The whole call has one deadline; each attempt gets at most attempt_timeout of it.
//
// Errors: a spec without a pod, or with a target role (role chaining is not in protocol v1) ->
// kInvalidArgument; token unreadable -> kUnavailable (retryable); the server's answer per
// serverclient/protocol.hpp; a 200 for another role than the spec's -> kConflict, retryable
// (upstream code "RoleMismatch"); every URL failed or backing off -> kUnavailable (retryable)
// with the last failure; deadline passed -> kDeadlineExceeded (retryable).
//
// Thread-safety: Fetch() and Ping() may be called from several threads at once. The Random is
// used under this source's own lock: do not share a non-thread-safe fake with the broker.
//
//   serverclient::ServerSource source({.http = *client, .token = token, .clock = clock,
//                                      .random = random, .registry = registry},
//                                     {.urls = *urls});
//   creds::CredentialBroker broker(source, clock, random, registry, options);
#pragma once

#include <atomic>
#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "podiam/base/clock.hpp"
#include "podiam/base/log.hpp"
#include "podiam/base/random.hpp"
#include "podiam/creds/credential_source.hpp"
#include "podiam/http/client.hpp"
#include "podiam/metrics/registry.hpp"
#include "podiam/serverclient/endpoints.hpp"
#include "podiam/serverclient/metrics.hpp"
#include "podiam/serverclient/ports.hpp"

namespace podiam::serverclient {

struct ServerSourceDeps {
  http::HttpClient& http;
  TokenSource& token;
  const Clock& clock;
  Random& random;
  metrics::Registry& registry;
};

struct ServerSourceOptions {
  std::vector<std::string> urls;  // from ParseServerUrls: https base URLs, in fail-over order
  std::chrono::milliseconds request_deadline{10000};  // one Fetch(), all URLs together
  std::chrono::milliseconds attempt_timeout{5000};    // one URL
  BackoffOptions backoff;
  // The name the certificates of discovered endpoints (SetDiscovered) must carry: the Service's
  // DNS name (ServiceRef::DnsName()), since the agent connects to the endpoints' IPs.
  std::string discovered_tls_name;
};

class ServerSource final : public creds::CredentialSource {
 public:
  ServerSource(const ServerSourceDeps& deps, ServerSourceOptions options);

  Result<aws::AssumeRoleResult> Fetch(const creds::CredentialSpec& spec,
                                      int default_duration_seconds) override;
  [[nodiscard]] std::string_view Name() const override { return "server"; }

  // The ready endpoints of the server's Service changed (`--server-service`): tried after the
  // configured URLs; backoff kept for those that stay.
  void SetDiscovered(const std::vector<std::string>& urls);
  // GET /readyz on the URLs in order until one answers 200 (unauthenticated; no token).
  Result<void> Ping();
  // Some server has answered (a Ping(), or any HTTP answer to Fetch()): for /readyz.
  [[nodiscard]] bool Answered() const { return answered_.load(std::memory_order_relaxed); }
  // The configured URLs (--server).
  [[nodiscard]] const std::vector<std::string>& urls() const { return endpoints_.urls(); }

 private:
  // A URL's answer was a failure to move on from.
  void MarkFailed(const std::string& url, const Error& error);
  void MarkOk(const std::string& url);
  // The certificate name to check for `url` (empty: the URL's host).
  [[nodiscard]] std::string TlsName(const std::string& url) const;

  http::HttpClient& http_;
  TokenSource& token_;
  const Clock& clock_;
  const ServerSourceOptions options_;
  Endpoints endpoints_;
  SourceMetrics metrics_;
  std::atomic<bool> answered_{false};
  log::Logger log_{"serverclient"};
};

}  // namespace podiam::serverclient
