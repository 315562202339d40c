#include "podiam/app/vault_stack.hpp"

#include "podiam/base/log.hpp"

namespace podiam::app {

Result<std::unique_ptr<VaultStack>> VaultStack::Create(const cli::VaultConfig& config,
                                                       const Clock& clock,
                                                       metrics::Registry& registry) {
  std::unique_ptr<VaultStack> stack(new VaultStack());
  auto http = transport::BeastHttpClient::Create({.ca_file = config.ca_file});
  if (!http) {
    return tl::unexpected(http.error().Wrap("--vault-ca"));
  }
  auto map = vault::ParseRoleMap(config.role_map);
  if (!map) {
    return tl::unexpected(map.error());
  }
  stack->revoke_on_shutdown_ = config.revoke_on_shutdown;
  stack->addr_ = config.addr;
  stack->http_ = std::move(*http);
  stack->jwt_ = std::make_unique<vault::FileJwtSource>(config.token_file);
  stack->metrics_ = std::make_unique<vault::VaultMetrics>(registry);
  stack->client_ = std::make_unique<vault::VaultClient>(
      *stack->http_, *stack->jwt_, clock, *stack->metrics_,
      vault::VaultClientOptions{
          .addr = config.addr, .auth_mount = config.auth_mount, .auth_role = config.auth_role});
  stack->source_ = std::make_unique<vault::VaultSource>(
      *stack->client_, clock,
      vault::VaultSourceOptions{
          .aws_mount = config.aws_mount,
          .credential_type = vault::ParseCredentialType(config.credential_type)
                                 .value_or(vault::CredentialType::kAssumedRole),
          .role_map = std::move(*map)});
  return stack;
}

VaultStack::~VaultStack() {
  if (client_) {
    client_->Stop();
  }
}

ops::Check VaultStack::Check() const {
  return client_->LoggedIn() ? ops::Check::Ok()
                             : ops::Check::Fail("not logged in to Vault at " + addr_ + " yet");
}

void VaultStack::Start() { client_->Start(); }

void VaultStack::Stop() {
  if (revoke_on_shutdown_) {
    std::size_t revoked = source_->RevokeLeases();
    log::Logger("agent").Info("revoked Vault leases", {{"count", static_cast<long long>(revoked)}});
  }
  client_->Stop();
}

}  // namespace podiam::app
