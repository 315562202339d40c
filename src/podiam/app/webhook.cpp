#include "podiam/app/webhook.hpp"

#include <atomic>
#include <optional>
#include <thread>

#include "podiam/app/kube_stack.hpp"
#include "podiam/app/ops_stack.hpp"
#include "podiam/app/process.hpp"
#include "podiam/base/clock.hpp"
#include "podiam/base/log.hpp"
#include "podiam/base/random.hpp"
#include "podiam/k8s/resource.hpp"
#include "podiam/transport/http_server.hpp"
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

webhook::AdmissionHandlerOptions AdmissionOptions(const cli::WebhookConfig& c) {
  return {
      .mutation = {.annotation_prefix = c.annotation_prefix,
                   .audience = c.token_audience,
                   .mount_path = c.token_mount_path,
                   .token_expiration = c.token_expiration,
                   .region = c.aws_default_region,
                   .regional_sts = c.sts_regional_endpoint,
                   .container_credentials = {.audience = c.container_credentials_audience,
                                             .mount_path = c.container_credentials_token_mount_path,
                                             .volume_name =
                                                 c.container_credentials_token_volume_name,
                                             .token_path = c.container_credentials_token_path,
                                             .full_uri = c.container_credentials_full_uri}},
      .lookup_timeout = c.lookup_timeout};
}

// Sleeps in 50 ms steps until `until` or `stopping`; false when stopping.
bool SleepUntil(const Clock& clock, Clock::SteadyTime until, const std::atomic<bool>& stopping) {
  while (!stopping.load() && clock.SteadyNow() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return !stopping.load();
}

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
  OpsStack ops({.host = c.listen_address, .port = static_cast<std::uint16_t>(c.metrics_port)});

  // ---- Kubernetes: every ServiceAccount (only the annotations with our prefix are kept), and
  // PodIdentityAssociations when asked for; a direct read for those not delivered yet.
  auto kube = KubeStack::Connect(
      {.kubeconfig = c.kubeconfig, .insecure_skip_tls_verify = c.kube_insecure_skip_tls_verify},
      clock, random, ops.registry(), "podiam-webhook");
  if (!kube) {
    return fail("kubernetes", kube.error());
  }
  const std::string kept = c.annotation_prefix + "/*";
  k8s::ServiceAccountCache accounts({.annotation_keys = {kept}});
  (*kube)->Watch(accounts, {.resource = k8s::resources::ServiceAccounts()});
  webhook::AssociationCache associations;
  if (c.pod_identity_associations) {
    (*kube)->Watch(associations, {.resource = webhook::PodIdentityAssociations()});
  }
  std::optional<webhook::IdentitiesFile> identities;
  if (!c.watch_container_credentials_config.empty()) {
    identities.emplace(c.watch_container_credentials_config);
    identities->Reload();
  }
  ops.registry().AddCallbackGauge("podiam_webhook_serviceaccounts_cached",
                                  "ServiceAccounts in the webhook's cache.",
                                  [&accounts] { return static_cast<double>(accounts.Size()); });
  webhook::KubeServiceAccounts account_directory(
      accounts, (*kube)->ApiWith({.request_timeout = c.lookup_timeout}),
      k8s::AnnotationFilter({kept}), clock);
  webhook::AnyAssociation association_directory(
      c.pod_identity_associations ? &associations : nullptr, identities ? &*identities : nullptr);
  webhook::WebhookMetrics webhook_metrics(ops.registry());
  webhook::AdmissionHandler admission(account_directory, association_directory, clock, random,
                                      webhook_metrics, AdmissionOptions(c));
  ops.readiness().Add("informers-synced", [&kube] {
    return (*kube)->HasSynced()
               ? ops::Check::Ok()
               : ops::Check::Fail("ServiceAccounts or PodIdentityAssociations not listed yet");
  });

  transport::HttpServer server({.address = c.listen_address,
                                .port = static_cast<std::uint16_t>(c.port),
                                .threads = c.threads,
                                // Pods with many containers make big reviews; the apiserver
                                // caps requests at 3 MiB.
                                .max_body_bytes = std::size_t{4} * 1024 * 1024,
                                .name = "webhook",
                                .metrics = &ops.http_metrics(),
                                .tls_cert_file = c.tls_cert,
                                .tls_key_file = c.tls_key,
                                .tls_reload_interval = c.tls_reload_interval},
                               std::make_shared<MainHandler>(admission));
  if (auto ok = ops.Start(); !ok) {
    return fail("metrics listener", ok.error());
  }
  if (auto ok = server.Start(); !ok) {
    ops.Stop(std::chrono::milliseconds(0));
    return fail("webhook listener", ok.error());
  }

  // The informers start after the listeners: admissions before their first list are answered
  // from direct reads. The identities file is re-read every second.
  std::atomic<bool> stopping{false};
  std::thread starter([&] {
    if (SleepUntil(clock, clock.SteadyNow() + c.informer_start_delay, stopping)) {
      (*kube)->Start();
    }
  });
  std::thread file_poller([&] {
    while (SleepUntil(clock, clock.SteadyNow() + std::chrono::seconds(1), stopping)) {
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
  (*kube)->Stop();
  ops.Stop(std::chrono::seconds(1));
  log.Info("webhook stopped");
  return 0;
}

}  // namespace podiam::app
