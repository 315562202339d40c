#include "podiam/aws/metrics.hpp"

#include <array>
#include <string_view>

namespace podiam::aws {
namespace {

// Codes passed through as label values; anything else an endpoint invents is folded, so a broken
// or hostile endpoint cannot create unbounded series.
constexpr std::array<std::string_view, 20> kKnownCodes = {"AccessDenied",
                                                          "ExpiredToken",
                                                          "ExpiredTokenException",
                                                          "IDPCommunicationError",
                                                          "IDPRejectedClaim",
                                                          "InternalFailure",
                                                          "InvalidClientTokenId",
                                                          "InvalidIdentityToken",
                                                          "MalformedPolicyDocument",
                                                          "PackedPolicyTooLarge",
                                                          "RegionDisabledException",
                                                          "RequestLimitExceeded",
                                                          "ServiceUnavailable",
                                                          "SignatureDoesNotMatch",
                                                          "Throttling",
                                                          "ThrottlingException",
                                                          "TooManyRequestsException",
                                                          "ValidationError",
                                                          "InternalError",
                                                          "AccessDeniedException"};

}  // namespace

StsMetrics::StsMetrics(metrics::Registry& registry)
    : calls(registry.AddCounter("podiam_sts_calls_total",
                                "STS calls by action and result (ok or the STS error code), "
                                "after retries.",
                                {"action", "result"})),
      retries(registry.AddCounter("podiam_sts_retries_total",
                                  "STS attempts after the first one of a call.", {"action"})),
      call_duration(
          registry.AddHistogram("podiam_sts_call_duration_seconds",
                                "Duration of STS calls including retries and backoff.", {"action"},
                                {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30})) {}

std::string StsResultLabel(const Error& error) {
  const std::string& code = error.upstream_code();
  if (code.empty()) {
    return std::string(ErrorCodeName(error.code()));
  }
  for (auto known : kKnownCodes) {
    if (known == code) {
      return code;
    }
  }
  return "other";
}

}  // namespace podiam::aws
