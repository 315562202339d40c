#include "podiam/app/agent_credentials.hpp"

#include <optional>

#include "podiam/identity/session_name.hpp"
#include "podiam/serverclient/endpoints.hpp"

namespace podiam::app {
namespace {

// A podiam server's answers are small JSON documents.
constexpr std::size_t kMaxServerResponseBytes = std::size_t{64} * 1024;

}  // namespace

Result<std::unique_ptr<AgentCredentials>> AgentCredentials::Create(const AwsStackDeps& deps,
                                                                   const cli::AgentConfig& config,
                                                                   aws::InstanceMetadata* node_imds,
                                                                   const std::string& node) {
  std::unique_ptr<AgentCredentials> out(new AgentCredentials());
  if (!config.server.enabled() && config.vault.credential_source == "vault") {
    auto vault = VaultStack::Create(config.vault, deps.clock, deps.registry);
    if (!vault) {
      return tl::unexpected(vault.error().Wrap("vault"));
    }
    out->vault_ = std::move(*vault);
    out->vault_addr_ = config.vault.addr;
    out->source_ = &out->vault_->source();
    return out;
  }
  if (!config.server.enabled()) {
    auto aws = AwsStack::Create(deps, config.aws, node_imds,
                                identity::SanitizeSessionName("podiam-agent-" + node));
    if (!aws) {
      return tl::unexpected(aws.error());
    }
    out->aws_ = std::move(*aws);
    out->sts_source_ = std::make_unique<creds::StsSource>(out->aws_->sts());
    out->source_ = out->sts_source_.get();
    return out;
  }
  Result<std::vector<std::string>> urls = std::vector<std::string>{};
  if (!config.server.urls.empty()) {
    urls = serverclient::ParseServerUrls(config.server.urls);
  }
  if (!urls) {
    return tl::unexpected(urls.error());
  }
  std::optional<serverclient::ServiceRef> service;
  if (!config.server.service.empty()) {
    auto ref = serverclient::ParseServiceRef(config.server.service);
    if (!ref) {
      return tl::unexpected(ref.error());
    }
    service = std::move(*ref);
  }
  auto http = transport::BeastHttpClient::Create({.ca_file = config.server.ca_file,
                                                  .client_cert_file = config.server.cert_file,
                                                  .client_key_file = config.server.key_file,
                                                  .max_response_bytes = kMaxServerResponseBytes,
                                                  .user_agent = "podiam-agent"});
  if (!http) {
    return tl::unexpected(http.error().Wrap("podiam server TLS (--server-ca, --server-cert)"));
  }
  out->server_http_ = std::move(*http);
  out->token_ = std::make_unique<serverclient::FileToken>(config.server.token_file);
  out->server_ = std::make_unique<serverclient::ServerSource>(
      serverclient::ServerSourceDeps{.http = *out->server_http_,
                                     .token = *out->token_,
                                     .clock = deps.clock,
                                     .random = deps.random,
                                     .registry = deps.registry},
      serverclient::ServerSourceOptions{
          .urls = std::move(*urls),
          .discovered_tls_name = service ? service->DnsName() : std::string()});
  out->source_ = out->server_.get();
  if (service) {
    out->service_ = std::make_unique<serverdiscovery::ServiceEndpoints>(
        *service, [server = out->server_.get()](const std::vector<std::string>& found) {
          server->SetDiscovered(found);
        });
    out->service_name_ = config.server.service;
  }
  return out;
}

AgentCredentials::~AgentCredentials() { Stop(); }

const char* AgentCredentials::check_name() const {
  return aws_ ? "aws-credentials" : vault_ ? "vault-login" : "podiam-server";
}

ops::Check AgentCredentials::Check() const {
  if (aws_) {
    return aws_->CredentialsCheck();
  }
  if (vault_) {
    return vault_->Check();
  }
  return server_->Answered() ? ops::Check::Ok()
                             : ops::Check::Fail("no podiam server (--server) has answered yet");
}

std::string AgentCredentials::Describe() const {
  if (aws_) {
    return "sts " + aws_->endpoint().url;
  }
  if (vault_) {
    return "vault " + vault_addr_;
  }
  std::string out = "podiam server";
  for (const auto& url : server_->urls()) {
    out += " " + url;
  }
  if (service_) {
    out += " service " + service_name_;
  }
  return out;
}

void AgentCredentials::WatchService(KubeStack& kube) {
  if (service_) {
    kube.Watch(service_->cache(), service_->InformerOptions());
  }
}

void AgentCredentials::Start() {
  if (aws_) {
    aws_->Start();  // own credentials: retried until STS accepts them
    return;
  }
  if (vault_) {
    vault_->Start();  // login, retried until Vault accepts podiam's token; then renewals
    return;
  }
  ping_.Start([this](const std::stop_token& stop) {
    log::Logger log("agent");
    while (!stop.stop_requested() && !server_->Answered()) {
      if (auto ok = server_->Ping(); ok) {
        log.Info("podiam server answers", {{"servers", Describe()}});
        return;
      } else {
        log.Warn("no podiam server answers yet", {{"error", ok.error().ToString()}});
      }
      ping_.Sleep(std::chrono::seconds(5), stop);
    }
  });
}

void AgentCredentials::Stop() {
  if (aws_) {
    aws_->Stop();
  }
  if (vault_) {
    vault_->Stop();
  }
  ping_.Stop();
}

}  // namespace podiam::app
