#include "podiam/agent/pod_directory.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "podiam/agent/broker_source.hpp"
#include "podiam/k8s/resource.hpp"
#include "podiam/testing/fake_clock.hpp"
#include "podiam/testing/fake_kube_api.hpp"
#include "podiam/testing/fake_random.hpp"
#include "podiam/testing/fake_sts_client.hpp"
#include "podiam/testing/k8s_objects.hpp"

namespace podiam::agent {
namespace {

using ::testing::HasSubstr;

constexpr const char* kRoleKey = "iam.amazonaws.com/role";

class PodDirectoryTest : public ::testing::Test {
 protected:
  PodDirectoryTest()
      : sts_(clock_),
        broker_(sts_, clock_, random_, registry_, {.max_concurrent_sts = 2}),
        policy_({.base = *aws::ParseBaseRoleArn("arn:aws:iam::123456789012:role/")}),
        directory_(pods_, namespaces_, accounts_, policy_, broker_, api_, nullptr, clock_,
                   registry_, {.node = "node-1", .watch_grace = std::chrono::milliseconds(0)}) {}

  void Namespace(const std::string& name, std::map<std::string, std::string> annotations) {
    k8s::Json ns = {{"apiVersion", "v1"},
                    {"kind", "Namespace"},
                    {"metadata",
                     {{"name", name},
                      {"uid", "ns-" + name},
                      {"resourceVersion", std::to_string(++rv_)},
                      {"annotations", annotations}}}};
    namespaces_.Event(k8s::WatchEventType::kModified, std::move(ns));
  }

  void Pod(testing::TestPod p, k8s::WatchEventType type = k8s::WatchEventType::kModified) {
    if (p.uid.empty()) {
      p.uid = "uid-" + p.name;
    }
    auto json = testing::PodJson(p);
    json["metadata"]["resourceVersion"] = std::to_string(++rv_);
    pods_.Event(type, std::move(json));
  }

  std::string RoleAt(const std::string& ip) {
    auto caller = directory_.Find(ip);
    if (!caller) {
      return "<none>";
    }
    return caller->decision.role ? caller->decision.role->name : "<no role>";
  }

