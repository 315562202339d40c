// podiam::k8s against a real kube-apiserver (tests/cluster/up), through the real transport.
// Run by tests/integration/test_k8s_api.py, which passes the cluster in the environment:
//   PODIAM_TEST_KUBECONFIG (admin kubeconfig), PODIAM_TEST_CLUSTER_DIR, PODIAM_TEST_CTL (the
//   tests/cluster/ctl script, to restart the apiserver and compact etcd).
// Every test works in a namespace of its own and deletes it afterwards.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "podiam/base/clock.hpp"
#include "podiam/base/random.hpp"
#include "podiam/k8s/cluster_config.hpp"
#include "podiam/k8s/event_recorder.hpp"
#include "podiam/k8s/http_kube_api.hpp"
#include "podiam/k8s/informer.hpp"
#include "podiam/k8s/leader_elector.hpp"
#include "podiam/k8s/pod_cache.hpp"
#include "podiam/k8s/token_review.hpp"
#include "podiam/transport/http_client.hpp"

namespace podiam::k8s {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using ::testing::HasSubstr;

std::string Env(const char* name) {
  const char* v = std::getenv(name);  // NOLINT(concurrency-mt-unsafe): tests, single-threaded here
  return v == nullptr ? std::string() : std::string(v);
}

template <typename F>
bool Eventually(F&& done, milliseconds timeout = seconds(30)) {
  auto until = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < until) {
    if (done()) {
      return true;
    }
    std::this_thread::sleep_for(milliseconds(20));
  }
  return done();
}

// A client of the cluster: transport, metrics and KubeApi together.
struct Client {
  Client(const ClusterConfig& config, const Clock& clock) : metrics(registry) {
    auto created = transport::BeastHttpClient::Create(
        {.ca_file = config.ca_file,
         .client_cert_file = config.client_cert_file,
         .client_key_file = config.client_key_file,
         .insecure_skip_verify = config.insecure_skip_tls_verify});
    if (!created) {
      ADD_FAILURE() << "transport: " << created.error().ToString();
      std::abort();
    }
    http = std::move(*created);
    api = std::make_unique<HttpKubeApi>(*http, config, metrics, clock);
  }
  metrics::Registry registry;
  K8sMetrics metrics;
  std::unique_ptr<transport::BeastHttpClient> http;
  std::unique_ptr<HttpKubeApi> api;
};

// Handler calls per kind and pod name, to prove nothing is lost or duplicated.
class Recorder {
 public:
  explicit Recorder(PodCache& cache) {
    cache.AddHandlers(
        {.on_add = [this](const auto& p) { Note("add " + p->name); },
         .on_update = [this](const auto&, const auto& n) { Note("update " + n->name); },
         .on_delete = [this](const auto& p) { Note("delete " + p->name); }});
  }
  std::multiset<std::string> Take() {
    std::lock_guard lock(mu_);
    return std::exchange(seen_, {});
  }

 private:
  void Note(std::string what) {
    std::lock_guard lock(mu_);
    seen_.insert(std::move(what));
  }
  std::mutex mu_;
  std::multiset<std::string> seen_;
};

