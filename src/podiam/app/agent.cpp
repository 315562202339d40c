#include "podiam/app/agent.hpp"

#include <fmt/format.h>
#include <pthread.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <csignal>
#include <cstdlib>
#include <optional>
#include <thread>

#include "podiam/agent/address_filter.hpp"
#include "podiam/agent/broker_source.hpp"
#include "podiam/agent/pod_directory.hpp"
#include "podiam/app/container_credentials.hpp"
#include "podiam/aws/arn.hpp"
#include "podiam/aws/credential_sources.hpp"
#include "podiam/aws/endpoint.hpp"
#include "podiam/aws/environment.hpp"
#include "podiam/aws/http_sts_client.hpp"
#include "podiam/base/clock.hpp"
#include "podiam/base/random.hpp"
#include "podiam/base/work_queue.hpp"
#include "podiam/creds/credential_broker.hpp"
#include "podiam/creds/session_duration.hpp"
#include "podiam/hostnet/iptables.hpp"
#include "podiam/hostnet/ipv6_metadata.hpp"
#include "podiam/identity/policy.hpp"
#include "podiam/identity/session_name.hpp"
#include "podiam/k8s/cluster_config.hpp"
#include "podiam/k8s/event_recorder.hpp"
#include "podiam/k8s/http_kube_api.hpp"
#include "podiam/k8s/informer.hpp"
#include "podiam/k8s/resource.hpp"
#include "podiam/metadata/imds_handler.hpp"
#include "podiam/metrics/process.hpp"
#include "podiam/ops/ops_handler.hpp"
#include "podiam/transport/http_client.hpp"
#include "podiam/transport/http_server.hpp"
#include "podiam/transport/metrics.hpp"

namespace podiam::app {
namespace {

struct HostPort {
  std::string host;
  std::uint16_t port = 0;
};

Result<HostPort> ParseHostPort(std::string_view flag, std::string_view text) {
  auto colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) {
    return MakeError(ErrorCode::kInvalidArgument,
                     fmt::format("{} must be ADDRESS:PORT, got '{}'", flag, text));
  }
  std::string_view host = text.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  unsigned port = 0;
  std::string_view port_text = text.substr(colon + 1);
  auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || ptr != port_text.data() + port_text.size() || port > 65535) {
    return MakeError(ErrorCode::kInvalidArgument,
                     fmt::format("{} has an invalid port in '{}'", flag, text));
  }
  return HostPort{std::string(host), static_cast<std::uint16_t>(port)};
}

// The node's own metadata service, for --allow-metadata-path and --auto-discover-base-arn.
class NodeImds final : public metadata::MetadataUpstream {
 public:
  NodeImds(http::HttpClient& http, std::string base) : http_(http), base_(std::move(base)) {}

  Result<http::Response> Get(std::string_view path, metadata::SteadyTime deadline) override {
    auto now = std::chrono::steady_clock::now();
    auto budget = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now);
    if (budget.count() <= 0) {
      return MakeError(ErrorCode::kDeadlineExceeded, "no time left for the node's IMDS");
    }
    http::ClientRequest token_req{
        .method = "PUT", .url = base_ + "/latest/api/token", .timeout = budget};
    token_req.headers.Set("X-aws-ec2-metadata-token-ttl-seconds", "60");
    http::ClientRequest req{.method = "GET", .url = base_ + std::string(path), .timeout = budget};
    if (auto token = http_.Send(token_req); token && token->status == 200) {
      req.headers.Set("X-aws-ec2-metadata-token", token->body);
    }
    return http_.Send(req);
  }

 private:
  http::HttpClient& http_;
  std::string base_;
};

