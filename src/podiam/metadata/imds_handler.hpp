// The EC2 instance metadata protocol as a pod sees it (docs/agent.md, "The metadata protocol"),
// answered for the pod that is asking — recognised by its source IP, never by a header — with its
// own role only. <v> is latest, 1.0 or a dated version (metadata/imds_path.hpp):
//
//   PUT  /latest/api/token                              per-pod IMDSv2 token, TTL echoed
//   GET  /<v>/meta-data/iam/security-credentials[/]      the pod's role name (no newline)
//   GET  /<v>/meta-data/iam/security-credentials/<role>  credential JSON; other names 404
//   GET  /<v>/meta-data/iam/security-credentials-extended/<role>  same plus AccountId
//   GET  /<v>/meta-data/iam/info, /<v>/meta-data/iam     synthesised for the pod's role
//   GET  the region documents (default allow-list)      passed to the node's own metadata service
//   GET  anything else                                  404, or passed through when it matches
//        --allow-metadata-path and is not on the hard deny list (credentials, user-data, signed
//        identity documents), which no flag can open.
//
// Any request carrying X-Forwarded-For is refused (403): real IMDS refuses it on the token PUT;
// podiam refuses it on every request (docs/security.md). `GET /healthz` and `GET /ping` from the
// node's own addresses answer 200 (the liveness probes of kube2iam's and kiam's charts). Until
// the directory is Ready() every pod-facing request is 503 (retryable), never a denial. Code paths
// return an ImdsError value; imds_errors.hpp turns it into the HTTP answer, in one table.
//
// Thread-safety: Handle() is called concurrently from I/O threads. Fast paths (known pod, cached
// credentials) answer inline; waiting for a new pod holds no thread (CallerDirectory::Await), and
// anything that blocks (fetching credentials, the node's metadata service) is handed to
// Options::offload, which may refuse when its queue (or this source's share of it) is full: the
// request is then answered 503 at once.
//
//   metadata::ImdsHandler imds(directory, credentials, *issuer, clock, imds_metrics,
//                              {.imdsv1 = false, .offload = pool.Executor()});
//   server.SetHandler(imds);
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "podiam/base/clock.hpp"
#include "podiam/base/log.hpp"
#include "podiam/http/handler.hpp"
#include "podiam/metadata/imds_errors.hpp"
#include "podiam/metadata/imds_token.hpp"
#include "podiam/metadata/metrics.hpp"
#include "podiam/metadata/ports.hpp"

namespace re2 {
class RE2;
}  // namespace re2

namespace podiam::metadata {

enum class Route {
  kToken,
  kRoleList,
  kCredentials,
  kCredentialsExtended,
  kIamInfo,
  kIam,
  kOther,
};

std::string_view RouteName(Route route);

struct ImdsOptions {
  bool imdsv1 = true;  // --imdsv1 allow|deny: GETs without a token are allowed
  // --allow-metadata-path: regular expression (RE2, anchored) of paths passed to the node's
  // metadata service. Empty: none.
  std::string allow_path;
  // --metadata-allow-list default|none: pass the region-discovery documents SDKs read
  // (imds_path.hpp, InDefaultAllowList) to the node's metadata service without allow_path.
  bool default_allow_list = true;
  // How long a request may wait for a just-created pod to become known, and for credentials.
  // Both stay under the SDKs' 1 s metadata timeout.
  std::chrono::milliseconds pod_wait{900};
  std::chrono::milliseconds credentials_wait{900};
  // Runs blocking work off the I/O threads, keyed by the source address; returns false when it
  // will not (queue full, or this source has too much queued). Unset: inline (unit tests).
  std::function<bool(std::string_view source, std::function<void()>)> offload;
};

class ImdsHandler final : public http::Handler {
 public:
  // `upstream` may be null (no pass-through at all). Fails on an invalid allow_path pattern.
  static Result<std::shared_ptr<ImdsHandler>> Create(CallerDirectory& directory,
                                                     CredentialSource& credentials,
                                                     const ImdsTokenIssuer& tokens,
                                                     const Clock& clock, ImdsMetrics& metrics,
                                                     ImdsOptions options,
                                                     MetadataUpstream* upstream = nullptr);
  ~ImdsHandler() override;
  ImdsHandler(const ImdsHandler&) = delete;
  ImdsHandler& operator=(const ImdsHandler&) = delete;

  void Handle(http::Request request, http::ResponseCallback done) override;

  // Paths answered 200 for the node itself on the metadata port (kube2iam's /healthz, kiam's
  // /ping).
  static bool IsHealthPath(std::string_view path);

  // Path classification, exposed for tests: which route, and the role name in the path if any.
  static Route Classify(std::string_view path, std::string* role_name);

 private:
  ImdsHandler(CallerDirectory& directory, CredentialSource& credentials,
              const ImdsTokenIssuer& tokens, const Clock& clock, ImdsMetrics& metrics,
              ImdsOptions options, MetadataUpstream* upstream, std::unique_ptr<re2::RE2> allow);

  // A response, or a refusal that imds_errors.hpp turns into one.
  using Reply = tl::expected<http::Response, ImdsError>;

  // The token PUT, or the token check every other request of a known caller passes first (once,
  // before any blocking work).
  Reply IssueToken(const http::Request& request, const Caller& caller);
  std::optional<ImdsError> CheckToken(const http::Request& request, const Caller& caller) const;
  // nullopt: needs blocking work; call again with may_block = true from a worker.
  std::optional<Reply> Answer(const http::Request& request, Route route,
                              const std::string& role_in_path, const Caller& caller, bool may_block,
                              SteadyTime started);
  http::Response Credentials(const Caller& caller, bool extended, const aws::Credentials& creds);
  Reply Passthrough(std::string_view path, SteadyTime deadline);
  // Answers for a known caller: inline when it can, else through the offload queue.
  void Respond(http::Request request, Route route, std::string role_in_path,
               std::shared_ptr<const Caller> caller, SteadyTime started,
               const http::ResponseCallback& done);
  // Counts a refusal by its reason and sends the response of either.
  void Finish(Route route, SteadyTime started, Reply reply, const http::ResponseCallback& done);

  CallerDirectory& directory_;
  CredentialSource& credentials_;
  const ImdsTokenIssuer& tokens_;
  const Clock& clock_;
  ImdsMetrics& metrics_;
  ImdsOptions options_;
  MetadataUpstream* upstream_;
  std::unique_ptr<re2::RE2> allow_;
  log::Logger log_{"imds"};
};

}  // namespace podiam::metadata
