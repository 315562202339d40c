#include "podiam/app/webhook.hpp"

#include <atomic>
#include <optional>
#include <thread>
#include <vector>

#include "podiam/app/process.hpp"
#include "podiam/base/clock.hpp"
#include "podiam/base/log.hpp"
#include "podiam/base/random.hpp"
#include "podiam/k8s/cluster_config.hpp"
#include "podiam/k8s/http_kube_api.hpp"
#include "podiam/k8s/informer.hpp"
#include "podiam/k8s/resource.hpp"
#include "podiam/metrics/process.hpp"
#include "podiam/ops/ops_handler.hpp"
#include "podiam/transport/http_client.hpp"
#include "podiam/transport/http_server.hpp"
#include "podiam/transport/metrics.hpp"
#include "podiam/webhook/admission_handler.hpp"
#include "podiam/webhook/kube_directory.hpp"

namespace podiam::app {
namespace {

// GET /healthz on the HTTPS port too (the reference serves it there), everything else to /mutate.
class MainHandler final : public http::Handler {
 public:
  explicit MainHandler(webhook::AdmissionHandler& admission) : admission_(admission) {}
  void Handle(http::Request request, http::ResponseCallback done) override {
    if (request.Path() == "/healthz") {
      done(http::Response::Text(200, "ok"));
      return;
    }
    admission_.Handle(std::move(request), std::move(done));
  }