class K8sIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    kubeconfig_ = Env("PODIAM_TEST_KUBECONFIG");
    cluster_dir_ = Env("PODIAM_TEST_CLUSTER_DIR");
    ctl_ = Env("PODIAM_TEST_CTL");
    if (kubeconfig_.empty() || cluster_dir_.empty() || ctl_.empty()) {
      GTEST_FAIL() << "needs PODIAM_TEST_KUBECONFIG, PODIAM_TEST_CLUSTER_DIR and PODIAM_TEST_CTL; "
                      "run it through tests/integration/test_k8s_api.py";
    }
    auto config = LoadClusterConfig({.kubeconfig = kubeconfig_}, clock_);
    ASSERT_TRUE(config) << config.error().ToString();
    config_ = *config;
    admin_ = std::make_unique<Client>(config_, clock_);
    ns_ = "podiam-itest-" + Suffix();
    ASSERT_TRUE(
        Api().Create(resources::Namespaces(), "",
                     {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", ns_}}}}));
    // Pods need their ServiceAccount: wait for kube-controller-manager's `default`.
    ASSERT_TRUE(Eventually(
        [&] { return Api().Get(resources::ServiceAccounts(), ns_, "default").has_value(); }));
  }

  void TearDown() override {
    if (admin_ && !ns_.empty()) {
      // No kubelet confirms graceful deletion here: force the pods, then drop the namespace.
      (void)Api().DeleteCollection(resources::Pods(), ns_, {}, {.grace_period_seconds = 0});
      (void)Api().Delete(resources::Namespaces(), "", ns_);
    }
  }

  HttpKubeApi& Api() { return *admin_->api; }

  std::string Suffix() {
    static const char* kHex = "0123456789abcdef";
    std::string bytes = random_.SecureBytes(4);
    std::string out;
    for (unsigned char c : bytes) {
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
    return out;
  }

  void Ctl(const std::string& op) {
    std::string cmd = ctl_ + " " + op + " " + cluster_dir_ + " >&2";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;  // NOLINT(cert-env33-c)
  }

  static Json PodObject(const std::string& name, const std::string& node = "itest-node",
                        const std::string& service_account = "default") {
    return {{"apiVersion", "v1"},
            {"kind", "Pod"},
            {"metadata", {{"name", name}, {"labels", {{"app", "itest"}}}}},
            {"spec",
             {{"nodeName", node},
              {"serviceAccountName", service_account},
              {"automountServiceAccountToken", false},
              {"terminationGracePeriodSeconds", 0},
              {"containers", {{{"name", "app"}, {"image", "registry.invalid/app:1"}}}}}}};
  }

  Result<Json> CreatePod(const std::string& name, const std::string& node = "itest-node") {
    return Api().Create(resources::Pods(), ns_, PodObject(name, node));
  }

  Result<Json> SetPodIp(const std::string& name, const std::string& ip,
                        const std::string& phase = "Running") {
    return Api().MergePatch(
        resources::Pods(), ns_, name,
        {{"status", {{"phase", phase}, {"podIP", ip}, {"podIPs", {{{"ip", ip}}}}}}}, "status");
  }

  std::unique_ptr<Informer> PodInformer(PodCache& cache, Client& client,
                                        InformerOptions options = {}) {
    options.resource = resources::Pods();
    options.namespace_name = ns_;
    options.watch_timeout = seconds(20);
    options.initial_backoff = milliseconds(200);
    options.max_backoff = seconds(2);
    return std::make_unique<Informer>(*client.api, cache, client.metrics, clock_, random_, options);
  }

  SystemClock clock_;
  SystemRandom random_;
  std::string kubeconfig_, cluster_dir_, ctl_;
  ClusterConfig config_;
  std::unique_ptr<Client> admin_;
  std::string ns_;
};

TEST_F(K8sIntegrationTest, RestVerbsAndErrorMapping) {
  Resource cms = resources::ConfigMaps();
  Json cm = {{"apiVersion", "v1"},
             {"kind", "ConfigMap"},
             {"metadata", {{"name", "settings"}}},
             {"data", {{"a", "1"}}}};
  auto created = Api().Create(cms, ns_, cm);
  ASSERT_TRUE(created) << created.error().ToString();
  auto again = Api().Create(cms, ns_, cm);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code(), ErrorCode::kConflict);
  EXPECT_EQ(again.error().upstream_code(), "AlreadyExists");

  auto patched = Api().MergePatch(cms, ns_, "settings", {{"data", {{"b", "2"}}}});
  ASSERT_TRUE(patched) << patched.error().ToString();
  EXPECT_EQ((*patched)["data"], Json({{"a", "1"}, {"b", "2"}}));

  // Optimistic concurrency: an update from a stale read loses.
  Json stale = *created;
  stale["data"]["a"] = "stale";
  auto conflict = Api().Update(cms, ns_, stale);
  ASSERT_FALSE(conflict);
  EXPECT_EQ(conflict.error().code(), ErrorCode::kConflict);
  Json fresh = *patched;
  fresh["data"]["a"] = "fresh";
  ASSERT_TRUE(Api().Update(cms, ns_, fresh));

  // Server-side apply: create, then a field owned by another manager needs force.
  Json applied = {{"apiVersion", "v1"},
                  {"kind", "ConfigMap"},
                  {"metadata", {{"name", "applied"}, {"namespace", ns_}}},
                  {"data", {{"owner", "podiam"}}}};
  ASSERT_TRUE(Api().Apply(cms, ns_, "applied", applied, {.field_manager = "podiam"}));
  applied["data"]["owner"] = "other";
  auto owned = Api().Apply(cms, ns_, "applied", applied, {.field_manager = "other"});
  ASSERT_FALSE(owned);
  EXPECT_EQ(owned.error().code(), ErrorCode::kConflict);
  auto forced =
      Api().Apply(cms, ns_, "applied", applied, {.field_manager = "other", .force = true});
  ASSERT_TRUE(forced) << forced.error().ToString();
  EXPECT_EQ((*forced)["data"]["owner"], "other");

  // 422 for an invalid object; 404 after a delete; precondition mismatch is a conflict.
  Json bad = cm;
  bad["metadata"]["name"] = "Not_A_Valid_Name";
  auto invalid = Api().Create(cms, ns_, bad);
  ASSERT_FALSE(invalid);
  EXPECT_EQ(invalid.error().code(), ErrorCode::kInvalidArgument);
  auto wrong_uid = Api().Delete(cms, ns_, "settings", {.precondition_uid = "not-the-uid"});
  ASSERT_FALSE(wrong_uid);
  EXPECT_EQ(wrong_uid.error().code(), ErrorCode::kConflict);
  ASSERT_TRUE(
      Api().Delete(cms, ns_, "settings", {.precondition_uid = MetadataString(*created, "uid")}));
  auto gone = Api().Get(cms, ns_, "settings");
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().code(), ErrorCode::kNotFound);

  // The status subresource of a pod, as the kubelet writes it.
  ASSERT_TRUE(CreatePod("status-demo"));
  ASSERT_TRUE(SetPodIp("status-demo", "10.201.0.1"));
  auto pod = Api().Get(resources::Pods(), ns_, "status-demo");
  ASSERT_TRUE(pod);
  EXPECT_EQ((*pod)["status"]["podIP"], "10.201.0.1");
  EXPECT_GE(admin_->metrics.requests.WithLabels({"create", "configmaps", "201"}).Value(), 1);
}

