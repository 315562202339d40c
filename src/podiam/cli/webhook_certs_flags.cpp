#include "podiam/cli/webhook_certs_flags.hpp"

#include "podiam/cli/command_line.hpp"
#include "podiam/pki/serving_cert.hpp"

namespace podiam::cli {
namespace {

template <typename T>
CLI::Option* Add(CLI::App& app, const std::string& name, T& target, const std::string& help) {
  auto* opt = app.add_option(name, target, help);
  opt->envname(EnvNameForFlag(name));
  return opt;
}

CLI::Validator DnsLabel() {
  return {[](const std::string& value) -> std::string {
            return pki::IsDnsLabel(value)
                       ? std::string()
                       : "\"" + value + "\" is not a DNS label (lower-case letters, digits, '-')";
          },
          "DNS-LABEL"};
}

}  // namespace

void AddWebhookCertsFlags(CLI::App& certs, WebhookCertsConfig& c) {
  Add(certs, "--service-name", c.service_name, "The webhook's Service")
      ->check(DnsLabel())
      ->capture_default_str();
  Add(certs, "--namespace", c.namespace_name, "The Service's namespace")
      ->check(DnsLabel())
      ->capture_default_str();
  Add(certs, "--out", c.out, "Directory for tls.crt, tls.key (mode 0600) and ca.crt")->required();
  auto* force = certs.add_flag("--force{true}", c.force, "Overwrite existing files in --out");
  force->envname(EnvNameForFlag("--force"));
  Add(certs, "--days", c.days, "Validity of the CA and the certificate, in days")
      ->check(CLI::Range(1, 36500))
      ->capture_default_str();
  Add(certs, "--manifest", c.manifest,
      "Write the caBundle into this MutatingWebhookConfiguration manifest instead of printing it")
      ->check(CLI::ExistingFile);
}

}  // namespace podiam::cli
