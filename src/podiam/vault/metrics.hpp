// The vault library's metrics, declared once (docs/metrics.md lists them). The composition root
// builds one VaultMetrics and hands it to the VaultClient.
//
// Labels are bounded: `op` is login, renew, lookup, sts, creds or revoke; `result` is "ok", one
// of the upstream codes of vault/response.hpp, or a podiam ErrorCode name (transport failures).
//
// Thread-safety: as metrics::Registry (safe from any thread).
#pragma once

#include <string>

#include "podiam/base/error.hpp"
#include "podiam/metrics/registry.hpp"

namespace podiam::vault {

struct VaultMetrics {
  explicit VaultMetrics(metrics::Registry& registry);

  metrics::Family<metrics::Counter>& requests;  // podiam_vault_requests_total{op,result}
  metrics::Family<metrics::Counter>& logins;    // podiam_vault_logins_total{result}
  metrics::Family<metrics::Counter>& renewals;  // podiam_vault_token_renewals_total{result}
  metrics::Gauge& token_ttl;                    // podiam_vault_token_ttl_seconds
};

// The `result` label of a failed call.
std::string VaultResultLabel(const Error& error);

}  // namespace podiam::vault
