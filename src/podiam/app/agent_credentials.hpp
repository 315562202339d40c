// Where `podiam agent` gets pods' credentials (the broker's creds::CredentialSource):
//   - default: STS with podiam's own AWS credentials (AwsStack; readiness = GetCallerIdentity
//     works);
//   - `--server URL[,URL…]` and/or `--server-service NS/NAME[:PORT]` (server mode,
//     docs/agent.md): a podiam server over HTTPS (serverclient::ServerSource), the Service's
//     ready endpoints watched by WatchService(). No AwsStack is made: the node needs no AWS
//     permissions.
//     Readiness = some server has answered (GET /readyz, retried every 5 s until one does, or
//     any answer to a credentials request).
//   - `--credential-source vault` (docs/vault.md): Vault's AWS secrets engine (VaultStack). No
//     AwsStack either. Readiness = podiam is logged in to Vault.
//
// Thread-safety: construct, Start and Stop from the controlling thread; source() is used by the
// broker's threads.
//
//   auto creds = AgentCredentials::Create(deps, config, node_imds.ForOwnUse(), node);
//   creds::CredentialBroker broker((*creds)->source(), clock, random, registry, options);
//   ops.readiness().Add((*creds)->check_name(), [&] { return (*creds)->Check(); });
#pragma once

#include <memory>
#include <string>

#include "podiam/app/aws_stack.hpp"
#include "podiam/app/kube_stack.hpp"
#include "podiam/app/vault_stack.hpp"
#include "podiam/base/loop_thread.hpp"
#include "podiam/cli/config.hpp"
#include "podiam/creds/credential_source.hpp"
#include "podiam/serverclient/server_source.hpp"
#include "podiam/serverdiscovery/endpoint_slices.hpp"
#include "podiam/transport/http_client.hpp"

namespace podiam::app {

class AgentCredentials {
 public:
  // Fails on bad AWS settings (STS mode) or unreadable --server-ca/--server-cert/--server-key.
  static Result<std::unique_ptr<AgentCredentials>> Create(const AwsStackDeps& deps,
                                                          const cli::AgentConfig& config,
                                                          aws::InstanceMetadata* node_imds,
                                                          const std::string& node);
  ~AgentCredentials();
  AgentCredentials(const AgentCredentials&) = delete;
  AgentCredentials& operator=(const AgentCredentials&) = delete;

  creds::CredentialSource& source() { return *source_; }
  // "aws-credentials", "podiam-server" or "vault-login", and its readiness.
  [[nodiscard]] const char* check_name() const;
  [[nodiscard]] ops::Check Check() const;
  // For the "agent started" line: "sts <endpoint>", "podiam server <urls>" or "vault <addr>".
  [[nodiscard]] std::string Describe() const;

  // With --server-service: registers the EndpointSlice informer (call before kube.Start()).
  void WatchService(KubeStack& kube);

  void Start();
  // Call after the broker has stopped: with --vault-revoke-on-shutdown it revokes leases.
  void Stop();

 private:
  AgentCredentials() = default;

  std::unique_ptr<AwsStack> aws_;  // STS mode
  // Server mode.
  std::unique_ptr<transport::BeastHttpClient> server_http_;
  std::unique_ptr<serverclient::FileToken> token_;
  std::unique_ptr<serverclient::ServerSource> server_;
  std::unique_ptr<serverdiscovery::ServiceEndpoints> service_;
  std::string service_name_;
  LoopThread ping_;

  std::unique_ptr<VaultStack> vault_;  // Vault mode
  std::string vault_addr_;

  std::unique_ptr<creds::CredentialSource> sts_source_;
  creds::CredentialSource* source_ = nullptr;
};

}  // namespace podiam::app
