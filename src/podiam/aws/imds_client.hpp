// ImdsClient: IMDSv2 for an EC2 instance metadata service (the node's own, or whatever endpoint
// the caller names): the session-token exchange (PUT /latest/api/token) and GETs carrying the
// token. docs/agent.md ("The node's own metadata service") has the protocol and who uses it.
//
// Two callers, each keeping its own endpoint variable and token lifetime:
//   - aws::ImdsCredentialsProvider (podiam's own credentials, last in the chain):
//     $AWS_EC2_METADATA_SERVICE_ENDPOINT as the SDKs read it, token TTL 21600 s;
//   - app/ (region and base-ARN discovery, and the node paths an operator lets pods read):
//     $PODIAM_NODE_IMDS_ENDPOINT, token TTL 60 s.
//
// Time comes from the injected Clock: each call gets a deadline, and the request's timeout is
// what is left of it, so tests drive it with testing::FakeClock.
//
// Thread-safety: safe for concurrent calls (no state besides the options).
//
//   aws::ImdsClient imds(http, clock, {.endpoint = "http://169.254.169.254"});
//   auto region = imds.Get("/latest/meta-data/placement/region", clock.SteadyNow() + 2s);
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "podiam/base/clock.hpp"
#include "podiam/base/error.hpp"
#include "podiam/http/client.hpp"
#include "podiam/http/message.hpp"

namespace podiam::aws {

inline constexpr std::string_view kDefaultImdsEndpoint = "http://169.254.169.254";

// Reads instance metadata. The port app/ and its tests use (a fake answers from a map).
class InstanceMetadata {
 public:
  virtual ~InstanceMetadata() = default;
  // GET `path` (e.g. "/latest/meta-data/iam/info") by `deadline`, with an IMDSv2 token when the
  // service gives one and without when it does not (IMDSv1). Any HTTP status is a value.
  virtual Result<http::Response> Get(std::string_view path, Clock::SteadyTime deadline) = 0;
};

struct ImdsClientOptions {
  std::string endpoint{kDefaultImdsEndpoint};  // scheme://host[:port]; trailing '/' ignored
  int token_ttl_seconds = 21600;               // X-aws-ec2-metadata-token-ttl-seconds
};

class ImdsClient final : public InstanceMetadata {
 public:
  ImdsClient(http::HttpClient& http, const Clock& clock, ImdsClientOptions options);

  // The session token:
  //   - the token on 200 (trailing CR/LF removed);
  //   - nullopt when the service does not do IMDSv2 (403, 404, 405) or the PUT timed out: callers
  //     fall back to IMDSv1, as botocore does;
  //   - kUnavailable, upstream code = the status, for any other status (400: the service refused
  //     the PUT, e.g. one carrying X-Forwarded-For);
  //   - the transport error when nothing answers (refused, unreachable).
  Result<std::optional<std::string>> Token(Clock::SteadyTime deadline);

  // GET `path` with `token` when there is one. Any HTTP status is a value.
  Result<http::Response> GetWithToken(std::string_view path,
                                      const std::optional<std::string>& token,
                                      Clock::SteadyTime deadline);

  // Token(), then GetWithToken(); a failed token exchange of any kind means a GET without one.
  Result<http::Response> Get(std::string_view path, Clock::SteadyTime deadline) override;

  [[nodiscard]] const std::string& endpoint() const { return endpoint_; }

 private:
  // What is left until `deadline`; kDeadlineExceeded when nothing is.
  Result<std::chrono::milliseconds> Budget(Clock::SteadyTime deadline, std::string_view what) const;

  http::HttpClient& http_;
  const Clock& clock_;
  std::string endpoint_;
  int token_ttl_seconds_;
};

}  // namespace podiam::aws
