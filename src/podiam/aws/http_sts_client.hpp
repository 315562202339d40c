// HttpStsClient: the StsClient adapter over http::HttpClient. It validates and encodes the call
// (sts_codec.hpp), signs it with SigV4 using credentials from a CredentialsProvider (not for
// AssumeRoleWithWebIdentity, which is unsigned), sends it, parses the answer and maps errors.
//
// Retries: throttling, 5xx, IDPCommunicationError and the transport failures the HttpClient marks
// retryable (refused, reset, timeout; not a failed certificate check) are retried with capped
// exponential backoff and full jitter (delay = U[0,1) * min(max_backoff, base_backoff *
// 2^(attempt-1))); access and validation errors never are. Each call has a deadline (call_timeout):
// no attempt starts after it, no backoff sleeps past it, and each attempt's HTTP timeout is clamped
// to the time left.
//
// Thread-safety: safe for concurrent calls (no mutable state besides metrics).
//
//   auto endpoint = aws::ResolveStsEndpoint({.region = "eu-west-1"});
//   aws::HttpStsClient sts(http, &own_credentials, sts_metrics, clock, random,
//                          {.endpoint = *endpoint, .max_attempts = 4});
//   auto result = sts.AssumeRole({.role_arn = arn, .role_session_name = "pod-web-1"});
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <string_view>

#include "podiam/aws/credentials_provider.hpp"
#include "podiam/aws/endpoint.hpp"
#include "podiam/aws/metrics.hpp"
#include "podiam/aws/sts_client.hpp"
#include "podiam/base/clock.hpp"
#include "podiam/base/log.hpp"
#include "podiam/base/random.hpp"
#include "podiam/http/client.hpp"

namespace podiam::aws {

// Blocks the calling thread; injected so unit tests advance a FakeClock instead of sleeping.
using Sleeper = std::function<void(std::chrono::milliseconds)>;
Sleeper RealSleeper();

struct HttpStsClientOptions {
  StsEndpoint endpoint;  // from ResolveStsEndpoint()
  int max_attempts = 4;  // first try included
  std::chrono::milliseconds base_backoff{200};
  std::chrono::milliseconds max_backoff{5000};
  std::chrono::milliseconds attempt_timeout{5000};  // one HTTP exchange
  std::chrono::milliseconds call_timeout{15000};    // the whole call, retries included
  Sleeper sleep = RealSleeper();
};

class HttpStsClient final : public StsClient {
 public:
  // `signer` may be null for a client that only makes unsigned calls (the web-identity source of
  // podiam's own credential chain); signed calls then fail with kFailedPrecondition.
  HttpStsClient(http::HttpClient& http, CredentialsProvider* signer, StsMetrics& metrics,
                const Clock& clock, Random& random, HttpStsClientOptions options);

  Result<AssumeRoleResult> AssumeRole(const AssumeRoleRequest& request) override;
  Result<AssumeRoleResult> AssumeRoleAs(const Credentials& caller,
                                        const AssumeRoleRequest& request) override;
  Result<AssumeRoleWithWebIdentityResult> AssumeRoleWithWebIdentity(
      const AssumeRoleWithWebIdentityRequest& request) override;
  Result<CallerIdentity> GetCallerIdentity() override;

  [[nodiscard]] const HttpStsClientOptions& options() const { return options_; }

 private:
  // Sends `body` with retries; returns the 200 response body. Signed calls use `caller` when
  // given, else the signer's credentials.
  Result<std::string> Call(std::string_view action, const std::string& body, bool sign,
                           const Credentials* caller = nullptr);
  Result<std::string> Attempt(std::string_view action, const std::string& body, bool sign,
                              const Credentials* caller, std::chrono::milliseconds timeout);
  Result<AssumeRoleResult> AssumeRoleSignedBy(const Credentials* caller,
                                              const AssumeRoleRequest& request);
  // Wraps a whole call: metrics for its outcome and duration.
  template <typename T>
  Result<T> Finish(std::string_view action, Clock::SteadyTime start, Result<T> result);

  http::HttpClient& http_;
  CredentialsProvider* signer_;
  StsMetrics& metrics_;
  const Clock& clock_;
  Random& random_;
  HttpStsClientOptions options_;
  log::Logger log_{"aws.sts"};
};

}  // namespace podiam::aws
