// The aws library's metrics, declared once (docs/metrics.md lists them). The composition root
// builds one StsMetrics from its Registry and hands the same instance to every HttpStsClient.
//
// Labels are bounded: `action` is one of the three STS actions podiam calls; `result` is "ok",
// a known STS error code ("other" for codes podiam does not know), or a podiam ErrorCode name when
// there is no STS code: transport failures ("unavailable", "deadline_exceeded"), requests rejected
// before sending ("invalid_argument"), unparsable answers ("upstream_invalid").
//
// Thread-safety: as metrics::Registry (safe from any thread).
//
//   metrics::Registry registry;
//   aws::StsMetrics sts_metrics(registry);
//   aws::HttpStsClient sts(http, &signer_creds, sts_metrics, clock, random, options);
#pragma once

#include <string>

#include "podiam/base/error.hpp"
#include "podiam/metrics/registry.hpp"

namespace podiam::aws {

struct StsMetrics {
  explicit StsMetrics(metrics::Registry& registry);

  // podiam_sts_calls_total{action,result}: calls as the caller saw them (after retries).
  metrics::Family<metrics::Counter>& calls;
  // podiam_sts_retries_total{action}: attempts after the first.
  metrics::Family<metrics::Counter>& retries;
  // podiam_sts_call_duration_seconds{action}: whole calls, retries and backoff included.
  metrics::Family<metrics::Histogram>& call_duration;
};

// The `result` label for a failed call.
std::string StsResultLabel(const Error& error);

}  // namespace podiam::aws
