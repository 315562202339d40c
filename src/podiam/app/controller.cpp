#include "podiam/app/controller.hpp"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <vector>

#include "podiam/app/aws_stack.hpp"
#include "podiam/app/kube_stack.hpp"
#include "podiam/app/ops_stack.hpp"
#include "podiam/app/process.hpp"
#include "podiam/app/role_policy.hpp"
#include "podiam/aws/environment.hpp"
#include "podiam/base/clock.hpp"
#include "podiam/base/random.hpp"
#include "podiam/controller/controller.hpp"
#include "podiam/controller/secret_format.hpp"
#include "podiam/creds/credential_broker.hpp"
#include "podiam/http/host_port.hpp"
#include "podiam/identity/session_name.hpp"
#include "podiam/k8s/event_recorder.hpp"
#include "podiam/k8s/leader_elector.hpp"
#include "podiam/transport/http_client.hpp"

namespace podiam::app {

int RunController(const cli::GlobalConfig& /*global*/, const cli::ControllerConfig& c) {
  log::Logger log("controller");
  auto fail = [&log](std::string_view what, const Error& error) {
    log.Error("cannot start the controller",
              {{"step", std::string(what)}, {"error", error.ToString()}});
    return 1;
  };
  ShutdownSignals signals;  // before any thread starts
  RaiseFileLimit();
  const aws::Environment env = aws::ProcessEnvironment();
  auto ops_listen = http::ParseHostPort(c.ops.metrics_listen);
  if (!ops_listen) {
    return fail("config", ops_listen.error().Wrap("--metrics-listen"));
  }
  SystemClock clock;
  SystemRandom random;
  OpsStack ops(*ops_listen);
  auto aws_http = transport::BeastHttpClient::Create({});
  if (!aws_http) {
    return fail("aws http client", aws_http.error());
  }
  // The controller runs in a pod: no node metadata service (no --auto-discover-base-arn).
  auto policy_options = PolicyOptionsFrom(c.roles, nullptr, clock, log);
  if (!policy_options) {
    return fail("config", policy_options.error());
  }
  const std::string instance =
      aws::NonEmpty(env, "POD_NAME").value_or(aws::NonEmpty(env, "HOSTNAME").value_or("local"));

  // ---- AWS: podiam's own credentials, then the broker shared with the agent's design.
  auto aws = AwsStack::Create({.http = **aws_http,
                               .clock = clock,
                               .random = random,
                               .registry = ops.registry(),
                               .env = env,
                               .log_component = "controller"},
                              c.aws, nullptr, identity::SanitizeSessionName("podiam-controller"));
  if (!aws) {
    return fail("config", aws.error());
  }
  creds::CredentialBroker broker(
      (*aws)->sts(), clock, random, ops.registry(),
      {.refresh_before = c.sessions.refresh_before,
       .duration_seconds = static_cast<int>(c.sessions.session_duration.count())});

  // ---- Kubernetes: AWSIAMRoles and the namespaces' policy annotations.
  auto kube = KubeStack::Connect(c.kube, clock, random, ops.registry(), "podiam-controller");
  if (!kube) {
    return fail("kubernetes", kube.error());
  }
  identity::RolePolicy policy(*policy_options);
  k8s::NamespaceCache namespaces(
      {.annotation_keys = {policy.options().keys.allowed_roles, policy.options().keys.permitted}});
  controller::RoleCache podiam_roles;
  controller::RoleCache zalando_roles;
  std::vector<controller::RoleCache*> role_caches = {&podiam_roles};
  (*kube)->Watch(
      namespaces,
      {.resource = k8s::resources::Namespaces(),
       .field_selector = c.namespace_name.empty() ? "" : "metadata.name=" + c.namespace_name});
  (*kube)->Watch(podiam_roles,
                 {.resource = controller::PodiamRoles(), .namespace_name = c.namespace_name});
  if (c.zalando_awsiamroles) {
    (*kube)->Watch(zalando_roles,
                   {.resource = controller::ZalandoRoles(), .namespace_name = c.namespace_name});
    role_caches.push_back(&zalando_roles);
  }
  k8s::EventRecorder recorder(
      (*kube)->api(), clock, (*kube)->metrics(),
      {.reporting_controller = "podiam.io/controller",
       .reporting_instance = ("podiam-controller-" + instance).substr(0, 128)});
  controller::RecorderEvents events(recorder);
  controller::BrokerCredentials credentials(broker, clock, std::chrono::seconds(10));
  controller::ControllerMetrics metrics(ops.registry());
  controller::Reconciler reconciler((*kube)->api(), policy, namespaces, credentials, events, clock,
                                    metrics,
                                    {.cluster_name = c.sessions.cluster_name,
                                     .session_tags = c.sessions.session_tags,
                                     .allow_no_external_id = c.allow_no_external_id,
                                     .process_command = c.credential_process_command,
                                     .refresh_before = c.sessions.refresh_before,
                                     .resync = c.resync});
  controller::Controller loop(reconciler, role_caches, namespaces, clock, random, metrics,
                              {.workers = c.workers});
  ops.registry().AddCallbackGauge("podiam_controller_awsiamroles", "AWSIAMRoles in the cache.",
                                  [&role_caches] {
                                    double n = 0;
                                    for (auto* r : role_caches) {
                                      n += static_cast<double>(r->Size());
                                    }
                                    return n;
                                  });
  std::optional<k8s::LeaderElector> elector;
  if (c.leader_elect) {
    k8s::LeaderElectionOptions election{
        .lease_namespace = !c.leader_election_namespace.empty()
                               ? c.leader_election_namespace
                               : aws::NonEmpty(env, "POD_NAMESPACE").value_or("kube-system"),
        .lease_name = c.leader_election_id,
        .identity = instance,
        .on_started_leading =
            [&] {
              log.Info("leading: reconciling AWSIAMRoles");
              loop.Start();
            },
        .on_stopped_leading =
            [&] {
              log.Warn("not leading any more: another replica reconciles");
              loop.Pause();
              credentials.ForgetAll();  // stop refreshing: the leader does
            }};
    if (auto ok = k8s::LeaderElector::Validate(election); !ok) {
      return fail("config", ok.error());
    }
    elector.emplace((*kube)->api(), clock, random, (*kube)->metrics(), std::move(election));
  }
  ops.readiness().Add("informers-synced", [&kube] {
    return (*kube)->HasSynced() ? ops::Check::Ok()
                                : ops::Check::Fail("AWSIAMRoles or namespaces not listed yet");
  });
  ops.readiness().Add("aws-credentials", [&aws] { return (*aws)->CredentialsCheck(); });

  if (auto ok = ops.Start(); !ok) {
    return fail("ops listener " + c.ops.metrics_listen, ok.error());
  }
  recorder.Start();
  broker.Start();
  (*kube)->Start();
  if (elector) {
    elector->Start();
  } else {
    loop.Start();
  }
  (*aws)->Start();
  log.Info("controller started", {{"ops", ops_listen->host + ":" + std::to_string(ops.port())},
                                  {"sts", (*aws)->endpoint().url},
                                  {"kubernetes", (*kube)->cluster().origin},
                                  {"zalando", c.zalando_awsiamroles},
                                  {"workers", c.workers},
                                  {"leader_elect", c.leader_elect}});

  log.Info("shutting down", {{"signal", signals.Wait()}});
  if (elector) {
    elector->Stop();  // releases the Lease: a successor need not wait it out
  }
  loop.Stop();
  (*kube)->Stop();
  (*aws)->Stop();
  broker.Stop();
  recorder.Stop();
  ops.Stop(std::chrono::seconds(1));
  log.Info("controller stopped");
  return 0;
}

int RunCredentialProcess(const cli::GlobalConfig& /*global*/,
                         const cli::CredentialProcessConfig& c) {
  auto fail = [](const std::string& message) {
    std::fprintf(stderr, "podiam credential-process: %s\n", message.c_str());
    return 1;
  };
  const aws::Environment env = aws::ProcessEnvironment();
  std::filesystem::path path(c.file);
  if (path.is_relative()) {
    auto config = aws::NonEmpty(env, "AWS_CONFIG_FILE");
    if (!config) {
      config = aws::NonEmpty(env, "AWS_SHARED_CREDENTIALS_FILE");
    }
    if (!config) {
      return fail("--file " + c.file +
                  " is relative, and neither AWS_CONFIG_FILE nor AWS_SHARED_CREDENTIALS_FILE is "
                  "set to say where the Secret is mounted");
    }
    path = std::filesystem::path(*config).parent_path() / path;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return fail("cannot read " + path.string());
  }
  constexpr std::size_t kMaxFile = std::size_t{64} * 1024;
  std::string text(kMaxFile + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  if (text.size() > kMaxFile) {
    return fail(path.string() + " is larger than 64 KiB");
  }
  auto credentials = controller::ParseProcessCredentials(text);
  if (!credentials) {
    return fail(path.string() + ": " + credentials.error().message());
  }
  SystemClock clock;
  if (credentials->expiration && *credentials->expiration <= clock.Now()) {
    return fail(path.string() + ": the credentials expired at " +
                aws::FormatTimestamp(*credentials->expiration) +
                " (is podiam controller running?)");
  }
  std::string out = controller::ProcessCredentialsJson(*credentials);
  std::fwrite(out.data(), 1, out.size(), stdout);
  return 0;
}

}  // namespace podiam::app
