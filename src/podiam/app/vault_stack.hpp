// podiam agent's Vault side (--credential-source vault, docs/vault.md): its own HTTP client
// (Vault's CA), the token file, the Vault client with its login/renew loop, and the VaultSource
// the credential broker is built over. Readiness: podiam holds a Vault token (login succeeded).
//
// Thread-safety: source() is safe from any thread; Start/Stop from the controlling thread.
//
//   auto vault = app::VaultStack::Create(config.vault, clock, ops.registry());
//   creds::CredentialBroker broker((*vault)->source(), clock, random, registry, options);
//   ops.readiness().Add("vault-login", [&] { return (*vault)->Check(); });
#pragma once

#include <memory>

#include "podiam/base/clock.hpp"
#include "podiam/base/error.hpp"
#include "podiam/cli/vault_config.hpp"
#include "podiam/metrics/registry.hpp"
#include "podiam/ops/ops_handler.hpp"
#include "podiam/transport/http_client.hpp"
#include "podiam/vault/client.hpp"
#include "podiam/vault/vault_source.hpp"

namespace podiam::app {

class VaultStack {
 public:
  // kInvalidArgument for a CA file that does not load (flags were checked at parse time).
  static Result<std::unique_ptr<VaultStack>> Create(const cli::VaultConfig& config,
                                                    const Clock& clock,
                                                    metrics::Registry& registry);
  VaultStack(const VaultStack&) = delete;
  VaultStack& operator=(const VaultStack&) = delete;
  ~VaultStack();

  creds::CredentialSource& source() { return *source_; }
  // For /readyz: fails until podiam has logged in to Vault (and while its token has expired).
  [[nodiscard]] ops::Check Check() const;
  // Starts the login/renew loop.
  void Start();
  // Stops the loop; with --vault-revoke-on-shutdown, first revokes iam_user leases.
  void Stop();

 private:
  VaultStack() = default;

  bool revoke_on_shutdown_ = false;
  std::string addr_;
  std::unique_ptr<transport::BeastHttpClient> http_;
  std::unique_ptr<vault::FileJwtSource> jwt_;
  std::unique_ptr<vault::VaultMetrics> metrics_;
  std::unique_ptr<vault::VaultClient> client_;
  std::unique_ptr<vault::VaultSource> source_;
};

}  // namespace podiam::app