  testing::FakeClock clock_;
  testing::FakeRandom random_;
  metrics::Registry registry_;
  testing::FakeStsClient sts_;
  creds::CredentialBroker broker_;
  identity::RolePolicy policy_;
  k8s::PodCache pods_{{.annotation_keys = {"iam.amazonaws.com/*"}}};
  k8s::NamespaceCache namespaces_{{.annotation_keys = {"iam.amazonaws.com/*"}}};
  k8s::ServiceAccountCache accounts_{{.annotation_keys = {"iam.amazonaws.com/*"}}};
  testing::FakeKubeApi api_;
  PodDirectory directory_;
  int rv_ = 100;
};

TEST_F(PodDirectoryTest, PodWithAllowedRoleIsFoundAndPrefetched) {
  Namespace("team-a", {{"iam.amazonaws.com/allowed-roles", R"(["app"])"}});
  Pod({.namespace_name = "team-a",
       .name = "web-1",
       .ip = "10.0.0.1",
       .annotations = {{kRoleKey, "app"}}});
  auto caller = directory_.Find("10.0.0.1");
  ASSERT_TRUE(caller);
  EXPECT_EQ(caller->decision.outcome, identity::Outcome::kAllowed);
  ASSERT_TRUE(caller->spec);
  EXPECT_EQ(caller->spec->key.role_arn, "arn:aws:iam::123456789012:role/app");
  EXPECT_EQ(caller->spec->key.session_name, "team-a.web-1");
  ASSERT_TRUE(broker_.AwaitIdle(std::chrono::seconds(5)));
  EXPECT_EQ(sts_.Calls(testing::FakeStsClient::Action::kAssumeRole),
            1);  // prefetched before any request
  BrokerSource source(broker_);
  EXPECT_TRUE(source.Cached(*caller));
}

TEST_F(PodDirectoryTest, IpReuseNeverHandsOutTheOldRole) {
  Namespace("team-a", {{"iam.amazonaws.com/allowed-roles", R"(["*"])"}});
  Pod({.namespace_name = "team-a",
       .name = "old",
       .ip = "10.0.0.2",
       .annotations = {{kRoleKey, "old-role"}}});
  EXPECT_EQ(RoleAt("10.0.0.2"), "old-role");
  Pod({.namespace_name = "team-a", .name = "old", .ip = "10.0.0.2"}, k8s::WatchEventType::kDeleted);
  EXPECT_EQ(RoleAt("10.0.0.2"), "<none>");
  Pod({.namespace_name = "team-a",
       .name = "new",
       .ip = "10.0.0.2",
       .annotations = {{kRoleKey, "new-role"}}});
  EXPECT_EQ(RoleAt("10.0.0.2"), "new-role");
}

TEST_F(PodDirectoryTest, FinishedAndHostNetworkPodsOwnNoIp) {
  Namespace("team-a", {{"iam.amazonaws.com/allowed-roles", R"(["*"])"}});
  Pod({.namespace_name = "team-a",
       .name = "job",
       .ip = "10.0.0.3",
       .annotations = {{kRoleKey, "job"}}});
  EXPECT_EQ(RoleAt("10.0.0.3"), "job");
  Pod({.namespace_name = "team-a",
       .name = "job",
       .ip = "10.0.0.3",
       .phase = "Succeeded",
       .annotations = {{kRoleKey, "job"}}});
  EXPECT_EQ(RoleAt("10.0.0.3"), "<none>");
  Pod({.namespace_name = "team-a",
       .name = "host",
       .ip = "192.168.0.10",
       .host_network = true,
       .annotations = {{kRoleKey, "job"}}});
  EXPECT_EQ(RoleAt("192.168.0.10"), "<none>");
  Pod({.namespace_name = "team-a",
       .name = "elsewhere",
       .ip = "10.0.0.4",
       .node = "node-2",
       .annotations = {{kRoleKey, "job"}}});
  EXPECT_EQ(RoleAt("10.0.0.4"), "<none>");
}

TEST_F(PodDirectoryTest, PodWithoutIpYetIsTrackedOnceItHasOne) {
  Namespace("team-a", {{"iam.amazonaws.com/allowed-roles", R"(["*"])"}});
  Pod({.namespace_name = "team-a",
       .name = "pending",
       .phase = "Pending",
       .annotations = {{kRoleKey, "job"}}});
  EXPECT_EQ(directory_.Size(), 0U);
  Pod({.namespace_name = "team-a",
       .name = "pending",
       .ip = "10.0.0.9",
       .annotations = {{kRoleKey, "job"}}});
  EXPECT_EQ(RoleAt("10.0.0.9"), "job");
}

TEST_F(PodDirectoryTest, PodIsPrefetchedBeforeItHasAnIp) {
  Namespace("team-a", {{"iam.amazonaws.com/allowed-roles", R"(["*"])"}});
  Pod({.namespace_name = "team-a",
       .name = "starting",
       .phase = "Pending",
       .annotations = {{kRoleKey, "job"}}});
  EXPECT_EQ(directory_.Size(), 0U);  // nobody can ask as this pod yet
  ASSERT_TRUE(broker_.AwaitIdle(std::chrono::seconds(5)));
  EXPECT_EQ(sts_.Calls(testing::FakeStsClient::Action::kAssumeRole), 1);

  Pod({.namespace_name = "team-a",
       .name = "starting",
       .ip = "10.0.0.10",
       .annotations = {{kRoleKey, "job"}}});
  auto caller = directory_.Find("10.0.0.10");
  ASSERT_TRUE(caller);
  EXPECT_EQ(caller->ip, "10.0.0.10");
  BrokerSource source(broker_);
  EXPECT_TRUE(source.Cached(*caller));  // the first request needs no STS round trip
  ASSERT_TRUE(broker_.AwaitIdle(std::chrono::seconds(5)));
  EXPECT_EQ(sts_.Calls(testing::FakeStsClient::Action::kAssumeRole), 1);
}

TEST_F(PodDirectoryTest, PendingPodThatIsDeletedReleasesItsPrefetch) {
  Namespace("team-a", {{"iam.amazonaws.com/allowed-roles", R"(["*"])"}});
  Pod({.namespace_name = "team-a",
       .name = "never-started",
       .phase = "Pending",
       .annotations = {{kRoleKey, "job"}}});
  ASSERT_TRUE(broker_.AwaitIdle(std::chrono::seconds(5)));
  Pod({.namespace_name = "team-a", .name = "never-started", .phase = "Pending"},
      k8s::WatchEventType::kDeleted);
  EXPECT_EQ(directory_.Size(), 0U);
  EXPECT_THAT(registry_.Render(), HasSubstr("podiam_agent_pods_tracked 0"));
}

TEST_F(PodDirectoryTest, NamespaceAndServiceAccountChangesAreReDecided) {
  Pod({.namespace_name = "team-b",
       .name = "web",
       .ip = "10.0.0.5",
       .service_account = "web",
       .annotations = {{kRoleKey, "app"}}});
  EXPECT_EQ(directory_.Find("10.0.0.5")->decision.outcome, identity::Outcome::kDenied);
  Namespace("team-b", {{"iam.amazonaws.com/permitted", ".*/app"}});
  EXPECT_EQ(directory_.Find("10.0.0.5")->decision.outcome, identity::Outcome::kAllowed);

  Pod({.namespace_name = "team-b",
       .name = "sa-only",
       .ip = "10.0.0.6",
       .service_account = "reader"});
  EXPECT_EQ(directory_.Find("10.0.0.6")->decision.outcome, identity::Outcome::kNoRole);
  k8s::Json sa = {{"apiVersion", "v1"},
                  {"kind", "ServiceAccount"},
                  {"metadata",
                   {{"name", "reader"},
                    {"namespace", "team-b"},
                    {"uid", "sa-uid"},
                    {"resourceVersion", "900"},
                    {"annotations", {{kRoleKey, "app"}}}}}};
  accounts_.Event(k8s::WatchEventType::kAdded, std::move(sa));
  auto caller = directory_.Find("10.0.0.6");
  EXPECT_EQ(caller->decision.outcome, identity::Outcome::kAllowed);
  EXPECT_EQ(caller->decision.source, identity::RoleSource::kServiceAccount);
  EXPECT_GE(registry_.Render().find("podiam_agent_role_decisions_total{outcome=\"denied\"} 1"), 0U);
}

TEST_F(PodDirectoryTest, AwaitAsksTheApiserverForAPodTheWatchHasNotDelivered) {
  Namespace("team-a", {{"iam.amazonaws.com/allowed-roles", R"(["*"])"}});
  auto pod = testing::PodJson({.namespace_name = "team-a",
                               .name = "fresh",
                               .ip = "10.0.0.7",
                               .uid = "uid-fresh",
                               .annotations = {{kRoleKey, "job"}}});
  ASSERT_TRUE(api_.Create(k8s::resources::Pods(), "team-a", pod));
  EXPECT_FALSE(directory_.Find("10.0.0.7"));
  auto caller = directory_.Await("10.0.0.7", clock_.SteadyNow() + std::chrono::seconds(1));
  ASSERT_TRUE(caller);
  EXPECT_EQ(caller->decision.role->name, "job");

  // Nobody at this IP: no caller, and a repeat within a second does not ask again.
  EXPECT_FALSE(directory_.Await("10.0.0.99", clock_.SteadyNow()));
  EXPECT_FALSE(directory_.Await("10.0.0.99", clock_.SteadyNow()));
  std::string text = registry_.Render();
  EXPECT_THAT(text, HasSubstr("podiam_agent_direct_lookups_total{result=\"found\"} 1"));
  EXPECT_THAT(text, HasSubstr("podiam_agent_direct_lookups_total{result=\"not_found\"} 1"));
  EXPECT_THAT(text,
              HasSubstr("podiam_agent_direct_lookups_total{result=\"skipped_recent_miss\"} 1"));
}

TEST_F(PodDirectoryTest, RoleChangeReleasesTheOldCredentials) {
  Namespace("team-a", {{"iam.amazonaws.com/allowed-roles", R"(["*"])"}});
  Pod({.namespace_name = "team-a",
       .name = "web",
       .ip = "10.0.0.8",
       .annotations = {{kRoleKey, "one"}}});
  Pod({.namespace_name = "team-a",
       .name = "web",
       .ip = "10.0.0.8",
       .annotations = {{kRoleKey, "two"}}});
  EXPECT_EQ(RoleAt("10.0.0.8"), "two");
  auto stats = broker_.Stats();
  ASSERT_EQ(stats.entries.size(), 2U);
  for (const auto& e : stats.entries) {
    EXPECT_EQ(e.users, e.role_arn.ends_with("/two") ? 1 : 0) << e.role_arn;
  }
}

}  // namespace
}  // namespace podiam::agent