TEST_F(K8sIntegrationTest, WatchSurvivesAnApiserverRestart) {
  PodCache cache;
  Recorder recorder(cache);
  auto informer = PodInformer(cache, *admin_);
  informer->Start();
  ASSERT_TRUE(informer->WaitForSync(seconds(30)));
  ASSERT_TRUE(CreatePod("before"));
  ASSERT_TRUE(SetPodIp("before", "10.201.1.1"));
  ASSERT_TRUE(Eventually([&] { return cache.PodByIp("10.201.1.1") != nullptr; }));

  Ctl("restart-apiserver");

  ASSERT_TRUE(CreatePod("after"));
  ASSERT_TRUE(SetPodIp("after", "10.201.1.2"));
  ASSERT_TRUE(Eventually([&] { return cache.PodByIp("10.201.1.2") != nullptr; }, seconds(60)));
  // Stopping an idle watch does not wait for the apiserver's next byte (or the 90 s idle
  // timeout): the transport cancels the read.
  auto stopping = std::chrono::steady_clock::now();
  informer->Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - stopping, seconds(2));
  EXPECT_EQ(cache.Size(), 2U);
  EXPECT_GE(admin_->metrics.watch_restarts.WithLabels({"pods", "error"}).Value() +
                admin_->metrics.watch_restarts.WithLabels({"pods", "closed"}).Value() +
                admin_->metrics.watch_restarts.WithLabels({"pods", "gone"}).Value(),
            1);
  auto seen = recorder.Take();
  EXPECT_EQ(seen.count("add before"), 1U);
  EXPECT_EQ(seen.count("add after"), 1U);
  EXPECT_EQ(seen.count("delete before"), 0U);
}

