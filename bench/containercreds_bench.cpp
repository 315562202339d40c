// Work per request of the two credential endpoints' cached paths, in-process, through the real
// adapters (docs/benchmarks.md, "Container credentials"): no sockets, so it measures what the
// handler itself costs on an I/O thread and is meaningful on a busy machine under callgrind.
//
//   BM_ContainerCredentialsCached  GET /v1/credentials with a real-sized projected ServiceAccount
//     token (RS256-sized signature, the claims kube-apiserver writes): ContainerCredentialsHandler
//     over PodCacheResolver (a PodCache of 1,000 realistic pods), AssociationRoles (an
//     association per ServiceAccount, memo warm) and BrokerCredentials (a warm broker, the real
//     SystemClock); the TokenReview cache is warm (one review at start-up).
//   BM_ImdsCredentialsCached  GET /latest/meta-data/iam/security-credentials/<role> with an IMDSv2
//     token: ImdsHandler over callers::PodDirectory and callers::BrokerSource on the same caches.
//
//   cmake -S . -B build-bench -G Ninja -DCMAKE_BUILD_TYPE=Release -DPODIAM_WERROR=OFF
//   ninja -C build-bench podiam_bench_containercreds
//   build-bench/bench/podiam_bench_containercreds
//   # instructions per request: scripts/bench-instructions (callgrind)
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdlib>
#include <memory>
#include <set>
#include <string>
#include <utility>

#include "podiam/agent/container_sources.hpp"
#include "podiam/base/clock.hpp"
#include "podiam/base/log.hpp"
#include "podiam/callers/broker_source.hpp"
#include "podiam/callers/pod_directory.hpp"
#include "podiam/containercreds/handler.hpp"
#include "podiam/creds/credential_broker.hpp"
#include "podiam/metadata/imds_handler.hpp"
#include "podiam/metrics/registry.hpp"
#include "podiam/testing/fake_kube_api.hpp"
#include "podiam/testing/fake_random.hpp"
#include "podiam/testing/fake_sts_client.hpp"
#include "podiam/testing/k8s_objects.hpp"
#include "podiam/testing/test_jwt.hpp"

namespace podiam {
namespace {

constexpr int kPods = 1000;
constexpr int kPod = 123;  // the pod that asks
const std::string kNode = "ip-10-0-1-23.eu-west-1.compute.internal";

std::string Field(const k8s::Json& pod, const char* a, const char* b) {
  return pod.at(a).at(b).get<std::string>();
}

// A projected ServiceAccount token as kube-apiserver 1.3x writes it: the same claims, a 43-byte
// kid and a 256-byte (RS256, 2048-bit key) signature: about 1.2 KB.
std::string ProjectedToken(const k8s::Json& pod, std::int64_t now) {
  std::string ns = Field(pod, "metadata", "namespace");
  std::string sa = Field(pod, "spec", "serviceAccountName");
  k8s::Json claims = {
      {"aud", {"pods.eks.amazonaws.com"}},
      {"exp", now + 86400},
      {"iat", now},
      {"iss", "https://oidc.eks.eu-west-1.amazonaws.com/id/0123456789ABCDEF0123456789ABCDEF"},
      {"jti", "1f6c2a7e-3b4d-4e5f-9a8b-7c6d5e4f3a2b"},
      {"kubernetes.io",
       {{"namespace", ns},
        {"node", {{"name", kNode}, {"uid", "a1b2c3d4-e5f6-4a5b-8c7d-9e8f7a6b5c4d"}}},
        {"pod", {{"name", Field(pod, "metadata", "name")}, {"uid", Field(pod, "metadata", "uid")}}},
        {"serviceaccount", {{"name", sa}, {"uid", "5e4d3c2b-1a09-4f8e-9d7c-6b5a4f3e2d1c"}}},
        {"warnafter", now + 3607}}},
      {"nbf", now},
      {"sub", "system:serviceaccount:" + ns + ":" + sa}};
  std::string signature(256, '\0');
  for (std::size_t i = 0; i < signature.size(); ++i) {
    signature[i] = static_cast<char>((i * 131 + 7) & 0xFF);
  }
  return testing::UnsignedJwt(
      R"({"alg":"RS256","kid":"Xy3Jq0nVb8mZ1kL4pR7sT2uW5vA9cE6fG0hI3jK8lMn"})", claims.dump(),
      signature);
}

// Says yes, as the apiserver would for this token (asked once: the review cache is warm after).
class OneReview final : public containercreds::TokenAuthenticator {
 public:
  explicit OneReview(containercreds::TokenIdentity identity) : identity_(std::move(identity)) {}
  Result<containercreds::TokenIdentity> Review(std::string_view /*token*/) override {
    return identity_;
  }

