#include "podiam/vault/metrics.hpp"

namespace podiam::vault {

VaultMetrics::VaultMetrics(metrics::Registry& registry)
    : requests(registry.AddCounter("podiam_vault_requests_total",
                                   "Requests to Vault by operation and result.", {"op", "result"})),
      logins(registry.AddCounter("podiam_vault_logins_total",
                                 "Logins to Vault's Kubernetes auth method, by result.",
                                 {"result"})),
      renewals(registry.AddCounter("podiam_vault_token_renewals_total",
                                   "Renewals of podiam's Vault token, by result.", {"result"})),
      token_ttl(registry
                    .AddGauge("podiam_vault_token_ttl_seconds",
                              "Seconds left on podiam's Vault token (0: none, or it never "
                              "expires).")
                    .Get()) {}

std::string VaultResultLabel(const Error& error) {
  if (!error.upstream_code().empty()) {
    return error.upstream_code();  // one of the closed set in response.hpp
  }
  return std::string(ErrorCodeName(error.code()));
}

}  // namespace podiam::vault