TEST_F(K8sIntegrationTest, GoneAfterCompactionRelistsWithoutLossOrDuplicates) {
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(CreatePod("p" + std::to_string(i)));
  }
  PodCache cache;
  Recorder recorder(cache);
  auto informer = PodInformer(cache, *admin_, {.page_size = 4});
  informer->Start();
  ASSERT_TRUE(informer->WaitForSync(seconds(30)));
  ASSERT_EQ(cache.Size(), 10U);
  informer->Stop();
  recorder.Take();

  // While nobody watches: 3 adds, 3 updates, 3 deletes; then history is compacted away and the
  // apiserver restarts, so its watch cache starts after our resourceVersion.
  for (int i = 10; i < 13; ++i) {
    ASSERT_TRUE(CreatePod("p" + std::to_string(i)));
  }
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(SetPodIp("p" + std::to_string(i), "10.201.2." + std::to_string(i + 1)));
  }
  for (int i = 3; i < 6; ++i) {
    ASSERT_TRUE(
        Api().Delete(resources::Pods(), ns_, "p" + std::to_string(i), {.grace_period_seconds = 0}));
  }
  Ctl("compact");
  Ctl("restart-apiserver");

  informer->Start();
  ASSERT_TRUE(Eventually(
      [&] {
        return admin_->metrics.relists.WithLabels({"pods", "gone"}).Value() >= 1 &&
               cache.Size() == 10;
      },
      seconds(60)));
  informer->Stop();
  EXPECT_EQ(recorder.Take(),
            (std::multiset<std::string>{"add p10", "add p11", "add p12", "update p0", "update p1",
                                        "update p2", "delete p3", "delete p4", "delete p5"}));
  // The cache now equals the server's truth, version for version.
  auto list = Api().List(resources::Pods(), ns_, {});
  ASSERT_TRUE(list);
  ASSERT_EQ(list->items.size(), 10U);
  for (const auto& item : list->items) {
    auto cached = cache.Pod(ns_, MetadataString(item, "name"));
    ASSERT_NE(cached, nullptr) << MetadataString(item, "name");
    EXPECT_EQ(cached->resource_version, MetadataString(item, "resourceVersion"));
  }
}

TEST_F(K8sIntegrationTest, AThousandPodsListedAndWatched) {
  constexpr int kPods = 1000;
  const std::string node = "itest-node-" + Suffix();
  std::atomic<int> failures{0};
  auto create_range = [&](int from, int to) {
    for (int i = from; i < to; ++i) {
      if (!CreatePod("pod-" + std::to_string(i), node)) {
        ++failures;
      }
    }
  };
  std::vector<std::thread> writers;
  for (int t = 0; t < 4; ++t) {
    writers.emplace_back(create_range, t * kPods / 4, (t + 1) * kPods / 4);
  }
  for (auto& w : writers) {
    w.join();
  }
  ASSERT_EQ(failures, 0);

  PodCache cache;
  auto informer =
      PodInformer(cache, *admin_, {.field_selector = "spec.nodeName=" + node, .page_size = 100});
  informer->Start();
  ASSERT_TRUE(informer->WaitForSync(seconds(60)));
  EXPECT_EQ(cache.Size(), static_cast<std::size_t>(kPods));
  EXPECT_EQ(admin_->metrics.requests.WithLabels({"list", "pods", "200"}).Value(), 10);

  // Now every pod gets its IP through the watch.
  auto set_range = [&](int from, int to) {
    for (int i = from; i < to; ++i) {
      std::string ip = "10.202." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 1);
      if (!SetPodIp("pod-" + std::to_string(i), ip)) {
        ++failures;
      }
    }
  };
  writers.clear();
  for (int t = 0; t < 4; ++t) {
    writers.emplace_back(set_range, t * kPods / 4, (t + 1) * kPods / 4);
  }
  for (auto& w : writers) {
    w.join();
  }
  ASSERT_EQ(failures, 0);
  ASSERT_TRUE(Eventually(
      [&] {
        for (int i = 0; i < kPods; ++i) {
          std::string ip = "10.202." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 1);
          auto pod = cache.PodByIp(ip);
          if (pod == nullptr || pod->name != "pod-" + std::to_string(i)) {
            return false;
          }
        }
        return true;
      },
      seconds(60)));
  std::size_t bytes = cache.MemoryBytes();
  std::cerr << "cache of " << kPods << " pods: " << bytes << " bytes (" << bytes / kPods
            << " per pod)\n";

  ASSERT_TRUE(Api().DeleteCollection(resources::Pods(), ns_,
                                     {.field_selector = "spec.nodeName=" + node},
                                     {.grace_period_seconds = 0}));
  ASSERT_TRUE(Eventually([&] { return cache.Size() == 0; }, seconds(60)));
  informer->Stop();
  EXPECT_GE(admin_->metrics.watch_events.WithLabels({"pods", "DELETED"}).Value(), kPods);
}