 private:
  containercreds::TokenIdentity identity_;
};

http::Request BaseRequest(std::string method, std::string target, std::string peer) {
  http::Request r{.method = std::move(method), .target = std::move(target)};
  r.peer.address = std::move(peer);
  r.peer.port = 40112;
  return r;
}

// The node: its caches full and synced, a warm broker, both handlers. Built once.
struct Node {
  Node()
      : sts(clock, std::chrono::hours(1)),
        broker(sts, clock, random, registry),
        policy({.base = *aws::ParseBaseRoleArn("arn:aws:iam::123456789012:role/"),
                .namespace_restrictions = false}),
        roles(associations, pods, namespaces, accounts, policy, broker,
              {.cluster_name = "shop", .cluster_arn = cluster_arn, .duration_seconds = 3600}),
        resolver(pods, nullptr),
        credentials(broker),
        directory(pods, namespaces, accounts, policy, broker, api, nullptr, clock, registry,
                  {.node = kNode, .synced = nullptr}),
        broker_source(broker),
        cc_metrics(registry),
        imds_metrics(registry) {
    log::Configure({.level = log::Level::kWarn});  // the role decisions of 1,000 pods
    std::set<std::pair<std::string, std::string>> service_accounts;
    std::vector<k8s::Json> all;
    for (int i = 0; i < kPods; ++i) {
      all.push_back(testing::RealisticPodJson(i));
      service_accounts.emplace(Field(all.back(), "metadata", "namespace"),
                               Field(all.back(), "spec", "serviceAccountName"));
    }
    for (int n = 0; n < 10; ++n) {
      namespaces.Event(k8s::WatchEventType::kAdded, {{"metadata",
                                                      {{"name", "team-" + std::to_string(n)},
                                                       {"uid", "ns-" + std::to_string(n)},
                                                       {"resourceVersion", "1"}}}});
    }
    // Associations before pods: each pod's decision is then made once, when it arrives.
    for (const auto& [ns, sa] : service_accounts) {
      associations.Event(
          k8s::WatchEventType::kAdded,
          {{"metadata",
            {{"name", sa}, {"namespace", ns}, {"uid", ns + sa}, {"resourceVersion", "1"}}},
           {"spec",
            {{"serviceAccount", sa}, {"roleArn", "arn:aws:iam::123456789012:role/" + sa}}}});
    }
    for (auto& pod : all) {
      pods.Event(k8s::WatchEventType::kAdded, std::move(pod));
    }
    broker.AwaitIdle(std::chrono::seconds(30));

    k8s::Json me = testing::RealisticPodJson(kPod);
    pod_ip = me.at("status").at("podIP").get<std::string>();
    role_name = Field(me, "spec", "serviceAccountName");
    std::int64_t now =
        std::chrono::duration_cast<std::chrono::seconds>(clock.Now().time_since_epoch()).count();
    token = ProjectedToken(me, now);
    std::string ns = Field(me, "metadata", "namespace");
    reviews = std::make_unique<OneReview>(
        containercreds::TokenIdentity{.username = "system:serviceaccount:" + ns + ":" + role_name,
                                      .service_account_namespace = ns,
                                      .service_account_name = role_name,
                                      .audiences = {"pods.eks.amazonaws.com"},
                                      .pod_name = Field(me, "metadata", "name"),
                                      .pod_uid = Field(me, "metadata", "uid"),
                                      .node_name = kNode});
    cc = std::make_unique<containercreds::ContainerCredentialsHandler>(
        *reviews, resolver, roles, credentials, clock, cc_metrics,
        containercreds::HandlerOptions{.node_name = kNode, .pod_qps = 1e12, .pod_burst = 1e12});
    // Warm: the one TokenReview, the role memo; then the IMDSv2 token.
    if (Call(*cc, ContainerRequest()).status != 200) {
      std::abort();
    }
    issuer = *metadata::ImdsTokenIssuer::Create(random, clock);
    imds =
        *metadata::ImdsHandler::Create(directory, broker_source, *issuer, clock, imds_metrics, {});
    imds_token = Call(*imds, ImdsTokenRequest()).body;
  }

