#include "podiam/cli/webhook_flags.hpp"

#include <algorithm>
#include <charconv>

#include "podiam/cli/command_line.hpp"

namespace podiam::cli {
namespace {

constexpr const char* kReferenceGroup = "amazon-eks-pod-identity-webhook flags";
constexpr const char* kPodiamGroup = "podiam webhook flags";
constexpr const char* kIgnoredGroup = "Accepted for compatibility, not used";

template <typename T>
CLI::Option* Add(CLI::App& app, const std::string& name, T& target, const std::string& help,
                 const char* group) {
  auto* opt = app.add_option(name, target, help);
  opt->envname(EnvNameForFlag(name));
  opt->group(group);
  opt->capture_default_str();
  return opt;
}

CLI::Option* AddBool(CLI::App& app, const std::string& name, bool& target, const std::string& help,
                     const char* group) {
  auto* opt = app.add_flag(name + "{true}", target, help);
  opt->envname(EnvNameForFlag(name));
  opt->default_str(target ? "true" : "false");
  opt->group(group);
  return opt;
}

CLI::Option* AddMillis(CLI::App& app, const std::string& name, std::chrono::milliseconds& target,
                       const std::string& help) {
  auto* opt = app.add_option_function<std::string>(
      name,
      [&target, name](const std::string& value) {
        auto d = ParseDuration(value);
        if (!d || d->count() <= 0) {
          throw CLI::ValidationError(name, "'" + value + "' is not a positive duration such as 3s");
        }
        target = std::chrono::duration_cast<std::chrono::milliseconds>(*d);
      },
      help);
  opt->envname(EnvNameForFlag(name));
  opt->group(kPodiamGroup);
  return opt;
}

// A path-like flag must not be empty (the reference would inject an empty path).
CLI::Validator NonEmpty() {
  return {[](const std::string& v) { return v.empty() ? std::string("must not be empty") : ""; },
          "NONEMPTY"};
}

// An absolute path (mount paths).
CLI::Validator Absolute() {
  return {[](const std::string& v) {
            return v.empty() || v.front() != '/' ? std::string("must be an absolute path") : "";
          },
          "ABSPATH"};
}

CLI::Validator HttpUrl() {
  return {[](const std::string& v) {
            return v.starts_with("http://") || v.starts_with("https://")
                       ? std::string()
                       : std::string("must be an http:// or https:// URL");
          },
          "URL"};
}

}  // namespace

void AddWebhookFlags(CLI::App& sub, WebhookConfig& c) {
  const char* g = kReferenceGroup;
  Add(sub, "--annotation-prefix", c.annotation_prefix,
      "Prefix of the ServiceAccount and pod annotations", g)
      ->check(NonEmpty());
  Add(sub, "--token-audience", c.token_audience,
      "Default audience of the projected token (ServiceAccount annotation <prefix>/audience "
      "overrides it)",
      g);
  Add(sub, "--token-mount-path", c.token_mount_path, "Where the token volume is mounted", g)
      ->check(Absolute());
  Add(sub, "--token-expiration", c.token_expiration,
      "Token lifetime in seconds; below 600 becomes 600", g)
      ->transform(CLI::Validator(
          [](std::string& v) {
            long long seconds = 0;
            auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), seconds);
            if (ec != std::errc() || end != v.data() + v.size() || seconds <= 0) {
              return std::string("must be a positive number of seconds");
            }
            if (seconds < 600) {  // the reference raises it to the apiserver's minimum
              v = "600";
            }
            return std::string();
          },
          "SECONDS"));
  Add(sub, "--aws-default-region", c.aws_default_region,
      "If set, AWS_DEFAULT_REGION and AWS_REGION are injected with this value", g);
  AddBool(sub, "--sts-regional-endpoint", c.sts_regional_endpoint,
          "Inject AWS_STS_REGIONAL_ENDPOINTS=regional", g);
  Add(sub, "--port", c.port, "HTTPS port of POST /mutate (and /healthz)", g)
      ->check(CLI::Range(1, 65535));
  Add(sub, "--tls-cert", c.tls_cert, "Serving certificate (PEM); reloaded when it changes", g)
      ->check(NonEmpty());
  Add(sub, "--tls-key", c.tls_key, "Serving key (PEM); reloaded when it changes", g)
      ->check(NonEmpty());
  Add(sub, "--metrics-port", c.metrics_port, "HTTP port of /metrics, /healthz and /readyz", g)
      ->check(CLI::Range(1, 65535));
  AddBool(sub, "--in-cluster", c.in_cluster,
          "Use the in-cluster API configuration when --kubeconfig is not given (podiam never "
          "requests its certificate through the CSR API: use --tls-cert/--tls-key)",
          g);
  Add(sub, "--kubeconfig", c.kubeconfig, "Kubeconfig; default $KUBECONFIG, then in-cluster", g);
  Add(sub, "--watch-container-credentials-config", c.watch_container_credentials_config,
      "JSON file {\"identities\":[{\"namespace\",\"serviceAccount\"}]} of ServiceAccounts "
      "getting container credentials; re-read when it changes",
      g);
  Add(sub, "--container-credentials-audience", c.container_credentials_audience,
      "Audience of the container-credentials token", g)
      ->check(NonEmpty());
  Add(sub, "--container-credentials-token-mount-path", c.container_credentials_token_mount_path,
      "Where the container-credentials token volume is mounted", g)
      ->check(Absolute());
  Add(sub, "--container-credentials-token-volume-name", c.container_credentials_token_volume_name,
      "Name of the container-credentials token volume", g)
      ->check(NonEmpty());
  Add(sub, "--container-credentials-token-path", c.container_credentials_token_path,
      "File name of the container-credentials token in its volume", g)
      ->check(NonEmpty());
  Add(sub, "--container-credentials-full-uri", c.container_credentials_full_uri,
      "Value of AWS_CONTAINER_CREDENTIALS_FULL_URI", g)
      ->check(HttpUrl());

  g = kPodiamGroup;
  Add(sub, "--listen-address", c.listen_address,
      "Numeric address both ports listen on (0.0.0.0, ::, 127.0.0.1)", g);
  AddBool(sub, "--pod-identity-associations", c.pod_identity_associations,
          "Watch PodIdentityAssociations (podiam.io/v1alpha1, deploy/crds/) and give their "
          "ServiceAccounts' pods container credentials",
          g);
  AddBool(sub, "--container-credentials-from-annotations", c.container_credentials_from_annotations,
          "Also give container credentials to pods whose ServiceAccount carries --iam-role-key "
          "(the role podiam agent's container-credentials endpoint serves)",
          g);
  Add(sub, "--iam-role-key", c.iam_role_key,
      "ServiceAccount annotation naming the role, as the agent's --iam-role-key", g)
      ->check(NonEmpty());
  AddMillis(sub, "--service-account-lookup-timeout", c.lookup_timeout,
            "Budget for reading a ServiceAccount missing from the cache from the apiserver");
  AddMillis(sub, "--tls-reload-interval", c.tls_reload_interval,
            "How often the certificate files are checked for changes");
  AddMillis(sub, "--informer-start-delay", c.informer_start_delay, "")->group("");
  Add(sub, "--threads", c.threads, "I/O threads of the HTTPS listener", g)
      ->check(CLI::Range(1, 64));
  AddBool(sub, "--kube-insecure-skip-tls-verify", c.kube_insecure_skip_tls_verify,
          "Honour insecure-skip-tls-verify from the kubeconfig (tests only)", g);

  // The reference's flags that podiam has no use for; klog's usual ones too.
  struct Ignored {
    const char* name;
    const char* why;
  };
  static constexpr Ignored kIgnored[] = {
      {"--namespace", "only used by the reference's CSR certificate path"},
      {"--service-name", "only used by the reference's CSR certificate path"},
      {"--tls-secret", "only used by the reference's CSR certificate path"},
      {"--kube-api", "use --kubeconfig"},
      {"--tls-cipher-suites", "podiam uses OpenSSL's TLS 1.2+ defaults"},
      {"--tls-min-version", "podiam uses OpenSSL's TLS 1.2+ defaults"},
      {"--watch-config-map", "the pod-identity-webhook ConfigMap is not supported"},
      {"--compose-role-arn", "role-arn annotations must be full ARNs"},
      {"--enable-debugging-handlers", "no debugging handlers"},
      {"--service-account-lookup-grace-period",
       "podiam reads a missing ServiceAccount from the apiserver instead"},
      {"--resync-period", "the informer resyncs by relisting on its own"},
      {"--logtostderr", "podiam always logs to stderr"},
      {"--alsologtostderr", "podiam always logs to stderr"},
      {"--v", "use --log-level"},
  };
  for (const auto& ignored : kIgnored) {
    std::string name = ignored.name;
    std::string why = ignored.why;
    std::string warning = "flag ";
    warning.append(name).append(" is ignored: ").append(why);
    auto* opt = sub.add_option_function<std::string>(
        name,
        [&c, warning = std::move(warning)](const std::string&) {
          c.compat_warnings.push_back(warning);
        },
        std::string("Accepted, not used: ") + why);
    opt->expected(0, 1);
    opt->group(kIgnoredGroup);
  }
}

}  // namespace podiam::cli