TEST_F(K8sIntegrationTest, LeaderElectionHandsOverWhenTheLeaderDies) {
  const milliseconds lease(4000), renew(3000), retry(500);
  std::atomic<bool> a_leads{false};
  std::atomic<bool> b_leads{false};
  auto make = [&](const std::string& id, std::atomic<bool>& leads) {
    LeaderElectionOptions o{.lease_namespace = ns_,
                            .lease_name = "podiam-itest",
                            .identity = id,
                            .lease_duration = lease,
                            .renew_deadline = renew,
                            .retry_period = retry,
                            .release_on_cancel = false,  // Stop() = the process died
                            .on_started_leading = [&leads] { leads = true; },
                            .on_stopped_leading = [&leads] { leads = false; }};
    EXPECT_TRUE(LeaderElector::Validate(o));
    return std::make_unique<LeaderElector>(Api(), clock_, random_, admin_->metrics, o);
  };
  auto a = make("contender-a", a_leads);
  auto b = make("contender-b", b_leads);
  a->Start();
  ASSERT_TRUE(Eventually([&] { return a_leads.load(); }));
  b->Start();
  std::this_thread::sleep_for(lease + retry);  // b watches a renew and stays a follower
  EXPECT_FALSE(b_leads);
  EXPECT_EQ(b->leader(), "contender-a");

  a->Stop();  // no release: the lease has to expire
  auto killed = std::chrono::steady_clock::now();
  ASSERT_TRUE(Eventually([&] { return b_leads.load(); }, seconds(20)));
  auto handover = std::chrono::steady_clock::now() - killed;
  std::cerr << "handover took " << std::chrono::duration_cast<milliseconds>(handover).count()
            << " ms\n";
  // At most: the rest of the lease since a's last renewal, plus b's retry period with jitter.
  EXPECT_LE(handover, lease + retry * 3 + milliseconds(1000));
  EXPECT_GE(handover, lease - retry * 3);
  auto lease_object = Api().Get(resources::Leases(), ns_, "podiam-itest");
  ASSERT_TRUE(lease_object);
  EXPECT_EQ((*lease_object)["spec"]["holderIdentity"], "contender-b");
  EXPECT_EQ((*lease_object)["spec"]["leaseTransitions"], 1);
  b->Stop();
}