// kube2iam's --auto-discover-base-arn: the account and partition of the node's instance profile.
Result<aws::BaseRoleArn> DiscoverBaseArn(NodeImds& imds) {
  auto info = imds.Get("/latest/meta-data/iam/info",
                       std::chrono::steady_clock::now() + std::chrono::seconds(2));
  if (!info) {
    return tl::unexpected(info.error().Wrap("--auto-discover-base-arn: node IMDS"));
  }
  if (info->status != 200) {
    return MakeError(
        ErrorCode::kUnavailable,
        fmt::format("--auto-discover-base-arn: node IMDS iam/info answered {}", info->status));
  }
  auto json = nlohmann::json::parse(info->body, nullptr, false);
  if (json.is_discarded() || !json.contains("InstanceProfileArn")) {
    return MakeError(ErrorCode::kUpstreamInvalid,
                     "--auto-discover-base-arn: node IMDS iam/info has no InstanceProfileArn");
  }
  auto arn = aws::ParseArn(json["InstanceProfileArn"].get<std::string>());
  if (!arn) {
    return tl::unexpected(arn.error().Wrap("--auto-discover-base-arn"));
  }
  return aws::ParseBaseRoleArn(fmt::format("arn:{}:iam::{}:role/", arn->partition, arn->account));
}

// The node's region from its metadata service (placement/region), for a DaemonSet that sets no
// region: STS is then called in the node's own region and partition.
Result<std::string> DiscoverRegion(NodeImds& imds) {
  auto region = imds.Get("/latest/meta-data/placement/region",
                         std::chrono::steady_clock::now() + std::chrono::seconds(2));
  if (!region) {
    return tl::unexpected(region.error());
  }
  if (region->status != 200 || region->body.empty() || region->body.size() > 32 ||
      region->body.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-") !=
          std::string::npos) {
    return MakeError(ErrorCode::kUpstreamInvalid,
                     fmt::format("the node's metadata service answered {} for placement/region",
                                 region->status));
  }
  return region->body;
}

// Every pod may hold --max-connections-per-pod connections; the default soft limit of 1024
// descriptors would cut a busy node off long before that. Raise it to the hard limit, as the Go
// runtime does for kube2iam. Returns the soft limit now in force.
rlim_t RaiseFileLimit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) {
    return 0;
  }
  if (limit.rlim_cur < limit.rlim_max) {
    rlimit raised = limit;
    raised.rlim_cur = limit.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) {
      return raised.rlim_cur;
    }
  }
  return limit.rlim_cur;
}

std::string EnvOr(const char* name, std::string fallback) {
  const char* value = std::getenv(name);  // NOLINT(concurrency-mt-unsafe): before threads start
  return value != nullptr && *value != '\0' ? std::string(value) : std::move(fallback);
}

}  // namespace

