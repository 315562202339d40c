#include "podiam/cli/server_flags.hpp"

#include <memory>
#include <string>

#include "podiam/cli/compat_flags.hpp"
#include "podiam/cli/flags.hpp"
#include "podiam/serverclient/endpoints.hpp"

namespace podiam::cli {
namespace {

// kiam's values, translated after the parse.
struct KiamServerFlags {
  std::string server_address;
  std::string cert;
  std::string key;
  std::string ca;
  CLI::Option* address_option = nullptr;
  CLI::Option* cert_option = nullptr;
  CLI::Option* key_option = nullptr;
  CLI::Option* ca_option = nullptr;
  const CLI::Option* podiam_server = nullptr;
  const CLI::Option* podiam_cert = nullptr;
  const CLI::Option* podiam_key = nullptr;
  const CLI::Option* podiam_ca = nullptr;
};

bool Given(const CLI::Option* option) { return option != nullptr && option->count() > 0; }

// Sets `target` from kiam's flag; a podiam flag given with another value is a usage error.
void Merge(std::string& target, const CLI::Option* podiam, const std::string& podiam_name,
           const std::string& value, const CLI::Option* kiam, const std::string& kiam_name) {
  if (!Given(kiam)) {
    return;
  }
  if (Given(podiam) && target != value) {
    throw CLI::ValidationError(kiam_name + "=" + value + " and " + podiam_name + "=" + target +
                               " disagree; give only one of them");
  }
  target = value;
}

void Translate(const KiamServerFlags& k, AgentConfig& c) {
  ServerSourceFlags& s = c.server;
  if (Given(k.address_option)) {
    std::string address = k.server_address;
    if (address.rfind("dns:///", 0) == 0) {
      address.erase(0, 7);
    }
    const std::string url = "https://" + address;
    if (Given(k.podiam_server) && (s.urls.size() != 1 || s.urls.front() != url)) {
      throw CLI::ValidationError("--server-address=" + k.server_address +
                                 " and --server disagree; give only one of them");
    }
    s.urls = {url};
    c.compat_warnings.push_back(
        "--server-address=" + k.server_address + ": the agent asks a podiam server at " + url +
        " for pods' credentials (server mode, docs/agent.md); kiam's server does not speak its "
        "protocol, so run podiam server there, or drop --server-address to call STS directly");
  }
  const bool server = s.enabled();
  std::string ignored;
  for (auto [target, podiam, podiam_name, value, kiam, kiam_name] :
       {std::tuple{&s.cert_file, k.podiam_cert, "--server-cert", &k.cert, k.cert_option, "--cert"},
        std::tuple{&s.key_file, k.podiam_key, "--server-key", &k.key, k.key_option, "--key"},
        std::tuple{&s.ca_file, k.podiam_ca, "--server-ca", &k.ca, k.ca_option, "--ca"}}) {
    if (server) {
      Merge(*target, podiam, podiam_name, *value, kiam, kiam_name);
    } else if (Given(kiam) && !value->empty()) {
      ignored += (ignored.empty() ? "" : ", ") + std::string(kiam_name);
    }
  }
  if (!ignored.empty()) {
    c.compat_warnings.push_back(
        ignored +
        " ignored: without --server (kiam's --server-address) podiam agent calls STS itself with "
        "its own AWS credentials; there is no agent-server TLS to configure");
  }
}

}  // namespace

void AddServerFlags(CLI::App& agent, AgentConfig& config) {
  const char* group = "podiam server (server mode)";
  ServerSourceFlags& s = config.server;
  auto k = std::make_shared<KiamServerFlags>();
  k->podiam_server =
      AddFlag(agent, "--server", s.urls,
              "Get pods' credentials from podiam server at these https URLs (comma-separated or "
              "repeated; tried in order, with fail-over) instead of calling STS")
          ->group(group)
          ->delimiter(',');
  AddFlag(agent, "--server-service", s.service,
          "podiam server's Service as NAMESPACE/NAME[:PORT] (PORT a name or number; default the "
          "port named https, or the only one): its ready endpoints (EndpointSlices) are tried "
          "after the --server URLs, their certificates checked for NAME.NAMESPACE.svc")
      ->group(group);
  k->podiam_ca = AddFlag(agent, "--server-ca", s.ca_file,
                         "PEM CA bundle that signed podiam server's certificate (default: the "
                         "system's trust store)")
                     ->group(group);
  AddFlag(agent, "--server-token-file", s.token_file,
          "The agent's projected ServiceAccount token (audience podiam-server), read on every "
          "request")
      ->group(group)
      ->capture_default_str();
  k->podiam_cert = AddFlag(agent, "--server-cert", s.cert_file,
                           "PEM client certificate for podiam server (optional mTLS)")
                       ->group(group);
  k->podiam_key =
      AddFlag(agent, "--server-key", s.key_file, "PEM key of --server-cert")->group(group);

  auto value = [&agent](const std::string& name, std::string& target, const std::string& help) {
    auto* option = agent.add_option(name, target, help);
    option->group(kCompatGroup)->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
    return option;
  };
  k->address_option = value("--server-address", k->server_address, "kiam: --server https://ADDR");
  k->cert_option = value("--cert", k->cert, "kiam: --server-cert (with a server)");
  k->key_option = value("--key", k->key, "kiam: --server-key (with a server)");
  k->ca_option = value("--ca", k->ca, "kiam: --server-ca (with a server)");
  agent.parse_complete_callback([k, &config] { Translate(*k, config); });
}

Result<void> CheckServerFlags(const ServerSourceFlags& flags) {
  if (!flags.enabled()) {
    for (const auto& [value, name] :
         {std::pair{&flags.ca_file, "--server-ca"}, std::pair{&flags.cert_file, "--server-cert"},
          std::pair{&flags.key_file, "--server-key"}}) {
      if (!value->empty()) {
        return MakeError(ErrorCode::kInvalidArgument,
                         std::string(name) + " needs --server or --server-service");
      }
    }
    return {};
  }
  if (!flags.urls.empty()) {
    if (auto urls = serverclient::ParseServerUrls(flags.urls); !urls) {
      return tl::unexpected(urls.error());
    }
  }
  if (!flags.service.empty()) {
    if (auto service = serverclient::ParseServiceRef(flags.service); !service) {
      return tl::unexpected(service.error());
    }
  }
  if (flags.cert_file.empty() != flags.key_file.empty()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "--server-cert and --server-key go together (a client certificate and its "
                     "key)");
  }
  if (flags.token_file.empty()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "--server-token-file must not be empty: podiam server authenticates the "
                     "agent by its ServiceAccount token");
  }
  return {};
}

}  // namespace podiam::cli