TEST_F(K8sIntegrationTest, LeastPrivilegeClientGetsClearErrors) {
  ASSERT_TRUE(
      Api().Create(resources::ServiceAccounts(), ns_, {{"metadata", {{"name", "pod-reader"}}}}));
  ASSERT_TRUE(Api().Create(
      resources::Roles(), ns_,
      {{"metadata", {{"name", "pod-reader"}}},
       {"rules",
        {{{"apiGroups", {""}}, {"resources", {"pods"}}, {"verbs", {"get", "list", "watch"}}}}}}));
  ASSERT_TRUE(Api().Create(
      resources::RoleBindings(), ns_,
      {{"metadata", {{"name", "pod-reader"}}},
       {"roleRef",
        {{"apiGroup", "rbac.authorization.k8s.io"}, {"kind", "Role"}, {"name", "pod-reader"}}},
       {"subjects", {{{"kind", "ServiceAccount"}, {"name", "pod-reader"}, {"namespace", ns_}}}}}));
  auto token = Api().CreateSubresource(resources::ServiceAccounts(), ns_, "pod-reader", "token",
                                       {{"apiVersion", "authentication.k8s.io/v1"},
                                        {"kind", "TokenRequest"},
                                        {"spec", {{"expirationSeconds", 600}}}});
  ASSERT_TRUE(token) << token.error().ToString();
  ASSERT_TRUE(CreatePod("visible"));

  ClusterConfig reader_config = config_;
  reader_config.token =
      std::make_shared<StaticTokenSource>((*token)["status"]["token"].get<std::string>());
  Client reader(reader_config, clock_);
  HttpKubeApi& api = *reader.api;

  // Allowed: get, list, watch pods here. RBAC is evaluated at once for new bindings.
  ASSERT_TRUE(Eventually([&] { return api.Get(resources::Pods(), ns_, "visible").has_value(); }));
  auto list = api.List(resources::Pods(), ns_, {});
  ASSERT_TRUE(list) << list.error().ToString();
  EXPECT_EQ(list->items.size(), 1U);
  PodCache cache;
  auto informer = PodInformer(cache, reader);
  informer->Start();
  ASSERT_TRUE(informer->WaitForSync(seconds(30)));
  informer->Stop();
  EXPECT_EQ(cache.Size(), 1U);

  // Not allowed: clear kPermissionDenied errors that carry the apiserver's explanation.
  auto create = api.Create(resources::Pods(), ns_, PodObject("sneaky"));
  ASSERT_FALSE(create);
  EXPECT_EQ(create.error().code(), ErrorCode::kPermissionDenied);
  EXPECT_EQ(create.error().upstream_code(), "Forbidden");
  EXPECT_THAT(create.error().message(), HasSubstr("cannot create resource \"pods\""));
  EXPECT_THAT(create.error().message(), HasSubstr("system:serviceaccount:" + ns_ + ":pod-reader"));
  auto secrets = api.List(resources::Secrets(), ns_, {});
  ASSERT_FALSE(secrets);
  EXPECT_EQ(secrets.error().code(), ErrorCode::kPermissionDenied);
  EXPECT_THAT(secrets.error().message(), HasSubstr("cannot list resource \"secrets\""));
  auto elsewhere = api.List(resources::Pods(), "default", {});
  ASSERT_FALSE(elsewhere);
  EXPECT_EQ(elsewhere.error().code(), ErrorCode::kPermissionDenied);
  auto patch =
      api.MergePatch(resources::Pods(), ns_, "visible", {{"metadata", {{"labels", {{"x", "y"}}}}}});
  ASSERT_FALSE(patch);
  EXPECT_EQ(patch.error().code(), ErrorCode::kPermissionDenied);
  auto del = api.Delete(resources::Pods(), ns_, "visible");
  ASSERT_FALSE(del);
  EXPECT_EQ(del.error().code(), ErrorCode::kPermissionDenied);
  auto watch_secrets = api.Watch(resources::Secrets(), ns_, {}, [](WatchEvent&&) { return false; });
  ASSERT_FALSE(watch_secrets);
  EXPECT_EQ(watch_secrets.error().code(), ErrorCode::kPermissionDenied);

  // And a token the apiserver does not know is kUnauthenticated.
  ClusterConfig stranger_config = config_;
  stranger_config.token = std::make_shared<StaticTokenSource>("not-a-valid-token");
  Client stranger(stranger_config, clock_);
  auto who = stranger.api->List(resources::Pods(), ns_, {});
  ASSERT_FALSE(who);
  EXPECT_EQ(who.error().code(), ErrorCode::kUnauthenticated);
}

