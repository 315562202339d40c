#include "podiam/aws/imds_client.hpp"

#include <fmt/format.h>

#include <utility>

namespace podiam::aws {
namespace {

std::string_view TrimNewlines(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) {
    text.remove_suffix(1);
  }
  return text;
}

}  // namespace

ImdsClient::ImdsClient(http::HttpClient& http, const Clock& clock, ImdsClientOptions options)
    : http_(http),
      clock_(clock),
      endpoint_(std::move(options.endpoint)),
      token_ttl_seconds_(options.token_ttl_seconds) {
  while (!endpoint_.empty() && endpoint_.back() == '/') {
    endpoint_.pop_back();
  }
}

Result<std::chrono::milliseconds> ImdsClient::Budget(Clock::SteadyTime deadline,
                                                     std::string_view what) const {
  auto budget =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_.SteadyNow());
  if (budget.count() <= 0) {
    return MakeError(ErrorCode::kDeadlineExceeded,
                     fmt::format("no time left for {} of IMDS at {}", what, endpoint_));
  }
  return budget;
}

Result<std::optional<std::string>> ImdsClient::Token(Clock::SteadyTime deadline) {
  auto budget = Budget(deadline, "the token request");
  if (!budget) {
    return std::optional<std::string>();  // as a PUT that timed out: IMDSv1
  }
  http::ClientRequest request{
      .method = "PUT", .url = endpoint_ + "/latest/api/token", .timeout = *budget};
  request.headers.Set("X-aws-ec2-metadata-token-ttl-seconds", std::to_string(token_ttl_seconds_));
  auto response = http_.Send(request);
  if (!response) {
    if (response.error().code() == ErrorCode::kDeadlineExceeded) {
      return std::optional<std::string>();
    }
    return tl::unexpected(response.error());
  }
  if (response->status == 200) {
    return std::optional<std::string>(std::string(TrimNewlines(response->body)));
  }
  if (response->status == 403 || response->status == 404 || response->status == 405) {
    return std::optional<std::string>();
  }
  return MakeError(ErrorCode::kUnavailable,
                   fmt::format("IMDS at {} answered the token request with HTTP {}", endpoint_,
                               response->status),
                   std::to_string(response->status));
}

Result<http::Response> ImdsClient::GetWithToken(std::string_view path,
                                                const std::optional<std::string>& token,
                                                Clock::SteadyTime deadline) {
  auto budget = Budget(deadline, path);
  if (!budget) {
    return tl::unexpected(budget.error());
  }
  http::ClientRequest request{
      .method = "GET", .url = endpoint_ + std::string(path), .timeout = *budget};
  if (token) {
    request.headers.Set("X-aws-ec2-metadata-token", *token);
  }
  return http_.Send(request);
}

Result<http::Response> ImdsClient::Get(std::string_view path, Clock::SteadyTime deadline) {
  auto token = Token(deadline);
  return GetWithToken(path, token ? *token : std::nullopt, deadline);
}

}  // namespace podiam::aws