 private:
  webhook::AdmissionHandler& admission_;
};

}  // namespace

int RunWebhook(const cli::GlobalConfig& /*global*/, const cli::WebhookConfig& c) {
  log::Logger log("webhook");
  auto fail = [&log](std::string_view what, const Error& error) {
    log.Error("cannot start the webhook",
              {{"step", std::string(what)}, {"error", error.ToString()}});
    return 1;
  };
  ShutdownSignals signals;  // before any thread starts
  for (const auto& warning : c.compat_warnings) {
    log.Warn(warning);
  }

  SystemClock clock;
  SystemRandom random;
  metrics::Registry registry;
  metrics::RegisterProcessMetrics(registry);

  // ---- Kubernetes: every ServiceAccount (only the annotations with our prefix are kept), and
  // PodIdentityAssociations when asked for.
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
                                          .user_agent = "podiam-webhook"});
  if (!kube_http) {
    return fail("kubernetes http client", kube_http.error());
  }
  k8s::K8sMetrics k8s_metrics(registry);
  k8s::HttpKubeApi kube(**kube_http, *cluster, k8s_metrics, clock);
  k8s::HttpKubeApi lookup(**kube_http, *cluster, k8s_metrics, clock,
                          {.request_timeout = c.lookup_timeout});
  const std::string kept = c.annotation_prefix + "/*";
  // With --container-credentials-from-annotations the role annotation selects pods too (R21).
  const std::string role_key = c.container_credentials_from_annotations ? c.iam_role_key : "";
  std::vector<std::string> kept_keys{kept};
  if (!role_key.empty()) {
    kept_keys.push_back(role_key);
  }
  k8s::ServiceAccountCache accounts({.annotation_keys = kept_keys});
  k8s::Informer account_informer(kube, accounts, k8s_metrics, clock, random,
                                 {.resource = k8s::resources::ServiceAccounts()});
  webhook::AssociationCache associations;
  std::optional<k8s::Informer> association_informer;
  if (c.pod_identity_associations) {
    association_informer.emplace(
        kube, associations, k8s_metrics, clock, random,
        k8s::InformerOptions{.resource = webhook::PodIdentityAssociations()});
  }
  std::optional<webhook::IdentitiesFile> identities;
  if (!c.watch_container_credentials_config.empty()) {
    identities.emplace(c.watch_container_credentials_config);
    identities->Reload();
  }
  registry.AddCallbackGauge("podiam_webhook_serviceaccounts_cached",
                            "ServiceAccounts in the webhook's cache.",
                            [&accounts] { return static_cast<double>(accounts.Size()); });

  webhook::KubeServiceAccounts account_directory(accounts, lookup, k8s::AnnotationFilter(kept_keys),
                                                 clock);
  webhook::AnyAssociation association_directory(
      c.pod_identity_associations ? &associations : nullptr, identities ? &*identities : nullptr);
  webhook::WebhookMetrics webhook_metrics(registry);
  webhook::AdmissionHandler admission(
      account_directory, association_directory, clock, random, webhook_metrics,
      {.mutation = {.annotation_prefix = c.annotation_prefix,
                    .audience = c.token_audience,
                    .mount_path = c.token_mount_path,
                    .token_expiration = c.token_expiration,
                    .region = c.aws_default_region,
                    .regional_sts = c.sts_regional_endpoint,
                    .container_credentials = {.audience = c.container_credentials_audience,
                                              .mount_path =
                                                  c.container_credentials_token_mount_path,
                                              .volume_name =
                                                  c.container_credentials_token_volume_name,
                                              .token_path = c.container_credentials_token_path,
                                              .full_uri = c.container_credentials_full_uri,
                                              .role_annotation = role_key}},
       .lookup_timeout = c.lookup_timeout});

  ops::Readiness readiness;
  readiness.Add("informers-synced", [&] {
    bool synced = account_informer.HasSynced() &&
                  (!association_informer || association_informer->HasSynced());
    return synced ? ops::Check::Ok()
                  : ops::Check::Fail("ServiceAccounts or PodIdentityAssociations not listed yet");
  });

  transport::HttpServerMetrics http_metrics(registry);
  transport::HttpServer ops_server({.address = c.listen_address,
                                    .port = static_cast<std::uint16_t>(c.metrics_port),
                                    .threads = 1,
                                    .name = "ops",
                                    .metrics = &http_metrics},
                                   ops::MakeOpsHandler(registry, readiness));
  transport::HttpServer server({.address = c.listen_address,
                                .port = static_cast<std::uint16_t>(c.port),
                                .threads = c.threads,
                                // Pods with many containers make big reviews; the apiserver
                                // caps requests at 3 MiB.
                                .max_body_bytes = std::size_t{4} * 1024 * 1024,
                                .name = "webhook",
                                .metrics = &http_metrics,
                                .tls_cert_file = c.tls_cert,
                                .tls_key_file = c.tls_key,
                                .tls_reload_interval = c.tls_reload_interval},
                               std::make_shared<MainHandler>(admission));
  if (auto ok = ops_server.Start(); !ok) {
    return fail("metrics listener", ok.error());
  }
  if (auto ok = server.Start(); !ok) {
    ops_server.Stop(std::chrono::milliseconds(0));
    return fail("webhook listener", ok.error());
  }

  // The informers start after the listeners: admissions before their first list are answered
  // from direct reads.
  std::atomic<bool> stopping{false};
  std::thread starter([&] {
    auto until = clock.SteadyNow() + c.informer_start_delay;
    while (!stopping.load() && clock.SteadyNow() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (stopping.load()) {
      return;
    }
    account_informer.Start();
    if (association_informer) {
      association_informer->Start();
    }
  });
  std::thread file_poller([&] {
    while (!stopping.load()) {
      for (int i = 0; i < 20 && !stopping.load(); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      if (identities) {
        identities->Reload();
      }
    }
  });
  log.Info("webhook started", {{"port", c.port},
                               {"metrics_port", c.metrics_port},
                               {"annotation_prefix", c.annotation_prefix},
                               {"pod_identity_associations", c.pod_identity_associations}});

  log.Info("shutting down", {{"signal", signals.Wait()}});
  stopping = true;
  starter.join();
  file_poller.join();
  server.Stop(std::chrono::seconds(5));
  account_informer.Stop();
  if (association_informer) {
    association_informer->Stop();
  }
  ops_server.Stop(std::chrono::seconds(1));
  log.Info("webhook stopped");
  return 0;
}

}  // namespace podiam::app