TEST_F(K8sIntegrationTest, TokenReviewOfAPodBoundToken) {
  const std::string node = "itest-node-" + Suffix();
  ASSERT_TRUE(Api().Create(resources::Nodes(), "", {{"metadata", {{"name", node}}}}));
  ASSERT_TRUE(Api().Create(resources::ServiceAccounts(), ns_, {{"metadata", {{"name", "app"}}}}));
  Json pod_object = PodObject("bound", node, "app");
  auto pod = Api().Create(resources::Pods(), ns_, pod_object);
  ASSERT_TRUE(pod) << pod.error().ToString();
  auto token = Api().CreateSubresource(resources::ServiceAccounts(), ns_, "app", "token",
                                       {{"apiVersion", "authentication.k8s.io/v1"},
                                        {"kind", "TokenRequest"},
                                        {"spec",
                                         {{"audiences", {"podiam-itest"}},
                                          {"expirationSeconds", 600},
                                          {"boundObjectRef",
                                           {{"apiVersion", "v1"},
                                            {"kind", "Pod"},
                                            {"name", "bound"},
                                            {"uid", MetadataString(*pod, "uid")}}}}}});
  ASSERT_TRUE(token) << token.error().ToString();
  std::string jwt = (*token)["status"]["token"];

  TokenReviewer reviewer(Api());
  auto who = reviewer.Review(jwt, {"podiam-itest"});
  ASSERT_TRUE(who) << who.error().ToString();
  EXPECT_EQ(who->service_account_namespace, ns_);
  EXPECT_EQ(who->service_account_name, "app");
  EXPECT_EQ(who->pod_name, "bound");
  EXPECT_EQ(who->pod_uid, MetadataString(*pod, "uid"));
  EXPECT_EQ(who->node_name, node);
  EXPECT_EQ(who->audiences, std::vector<std::string>{"podiam-itest"});

  auto wrong_audience = reviewer.Review(jwt, {"sts.amazonaws.com"});
  ASSERT_FALSE(wrong_audience);
  EXPECT_EQ(wrong_audience.error().code(), ErrorCode::kUnauthenticated);
  (void)Api().Delete(resources::Nodes(), "", node);
}

TEST_F(K8sIntegrationTest, EventsAreWrittenAndAggregated) {
  ASSERT_TRUE(CreatePod("noisy"));
  auto pod = Api().Get(resources::Pods(), ns_, "noisy");
  ASSERT_TRUE(pod);
  EventRecorder events(
      Api(), clock_, admin_->metrics,
      {.reporting_instance = "podiam-itest", .series_update_interval = seconds(0)});
  ObjectReference ref{.api_version = "v1",
                      .kind = "Pod",
                      .namespace_name = ns_,
                      .name = "noisy",
                      .uid = MetadataString(*pod, "uid")};
  events.Record(ref, EventType::kWarning, "RoleDenied", "AssumeRole", "no role for you");
  EXPECT_EQ(events.Flush(), 1U);
  events.Record(ref, EventType::kWarning, "RoleDenied", "AssumeRole", "no role for you");
  events.Record(ref, EventType::kWarning, "RoleDenied", "AssumeRole", "no role for you");
  EXPECT_EQ(events.Flush(), 1U);
  auto list = Api().List(resources::Events(), ns_, {});
  ASSERT_TRUE(list) << list.error().ToString();
  ASSERT_EQ(list->items.size(), 1U);
  const Json& e = list->items[0];
  EXPECT_EQ(e["reason"], "RoleDenied");
  EXPECT_EQ(e["regarding"]["name"], "noisy");
  EXPECT_EQ(e["series"]["count"], 3);
  EXPECT_EQ(admin_->metrics.events_sent.WithLabels({"create"}).Value(), 1);
  EXPECT_EQ(admin_->metrics.events_sent.WithLabels({"patch"}).Value(), 1);
  // The same Event through the core v1 API.
  auto core = Api().List(resources::CoreEvents(), ns_, {});
  ASSERT_TRUE(core);
  ASSERT_EQ(core->items.size(), 1U);
  EXPECT_EQ(core->items[0]["involvedObject"]["name"], "noisy");
}

}  // namespace
}  // namespace podiam::k8s