int RunAgent(const cli::GlobalConfig& /*global*/, const cli::AgentConfig& c) {
  log::Logger log("agent");
  for (const auto& warning : c.compat_warnings) {  // kube2iam/kiam flags podiam does not honour
    log.Warn(warning);
  }
  auto fail = [&log](std::string_view what, const Error& error) {
    log.Error("cannot start the agent", {{"step", std::string(what)}, {"error", error.ToString()}});
    return 1;
  };

  // SIGTERM/SIGINT are taken synchronously by this thread; block them before any thread starts so
  // every thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  log.Debug("file descriptor limit", {{"soft", std::to_string(RaiseFileLimit())}});

  // ---- configuration
  std::string node = c.node.empty() ? EnvOr("NODE_NAME", "") : c.node;
  if (node.empty()) {
    return fail("config", Error(ErrorCode::kInvalidArgument,
                                "--node (or $NODE_NAME) is required: the agent serves one node"));
  }
  auto listen = ParseHostPort("--listen", c.listen);
  if (!listen) {
    return fail("config", listen.error());
  }
  auto ops_listen = ParseHostPort("--metrics-listen", c.metrics_listen);
  if (!ops_listen) {
    return fail("config", ops_listen.error());
  }
  auto format = identity::ParseRestrictionFormat(c.namespace_restriction_format);
  auto session_scope = identity::ParseSessionScope(c.session_scope);
  if (!session_scope) {
    return fail("config",
                Error(ErrorCode::kInvalidArgument,
                      fmt::format("--session-scope must be pod or service-account, got '{}'",
                                  c.session_scope)));
  }
  if (auto ok = creds::CheckSessionDuration({.duration = c.session_duration,
                                             .refresh_before = c.refresh_before,
                                             .min_remaining = creds::BrokerOptions{}.min_remaining,
                                             .role_chaining = !c.assume_role.empty()});
      !ok) {
    return fail("config", ok.error());
  }
  std::string region =
      !c.region.empty() ? c.region : EnvOr("AWS_REGION", EnvOr("AWS_DEFAULT_REGION", ""));

  SystemClock clock;
  SystemRandom random;
  auto addresses = agent::AddressFilter::Create(c.pod_cidrs, agent::LocalAddresses, clock);
  if (!addresses) {
    return fail("config", addresses.error());
  }
  metrics::Registry registry;
  metrics::RegisterProcessMetrics(registry);

  auto aws_http = transport::BeastHttpClient::Create({});
  if (!aws_http) {
    return fail("aws http client", aws_http.error());
  }
  std::string imds_disabled = EnvOr("AWS_EC2_METADATA_DISABLED", "");
  std::transform(imds_disabled.begin(), imds_disabled.end(), imds_disabled.begin(),
                 [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  NodeImds node_imds(**aws_http, EnvOr("PODIAM_NODE_IMDS_ENDPOINT", "http://169.254.169.254"));
  // $AWS_EC2_METADATA_DISABLED=true (the SDKs' switch): the agent asks the node's metadata
  // service nothing for itself (region, base role ARN). Pods' pass-through paths are not its own.
  const bool own_imds_disabled = imds_disabled == "true";
  identity::PolicyOptions policy_options{
      .default_role = c.default_role,
      .namespace_restrictions = c.namespace_restrictions,
      .format = format.value_or(identity::RestrictionFormat::kGlob),
  };
  policy_options.keys.role = c.iam_role_key;
  policy_options.keys.external_id = c.iam_external_id;
  policy_options.keys.allowed_roles = c.namespace_key;
  if (!c.base_role_arn.empty()) {
    auto base = aws::ParseBaseRoleArn(c.base_role_arn);
    if (!base) {
      return fail("config", base.error().Wrap("--base-role-arn"));
    }
    policy_options.base = *base;
  } else if (c.auto_discover_base_arn) {
    auto base = own_imds_disabled ? Result<aws::BaseRoleArn>(MakeError(
                                        ErrorCode::kFailedPrecondition,
                                        "--auto-discover-base-arn: the node's metadata service is "
                                        "disabled (AWS_EC2_METADATA_DISABLED)"))
                                  : DiscoverBaseArn(node_imds);
    if (!base) {
      return fail("config", base.error());
    }
    log.Info("discovered the base role ARN", {{"base_role_arn", base->ToString()}});
    policy_options.base = *base;
  }
  identity::RolePolicy policy(policy_options);

  // ---- AWS: podiam's own credentials, then the STS client that assumes pod roles.
  if (region.empty()) {
    auto discovered = own_imds_disabled
                          ? Result<std::string>(MakeError(ErrorCode::kFailedPrecondition,
                                                          "AWS_EC2_METADATA_DISABLED is true"))
                          : DiscoverRegion(node_imds);
    if (discovered) {
      region = *discovered;
      log.Info("region from the node's metadata service", {{"region", region}});
    } else {
      region = "us-east-1";
      log.Warn(
          "no --region, $AWS_REGION or node metadata service: using us-east-1; set --region "
          "off AWS or in another partition",
          {{"error", discovered.error().ToString()}});
    }
  }
  aws::StsMetrics sts_metrics(registry);
  auto endpoint = aws::ResolveStsEndpoint({.region = region, .url_override = c.sts_endpoint});
  if (!endpoint) {
    return fail("config", endpoint.error().Wrap("STS endpoint"));
  }
  aws::HttpStsClient unsigned_sts(**aws_http, nullptr, sts_metrics, clock, random,
                                  {.endpoint = *endpoint});
  aws::CachingCredentialsProvider own(
      aws::NewDefaultCredentialsChain(
          {.http = **aws_http, .web_identity_sts = unsigned_sts, .clock = clock}),
      clock, random);
  aws::CredentialsProvider* signer = &own;
  std::unique_ptr<aws::HttpStsClient> base_sts;
  std::unique_ptr<aws::CachingCredentialsProvider> intermediate;
  if (!c.assume_role.empty()) {
    if (auto role = aws::ParseRoleArn(c.assume_role); !role) {
      return fail("config", role.error().Wrap("--assume-role"));
    }
    base_sts =
        std::make_unique<aws::HttpStsClient>(**aws_http, &own, sts_metrics, clock, random,
                                             aws::HttpStsClientOptions{.endpoint = *endpoint});
    intermediate = std::make_unique<aws::CachingCredentialsProvider>(
        std::make_unique<aws::AssumeRoleCredentialsProvider>(
            *base_sts,
            aws::AssumeRoleRequest{
                .role_arn = c.assume_role,
                .role_session_name = identity::SanitizeSessionName("podiam-agent-" + node)},
            clock),
        clock, random);
    signer = intermediate.get();
  }
  aws::HttpStsClient sts(**aws_http, signer, sts_metrics, clock, random, {.endpoint = *endpoint});
  creds::CredentialBroker broker(
      sts, clock, random, registry,
      {.refresh_before = c.refresh_before,
       .duration_seconds = static_cast<int>(c.session_duration.count())});

  // ---- Kubernetes: this node's pods, all namespaces and service accounts.
  auto cluster = k8s::LoadClusterConfig(
      {.kubeconfig = c.kubeconfig, .allow_insecure = c.kube_insecure_skip_tls_verify}, clock);
  if (!cluster) {
    return fail("kubernetes config", cluster.error());
  }
  auto kube_http =
      transport::BeastHttpClient::Create({.ca_file = cluster->ca_file,
                                          .client_cert_file = cluster->client_cert_file,
                                          .client_key_file = cluster->client_key_file,
                                          .insecure_skip_verify = cluster->insecure_skip_tls_verify,
                                          .user_agent = "podiam-agent"});
  if (!kube_http) {
    return fail("kubernetes http client", kube_http.error());
  }
  k8s::K8sMetrics k8s_metrics(registry);
  k8s::HttpKubeApi kube(**kube_http, *cluster, k8s_metrics, clock);
  // Direct lookups run inside a pod's request: keep them well under the SDKs' 1 s timeout.
  k8s::HttpKubeApi lookup(**kube_http, *cluster, k8s_metrics, clock,
                          {.request_timeout = std::chrono::milliseconds(500)});
  const std::string session_name_key = "iam.amazonaws.com/session-name";
  k8s::PodCache pods({.annotation_keys = {c.iam_role_key, c.iam_external_id, session_name_key},
                      .duplicate_ips = c.duplicate_ips == "refuse"
                                           ? k8s::DuplicateIpPolicy::kRefuse
                                           : k8s::DuplicateIpPolicy::kPreferNewest});
  k8s::NamespaceCache namespaces(
      {.annotation_keys = {c.namespace_key, policy_options.keys.permitted}});
  k8s::ServiceAccountCache accounts({.annotation_keys = {c.iam_role_key}});
  k8s::EventRecorder events(kube, clock, k8s_metrics,
                            {.reporting_instance = "podiam-agent-" + node});
  k8s::Informer pod_informer(
      kube, pods, k8s_metrics, clock, random,
      {.resource = k8s::resources::Pods(), .field_selector = "spec.nodeName=" + node});
  k8s::Informer namespace_informer(kube, namespaces, k8s_metrics, clock, random,
                                   {.resource = k8s::resources::Namespaces()});
  k8s::Informer account_informer(kube, accounts, k8s_metrics, clock, random,
                                 {.resource = k8s::resources::ServiceAccounts()});
  auto informers_synced = [&] {
    return pod_informer.HasSynced() && namespace_informer.HasSynced() &&
           account_informer.HasSynced();
  };
  agent::PodDirectory directory(
      pods, namespaces, accounts, policy, broker, lookup, &events, clock, registry,
      {.node = node,
       .session_name_key = session_name_key,
       .session = {.scope = *session_scope,
                   .tags = c.session_tags,
                   .cluster_name = c.cluster_name,
                   .source_identity = c.source_identity},
       .duration_seconds = static_cast<int>(c.session_duration.count()),
       .synced = informers_synced,
       .is_node_address = [&](std::string_view ip) { return (*addresses)->IsNodeAddress(ip); },
       .may_be_pod = [&](std::string_view ip) { return (*addresses)->MayBePod(ip); }});

  // ---- the pod-facing handler
  auto issuer = metadata::ImdsTokenIssuer::Create(random, clock);
  if (!issuer) {
    return fail("imds tokens", issuer.error());
  }
  metadata::ImdsMetrics imds_metrics(registry);
  agent::BrokerSource source(broker);
  // Blocking work (STS fetches, the node's metadata service) off the I/O threads: bounded, and no
  // source address may hold more than its share of it.
  WorkQueue workers({.threads = 16, .max_queued = 1024, .max_per_key = 8});
  auto imds = metadata::ImdsHandler::Create(
      directory, source, **issuer, clock, imds_metrics,
      {.imdsv1 = c.imdsv1,
       .allow_path = c.allow_metadata_path,
       .default_allow_list = c.metadata_allow_list == "default",
       .offload =
           [&workers](std::string_view source_ip, std::function<void()> work) {
             return workers.TryPost(source_ip, std::move(work));
           }},
      &node_imds);  // used only for paths the handler allows (imds_path.hpp)
  if (!imds) {
    return fail("config", imds.error());
  }

  // ---- readiness
  std::atomic<bool> own_credentials_ok{false};
  ops::Readiness readiness;
  readiness.Add("informers-synced", [&] {
    return informers_synced()
               ? ops::Check::Ok()
               : ops::Check::Fail("pods, namespaces or service accounts not listed yet");
  });
  readiness.Add("aws-credentials", [&] {
    return own_credentials_ok.load() ? ops::Check::Ok()
                                     : ops::Check::Fail("STS GetCallerIdentity has not succeeded");
  });

  // ---- node networking, then servers: pods must never fall through to the node's IMDS.
  hostnet::SubprocessRunner runner;
  std::optional<hostnet::MetadataRedirect> redirect;
  if (c.iptables) {
    redirect.emplace(runner, hostnet::RedirectOptions{.host_interface = c.host_interface,
                                                      .host_ip = c.host_ip,
                                                      .port = listen->port,
                                                      .metadata_addr = c.metadata_addr});
    if (auto ok = redirect->Install(); !ok) {
      return fail("iptables", ok.error());
    }
    log.Info(
        "metadata DNAT rule in place",
        {{"interface", c.host_interface}, {"to", c.host_ip + ":" + std::to_string(listen->port)}});
  }
  std::optional<hostnet::Ipv6MetadataRedirect> redirect6;  // [fd00:ec2::254]: docs/security.md
  bool listen6 = false;
  if (c.iptables) {
    redirect6.emplace(runner, hostnet::PodsCanReach,
                      hostnet::Ipv6RedirectOptions{.mode = c.ipv6_metadata,
                                                   .metadata_addr = c.metadata_addr_v6,
                                                   .host_ip = c.host_ipv6,
                                                   .host_interface = c.host_interface,
                                                   .port = listen->port});
    auto v6 = redirect6->Install();
    if (!v6) {
      return fail("ip6tables", v6.error());
    }
    if (v6->warn) {
      log.Warn(v6->message);
    } else {
      log.Info(v6->message);
    }
    listen6 = v6->installed && listen->host != "::";  // "::" already listens on every address
  }
  transport::HttpServerMetrics http_metrics(registry);
  auto container_credentials = MakeContainerCredentials(
      {c, node, kube, lookup, k8s_metrics, pods, namespaces, accounts, policy, broker, &events,
       clock, random, registry, http_metrics, workers, informers_synced});
  unsigned cores = std::max(1U, std::thread::hardware_concurrency());
  transport::HttpServer ops_server({.address = ops_listen->host,
                                    .port = ops_listen->port,
                                    .threads = 1,
                                    .name = "ops",
                                    .metrics = &http_metrics},
                                   ops::MakeOpsHandler(registry, readiness));
  transport::HttpServer imds_server(
      {.address = listen->host,
       .port = listen->port,
       .threads = c.threads > 0 ? c.threads : static_cast<int>(std::min(cores, 4U)),
       .max_connections_per_client = static_cast<std::size_t>(c.max_connections_per_pod),
       .name = "imds",
       .metrics = &http_metrics},
      *imds);
  if (auto ok = ops_server.Start(); !ok) {
    return fail("ops listener " + c.metrics_listen, ok.error());
  }
  if (auto ok = imds_server.Start(); !ok) {
    return fail("metadata listener " + c.listen, ok.error());
  }
  std::optional<transport::HttpServer> imds_server6;  // where the IPv6 DNAT rule points
  if (listen6) {
    imds_server6.emplace(
        transport::HttpServerOptions{
            .address = c.host_ipv6,
            .port = listen->port,
            .threads = 1,
            .max_connections_per_client = static_cast<std::size_t>(c.max_connections_per_pod),
            .name = "imds",
            .metrics = &http_metrics},
        *imds);
    if (auto ok = imds_server6->Start(); !ok) {
      return fail("metadata listener [" + c.host_ipv6 + "]", ok.error());
    }
  }
  events.Start();
  broker.Start();
  directory.Start();
  pod_informer.Start();
  namespace_informer.Start();
  account_informer.Start();
  if (container_credentials) {
    container_credentials->Start();
  }
  log.Info("agent started", {{"node", node},
                             {"listen", listen->host + ":" + std::to_string(imds_server.port())},
                             {"ops", ops_listen->host + ":" + std::to_string(ops_server.port())},
                             {"sts", endpoint->url},
                             {"kubernetes", cluster->origin}});

  // Own credentials: keep trying until STS accepts them, then report who podiam is.
  std::atomic<bool> stopping{false};
  std::thread identity_check([&] {
    while (!stopping.load()) {
      auto who = sts.GetCallerIdentity();
      if (who) {
        own_credentials_ok = true;
        log.Info("own AWS credentials work", {{"arn", who->arn}});
        return;
      }
      log.Warn("own AWS credentials do not work yet", {{"error", who.error().ToString()}});
      for (int i = 0; i < 50 && !stopping.load(); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    }
  });

  int signal_number = 0;
  sigwait(&signals, &signal_number);
  log.Info("shutting down", {{"signal", signal_number}});
  stopping = true;
  imds_server.Stop(std::chrono::seconds(2));
  if (imds_server6) {
    imds_server6->Stop(std::chrono::seconds(2));
  }
  if (container_credentials) {
    container_credentials->Stop();
  }
  pod_informer.Stop();
  namespace_informer.Stop();
  account_informer.Stop();
  identity_check.join();
  directory.Stop();
  broker.Stop();
  workers.Stop();
  events.Stop();
  ops_server.Stop(std::chrono::seconds(1));
  if (redirect && c.iptables_remove_on_exit) {
    if (auto ok = redirect->Remove(); !ok) {
      log.Warn("cannot remove the metadata DNAT rule", {{"error", ok.error().ToString()}});
    }
  }
  if (redirect6 && c.iptables_remove_on_exit) {
    if (auto ok = redirect6->Remove(); !ok) {
      log.Warn("cannot remove the IPv6 metadata DNAT rule", {{"error", ok.error().ToString()}});
    }
  }
  log.Info("agent stopped");
  return 0;
}

}  // namespace podiam::app
