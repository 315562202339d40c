// CredentialSource: the port the CredentialBroker gets a key's credentials from. The broker
// decides *when* to fetch (prefetch, refresh, single-flight, backoff, caching); a source decides
// *how*: STS AssumeRole with podiam's own credentials (StsSource, the default), or another
// authority (a central podiam server, Vault) that returns the same result shape.
//
// Contract for implementations:
//   - errors as values, never exceptions (the broker catches them anyway and reports kInternal);
//   - an error's retryable() and upstream_code() drive the broker's backoff and negative cache,
//     exactly as for STS (creds/refresh_rules.hpp);
//   - Fetch() may block (network); the broker calls it from its worker threads only, at most
//     BrokerOptions::max_concurrent_sts at once, and never with its lock held;
//   - the returned credentials' expiration is what the broker's refresh schedule uses.
//
// Thread-safety: Fetch() is called from several worker threads at once.
//
//   creds::StsSource source(aws_stack.sts());
//   creds::CredentialBroker broker(source, clock, random, registry, options);
#pragma once

#include <string_view>

#include "podiam/aws/sts_client.hpp"
#include "podiam/base/error.hpp"
#include "podiam/creds/credential_key.hpp"

namespace podiam::creds {

class CredentialSource {
 public:
  virtual ~CredentialSource() = default;
  // Credentials for `spec`. `default_duration_seconds` is the broker's session duration, used
  // when the spec does not carry its own.
  virtual Result<aws::AssumeRoleResult> Fetch(const CredentialSpec& spec,
                                              int default_duration_seconds) = 0;
  // A short lowercase name for logs and metrics labels: "sts", "server", "vault".
  [[nodiscard]] virtual std::string_view Name() const = 0;
};

// STS with podiam's own credentials: AssumeRoleFor (one call, or two for a target role).
class StsSource final : public CredentialSource {
 public:
  explicit StsSource(aws::StsClient& sts) : sts_(sts) {}
  Result<aws::AssumeRoleResult> Fetch(const CredentialSpec& spec,
                                      int default_duration_seconds) override {
    return AssumeRoleFor(sts_, spec, default_duration_seconds);
  }
  [[nodiscard]] std::string_view Name() const override { return "sts"; }

 private:
  aws::StsClient& sts_;
};

}  // namespace podiam::creds
