// The shared stacks built from configs over fakes (no network but loopback): what each gives a
// subcommand, and that the agent's network pieces do nothing they were not asked to.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <pthread.h>

#include <csignal>
#include <memory>
#include <vector>

#include "podiam/app/agent_network.hpp"
#include "podiam/app/aws_stack.hpp"
#include "podiam/app/kube_stack.hpp"
#include "podiam/app/ops_stack.hpp"
#include "podiam/app/process.hpp"
#include "podiam/http/handler.hpp"
#include "podiam/k8s/resource.hpp"
#include "podiam/testing/fake_clock.hpp"
#include "podiam/testing/fake_http_client.hpp"
#include "podiam/testing/fake_random.hpp"
#include "podiam/transport/http_client.hpp"

namespace podiam::app {
namespace {

using ::testing::HasSubstr;

struct AwsFixture {
  testing::FakeClock clock;
  testing::FakeRandom random;
  testing::FakeHttpClient http;
  // One registry per stack: a registry takes each metric name once.
  std::vector<std::unique_ptr<metrics::Registry>> registries;

  Result<std::unique_ptr<AwsStack>> Create(const cli::AwsFlags& flags,
                                           aws::InstanceMetadata* node = nullptr) {
    return AwsStack::Create(
        {.http = http,
         .clock = clock,
         .random = random,
         .registry = *registries.emplace_back(std::make_unique<metrics::Registry>()),
         .env = aws::MapEnvironment({{"AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"},
                                     {"AWS_SECRET_ACCESS_KEY", "secret"},
                                     {"AWS_EC2_METADATA_DISABLED", "true"}})},
        flags, node, "podiam-agent-n1");
  }
};

TEST(AwsStackTest, RegionalEndpointOfTheConfiguredRegion) {
  AwsFixture f;
  auto stack = f.Create({.region = "eu-west-1"});
  ASSERT_TRUE(stack) << stack.error().ToString();
  EXPECT_EQ((*stack)->region(), "eu-west-1");
  EXPECT_EQ((*stack)->endpoint().url, "https://sts.eu-west-1.amazonaws.com/");
  auto cn = f.Create({.region = "cn-north-1"});
  ASSERT_TRUE(cn);
  EXPECT_EQ((*cn)->endpoint().partition, "aws-cn");
  auto overridden = f.Create({.region = "eu-west-1", .sts_endpoint = "http://127.0.0.1:5000/"});
  ASSERT_TRUE(overridden);
  EXPECT_EQ((*overridden)->endpoint().url, "http://127.0.0.1:5000/");
  EXPECT_EQ((*overridden)->endpoint().signing_region, "eu-west-1");
  EXPECT_EQ(f.http.request_count(), 0u);  // nothing is asked until used
}

TEST(AwsStackTest, SignsWithItsOwnCredentials) {
  AwsFixture f;
  auto stack = f.Create({.region = "us-west-2"});
  ASSERT_TRUE(stack);
  f.http.PushResponse(403,
                      "<ErrorResponse><Error><Code>AccessDenied</Code></Error></ErrorResponse>");
  EXPECT_FALSE((*stack)->sts().GetCallerIdentity());
  auto request = f.http.last_request();
  EXPECT_EQ(request.url, "https://sts.us-west-2.amazonaws.com/");
  EXPECT_THAT(std::string(request.headers.Get("Authorization").value_or("")),
              HasSubstr("Credential=AKIDEXAMPLE/"));
  EXPECT_FALSE((*stack)->CredentialsCheck().ok);
}

TEST(AwsStackTest, AssumeRoleComesFirst) {
  AwsFixture f;
  auto stack =
      f.Create({.region = "us-east-1", .assume_role = "arn:aws:iam::123456789012:role/hop"});
  ASSERT_TRUE(stack);
  f.http.PushError(ErrorCode::kUnavailable, "sts down");
  EXPECT_FALSE((*stack)->sts().GetCallerIdentity());
  auto requests = f.http.requests();
  ASSERT_GE(requests.size(), 1u);
  const auto& first = requests.front();
  EXPECT_THAT(first.body, HasSubstr("Action=AssumeRole"));
  EXPECT_THAT(first.body, HasSubstr("RoleSessionName=podiam-agent-n1"));
}

TEST(AwsStackTest, RefusesWhatCannotWork) {
  AwsFixture f;
  auto region = f.Create({.region = "Not A Region"});
  ASSERT_FALSE(region);
  EXPECT_THAT(region.error().message(), HasSubstr("STS endpoint"));
  auto role = f.Create({.region = "us-east-1", .assume_role = "hop"});
  ASSERT_FALSE(role);
  EXPECT_THAT(role.error().message(), HasSubstr("--assume-role"));
}

TEST(AwsStackTest, IamIsSignedLikeSts) {
  AwsFixture f;
  auto stack = f.Create({.region = "eu-west-1"});
  ASSERT_TRUE(stack);
  ASSERT_TRUE((*stack)->AddIam("aws", ""));
  f.http.PushResponse(403,
                      "<ErrorResponse><Error><Code>AccessDenied</Code></Error></ErrorResponse>");
  EXPECT_FALSE((*stack)->iam().ListOidcProviders());
  auto request = f.http.last_request();
  EXPECT_EQ(request.url, "https://iam.amazonaws.com/");  // global, whatever the STS region
  EXPECT_THAT(std::string(request.headers.Get("Authorization").value_or("")),
              HasSubstr("Credential=AKIDEXAMPLE/"));
  EXPECT_THAT(std::string(request.headers.Get("Authorization").value_or("")),
              HasSubstr("/us-east-1/iam/aws4_request"));

  auto overridden = f.Create({.region = "us-east-1"});
  ASSERT_TRUE(overridden);
  ASSERT_TRUE((*overridden)->AddIam("aws-cn", "http://127.0.0.1:5000/"));
  f.http.PushResponse(403,
                      "<ErrorResponse><Error><Code>AccessDenied</Code></Error></ErrorResponse>");
  EXPECT_FALSE((*overridden)->iam().GetRole("r"));
  request = f.http.last_request();
  EXPECT_EQ(request.url, "http://127.0.0.1:5000/");
  EXPECT_THAT(std::string(request.headers.Get("Authorization").value_or("")),
              HasSubstr("/cn-north-1/iam/aws4_request"));  // the partition's signing region

  auto bad = (*overridden)->AddIam("aws-mars", "");
  ASSERT_FALSE(bad);
  EXPECT_THAT(bad.error().message(), HasSubstr("IAM endpoint"));
}

TEST(AwsStackTest, IamAssumesTheIntermediateRoleFirst) {
  AwsFixture f;
  auto stack =
      f.Create({.region = "us-east-1", .assume_role = "arn:aws:iam::123456789012:role/hop"});
  ASSERT_TRUE(stack);
  ASSERT_TRUE((*stack)->AddIam("aws", ""));
  f.http.PushError(ErrorCode::kUnavailable, "sts down");
  EXPECT_FALSE((*stack)->iam().ListOidcProviders());
  auto requests = f.http.requests();
  ASSERT_GE(requests.size(), 1u);
  EXPECT_THAT(requests.front().body, HasSubstr("Action=AssumeRole"));
}

TEST(KubeStackTest, InformersSyncTogetherAndStopWithTheStack) {
  testing::FakeClock clock;
  testing::FakeRandom random;
  metrics::Registry registry;
  auto http = std::make_unique<testing::FakeHttpClient>();
  http->SetHandler([](const http::ClientRequest&) -> Result<http::Response> {
    return MakeError(ErrorCode::kUnavailable, "no apiserver");
  });
  KubeStack kube({.server = "https://127.0.0.1:6443", .origin = "test"}, std::move(http), clock,
                 random, registry);
  EXPECT_TRUE(kube.HasSynced());  // nothing to wait for
  k8s::NamespaceCache namespaces;
  kube.Watch(namespaces, {.resource = k8s::resources::Namespaces()});
  EXPECT_FALSE(kube.HasSynced());
  EXPECT_EQ(kube.cluster().origin, "test");
  auto& lookup = kube.ApiWith({.request_timeout = std::chrono::milliseconds(500)});
  EXPECT_FALSE(lookup.Get(k8s::resources::Namespaces(), "", "default"));
  kube.Start();
  kube.Stop();
  EXPECT_FALSE(kube.HasSynced());
}

TEST(KubeStackTest, ConnectNamesWhatIsMissing) {
  testing::FakeClock clock;
  testing::FakeRandom random;
  metrics::Registry registry;
  auto kube = KubeStack::Connect({.kubeconfig = "/nonexistent/kubeconfig"}, clock, random, registry,
                                 "podiam-test");
  ASSERT_FALSE(kube);
  EXPECT_THAT(kube.error().message(), HasSubstr("kubernetes config"));
}

Result<http::Response> Fetch(std::uint16_t port, const std::string& path) {
  auto client = transport::BeastHttpClient::Create({});
  if (!client) {
    return tl::unexpected(client.error());
  }
  return (*client)->Send({.url = "http://127.0.0.1:" + std::to_string(port) + path,
                          .timeout = std::chrono::seconds(5)});
}

TEST(OpsStackTest, ServesMetricsHealthAndReadiness) {
  OpsStack ops(*http::ParseHostPort("127.0.0.1:0"));
  bool ready = false;
  ops.readiness().Add("test", [&] { return ready ? ops::Check::Ok() : ops::Check::Fail("no"); });
  ASSERT_TRUE(ops.Start());
  ASSERT_NE(ops.port(), 0);
  auto metrics = Fetch(ops.port(), "/metrics");
  ASSERT_TRUE(metrics) << metrics.error().ToString();
  EXPECT_EQ(metrics->status, 200);
  EXPECT_THAT(metrics->body, HasSubstr("process_"));  // process metrics come with the stack
  EXPECT_EQ(Fetch(ops.port(), "/healthz")->status, 200);
  EXPECT_NE(Fetch(ops.port(), "/readyz")->status, 200);
  ready = true;
  EXPECT_EQ(Fetch(ops.port(), "/readyz")->status, 200);
  ops.Stop();
}

TEST(OpsStackTest, WithoutAListenerTheSubcommandServesTheHandler) {
  OpsStack ops;
  ASSERT_TRUE(ops.Start());  // nothing to start
  EXPECT_EQ(ops.port(), 0);
  ops.readiness().Add("test", [] { return ops::Check::Fail("not yet"); });
  transport::HttpServer own(
      {.address = "127.0.0.1", .port = 0, .name = "own", .metrics = &ops.http_metrics()},
      ops.MakeHandler());
  ASSERT_TRUE(own.Start());
  EXPECT_EQ(Fetch(own.port(), "/healthz")->status, 200);
  EXPECT_NE(Fetch(own.port(), "/readyz")->status, 200);
  auto metrics = Fetch(own.port(), "/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_THAT(metrics->body, HasSubstr("process_"));
  EXPECT_THAT(metrics->body, HasSubstr("server=\"own\""));
  own.Stop(std::chrono::seconds(1));
  ops.Stop();
}

TEST(AgentNetworkTest, NoRulesWithoutIptablesAndListenersServe) {
  log::Logger log("test");
  MetadataRedirects redirects({.iptables = false, .iptables_remove_on_exit = true}, 8181);
  ASSERT_TRUE(redirects.Install(log));  // runs no iptables at all
  EXPECT_FALSE(redirects.needs_ipv6_listener());
  redirects.RemoveIfAsked(log);

  metrics::Registry registry;
  transport::HttpServerMetrics metrics(registry);
  MetadataListeners listeners({.listen = "127.0.0.1:0", .threads = 1},
                              *http::ParseHostPort("127.0.0.1:0"), std::nullopt, metrics,
                              http::MakeSyncHandler([](const http::Request& /*request*/) {
                                return http::Response::Text(200, "hello");
                              }));
  ASSERT_TRUE(listeners.Start()) << listeners.failed_step();
  auto hello = Fetch(listeners.port(), "/latest/meta-data/");
  ASSERT_TRUE(hello);
  EXPECT_EQ(hello->body, "hello");
  listeners.Stop(std::chrono::seconds(1));
}

TEST(ProcessTest, FileLimitIsAtLeastWhatItWas) { EXPECT_GT(RaiseFileLimit(), 0u); }

TEST(ProcessTest, WaitForReturnsASignalOrNothingAfterTheTimeout) {
  ShutdownSignals signals;  // blocks SIGTERM/SIGINT in this thread: a sent one stays pending
  EXPECT_EQ(signals.WaitFor(std::chrono::milliseconds(10)), std::nullopt);
  ASSERT_EQ(pthread_kill(pthread_self(), SIGTERM), 0);
  EXPECT_EQ(signals.WaitFor(std::chrono::seconds(5)), SIGTERM);
  EXPECT_EQ(signals.WaitFor(std::chrono::milliseconds(1)), std::nullopt);
}

}  // namespace
}  // namespace podiam::app