  static http::Response Call(http::Handler& handler, http::Request request) {
    http::Response out;
    handler.Handle(std::move(request), [&](http::Response r) { out = std::move(r); });
    return out;
  }

  // What botocore sends (its User-Agent and Accept-Encoding included).
  [[nodiscard]] http::Request ContainerRequest() const {
    http::Request r = BaseRequest("GET", "/v1/credentials", pod_ip);
    r.headers.Add("Host", "169.254.170.23");
    r.headers.Add("Accept-Encoding", "identity");
    r.headers.Add("User-Agent",
                  "Boto3/1.35.0 md/Botocore#1.35.0 ua/2.0 os/linux#6.1 lang/python#3.12");
    r.headers.Add("Authorization", token);
    return r;
  }
  [[nodiscard]] http::Request ImdsTokenRequest() const {
    http::Request r = BaseRequest("PUT", "/latest/api/token", pod_ip);
    r.headers.Add("Host", "169.254.169.254");
    r.headers.Add("X-aws-ec2-metadata-token-ttl-seconds", "21600");
    return r;
  }
  [[nodiscard]] http::Request ImdsRequest() const {
    http::Request r =
        BaseRequest("GET", "/latest/meta-data/iam/security-credentials/" + role_name, pod_ip);
    r.headers.Add("Host", "169.254.169.254");
    r.headers.Add("Accept-Encoding", "identity");
    r.headers.Add("User-Agent",
                  "Boto3/1.35.0 md/Botocore#1.35.0 ua/2.0 os/linux#6.1 lang/python#3.12");
    r.headers.Add("X-aws-ec2-metadata-token", imds_token);
    return r;
  }

  const std::string cluster_arn = "arn:aws:eks:eu-west-1:123456789012:cluster/shop";
  SystemClock clock;
  testing::FakeRandom random;
  metrics::Registry registry;
  testing::FakeStsClient sts;
  creds::CredentialBroker broker;
  identity::RolePolicy policy;
  agent::AssociationCache associations;
  k8s::PodCache pods{{.annotation_keys = {"iam.amazonaws.com/*"}}};
  k8s::NamespaceCache namespaces{{.annotation_keys = {"iam.amazonaws.com/*"}}};
  k8s::ServiceAccountCache accounts{{.annotation_keys = {"iam.amazonaws.com/*"}}};
  agent::AssociationRoles roles;
  agent::PodCacheResolver resolver;
  agent::BrokerCredentials credentials;
  testing::FakeKubeApi api;
  callers::PodDirectory directory;
  callers::BrokerSource broker_source;
  containercreds::ContainerMetrics cc_metrics;
  metadata::ImdsMetrics imds_metrics;
  std::unique_ptr<OneReview> reviews;
  std::unique_ptr<containercreds::ContainerCredentialsHandler> cc;
  std::unique_ptr<metadata::ImdsTokenIssuer> issuer;
  std::shared_ptr<metadata::ImdsHandler> imds;
  std::string pod_ip;
  std::string role_name;
  std::string token;
  std::string imds_token;
};

Node& Shared() {
  static auto* node = new Node();  // never destroyed: benchmark threads may outlive main's exit
  return *node;
}

// Each iteration hands the handler a fresh copy of the request, as the server hands it a freshly
// parsed one (the copy is the benchmark's, outside Handle()).
void Run(benchmark::State& state, http::Handler& handler, const http::Request& request) {
  std::size_t bytes = 0;
  int status = 0;
  for (auto _ : state) {
    handler.Handle(http::Request(request), [&](http::Response r) {
      status = r.status;
      bytes += r.body.size();
    });
  }
  if (status != 200) {
    state.SkipWithError(("status " + std::to_string(status)).c_str());
  }
  benchmark::DoNotOptimize(bytes);
}

void BM_ContainerCredentialsCached(benchmark::State& state) {
  Node& node = Shared();
  Run(state, *node.cc, node.ContainerRequest());
}
BENCHMARK(BM_ContainerCredentialsCached)->Threads(1)->Threads(2)->UseRealTime();

void BM_ImdsCredentialsCached(benchmark::State& state) {
  Node& node = Shared();
  Run(state, *node.imds, node.ImdsRequest());
}
BENCHMARK(BM_ImdsCredentialsCached)->Threads(1)->Threads(2)->UseRealTime();

}  // namespace
}  // namespace podiam

BENCHMARK_MAIN();
