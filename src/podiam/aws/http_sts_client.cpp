#include "podiam/aws/http_sts_client.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <thread>

#include "podiam/aws/sigv4.hpp"
#include "podiam/aws/sts_codec.hpp"

namespace podiam::aws {
namespace {

using std::chrono::duration_cast;
using std::chrono::milliseconds;

}  // namespace

Sleeper RealSleeper() {
  return [](milliseconds delay) { std::this_thread::sleep_for(delay); };
}

HttpStsClient::HttpStsClient(http::HttpClient& http, CredentialsProvider* signer,
                             StsMetrics& metrics, const Clock& clock, Random& random,
                             HttpStsClientOptions options)
    : http_(http),
      signer_(signer),
      metrics_(metrics),
      clock_(clock),
      random_(random),
      options_(std::move(options)) {
  options_.max_attempts = std::max(options_.max_attempts, 1);
}

Result<AssumeRoleResult> HttpStsClient::AssumeRole(const AssumeRoleRequest& request) {
  return AssumeRoleSignedBy(nullptr, request);
}

Result<AssumeRoleResult> HttpStsClient::AssumeRoleAs(const Credentials& caller,
                                                     const AssumeRoleRequest& request) {
  return AssumeRoleSignedBy(&caller, request);
}

Result<AssumeRoleResult> HttpStsClient::AssumeRoleSignedBy(const Credentials* caller,
                                                           const AssumeRoleRequest& request) {
  constexpr std::string_view kAction = "AssumeRole";
  auto start = clock_.SteadyNow();
  auto body = EncodeAssumeRole(request);
  if (!body) {
    return Finish<AssumeRoleResult>(kAction, start, tl::unexpected(body.error()));
  }
  auto xml = Call(kAction, *body, /*sign=*/true, caller);
  if (!xml) {
    return Finish<AssumeRoleResult>(kAction, start, tl::unexpected(xml.error()));
  }
  return Finish(kAction, start, ParseAssumeRoleResponse(*xml));
}

Result<AssumeRoleWithWebIdentityResult> HttpStsClient::AssumeRoleWithWebIdentity(
    const AssumeRoleWithWebIdentityRequest& request) {
  constexpr std::string_view kAction = "AssumeRoleWithWebIdentity";
  auto start = clock_.SteadyNow();
  auto body = EncodeAssumeRoleWithWebIdentity(request);
  if (!body) {
    return Finish<AssumeRoleWithWebIdentityResult>(kAction, start, tl::unexpected(body.error()));
  }
  auto xml = Call(kAction, *body, /*sign=*/false);
  if (!xml) {
    return Finish<AssumeRoleWithWebIdentityResult>(kAction, start, tl::unexpected(xml.error()));
  }
  return Finish(kAction, start, ParseAssumeRoleWithWebIdentityResponse(*xml));
}

Result<CallerIdentity> HttpStsClient::GetCallerIdentity() {
  constexpr std::string_view kAction = "GetCallerIdentity";
  auto start = clock_.SteadyNow();
  auto xml = Call(kAction, EncodeGetCallerIdentity(), /*sign=*/true);
  if (!xml) {
    return Finish<CallerIdentity>(kAction, start, tl::unexpected(xml.error()));
  }
  return Finish(kAction, start, ParseGetCallerIdentityResponse(*xml));
}

template <typename T>
Result<T> HttpStsClient::Finish(std::string_view action, Clock::SteadyTime start,
                                Result<T> result) {
  std::string label = result ? std::string("ok") : StsResultLabel(result.error());
  metrics_.calls.WithLabels({action, label}).Inc();
  metrics_.call_duration.WithLabels({action}).Observe(
      std::chrono::duration<double>(clock_.SteadyNow() - start).count());
  if (!result) {
    return tl::unexpected(result.error().Wrap(fmt::format("STS {}", action)));
  }
  return result;
}

Result<std::string> HttpStsClient::Call(std::string_view action, const std::string& body, bool sign,
                                        const Credentials* caller) {
  const auto deadline = clock_.SteadyNow() + options_.call_timeout;
  std::optional<Error> last_error;
  for (int attempt = 1;; ++attempt) {
    auto remaining = duration_cast<milliseconds>(deadline - clock_.SteadyNow());
    if (remaining <= milliseconds(0)) {
      break;
    }
    auto response =
        Attempt(action, body, sign, caller, std::min(options_.attempt_timeout, remaining));
    if (response) {
      return response;
    }
    last_error = response.error();
    if (!last_error->retryable() || attempt >= options_.max_attempts) {
      if (attempt > 1) {
        return tl::unexpected(last_error->Wrap(fmt::format("after {} attempts", attempt)));
      }
      return tl::unexpected(*last_error);
    }
    // Full jitter: anywhere between no wait and the capped exponential step.
    milliseconds step = std::min<milliseconds>(
        options_.max_backoff,
        options_.base_backoff * (std::int64_t{1} << std::min(attempt - 1, 20)));
    auto delay = milliseconds(
        static_cast<std::int64_t>(static_cast<double>(step.count()) * random_.Uniform01()));
    if (clock_.SteadyNow() + delay >= deadline) {
      return tl::unexpected(last_error->Wrap(fmt::format(
          "gave up after {} attempt(s): the {} ms call deadline would pass during the backoff",
          attempt, options_.call_timeout.count())));
    }
    metrics_.retries.WithLabels({action}).Inc();
    log_.Info("STS call failed, retrying", {{"action", action},
                                            {"attempt", attempt},
                                            {"delay_ms", static_cast<long long>(delay.count())},
                                            {"error", last_error->ToString()}});
    options_.sleep(delay);
  }
  if (last_error) {
    return tl::unexpected(last_error->Wrap(
        fmt::format("gave up: the {} ms call deadline has passed", options_.call_timeout.count())));
  }
  return MakeError(ErrorCode::kDeadlineExceeded,
                   fmt::format("the {} ms call deadline passed before the first attempt",
                               options_.call_timeout.count()));
}

Result<std::string> HttpStsClient::Attempt(std::string_view action, const std::string& body,
                                           bool sign, const Credentials* caller,
                                           milliseconds timeout) {
  http::ClientRequest request{
      .method = "POST", .url = options_.endpoint.url, .body = body, .timeout = timeout};
  request.headers.Set("Content-Type", kFormContentType);
  if (sign) {
    Result<Credentials> creds = MakeError(ErrorCode::kFailedPrecondition,
                                          "this STS client has no credentials to sign with");
    if (caller != nullptr) {
      creds = *caller;
    } else if (signer_ != nullptr) {
      creds = signer_->Get();
      if (!creds) {
        // Not retried here: the caching provider has its own failure backoff.
        return tl::unexpected(creds.error().Wrap("podiam's own AWS credentials"));
      }
    }
    if (!creds) {
      return tl::unexpected(creds.error());
    }
    auto signature = SignRequest(
        request, *creds,
        {.region = options_.endpoint.signing_region, .service = "sts", .time = clock_.Now()});
    if (!signature) {
      return tl::unexpected(signature.error());
    }
  }
  auto response = http_.Send(request);
  if (!response) {
    // The transport decides what is worth retrying (refused, reset, timeout: yes; a failed
    // certificate check: no) and its message already names the method and host.
    return tl::unexpected(response.error());
  }
  if (response->status == 200) {
    return std::move(response->body);
  }
  Error error = StsErrorFromResponse(response->status, response->body);
  log_.Debug("STS error response",
             {{"action", action}, {"status", response->status}, {"code", error.upstream_code()}});
  return tl::unexpected(error);
}

}  // namespace podiam::aws
