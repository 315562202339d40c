#include "podiam/callers/pod_directory.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <thread>

#include "podiam/callers/broker_source.hpp"
#include "podiam/k8s/resource.hpp"
#include "podiam/testing/fake_clock.hpp"
#include "podiam/testing/fake_kube_api.hpp"
#include "podiam/testing/fake_random.hpp"
#include "podiam/testing/fake_sts_client.hpp"
#include "podiam/testing/k8s_objects.hpp"

namespace podiam::callers {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

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
  // Await() synchronously, within a real-time safety net.
  metadata::AwaitResult AwaitNow(const std::string& ip,
                                 std::chrono::milliseconds wait = std::chrono::seconds(1)) {
    auto result = std::make_shared<std::promise<metadata::AwaitResult>>();
    auto future = result->get_future();
    directory_.Await(ip, clock_.SteadyNow() + wait,
                     [result](metadata::AwaitResult r) { result->set_value(std::move(r)); });
    EXPECT_EQ(future.wait_for(std::chrono::seconds(5)), std::future_status::ready) << ip;
    return future.get();
  }

  testing::FakeKubeApi api_;
  PodDirectory directory_;
  metrics::Registry registry2_;  // for a second directory in one test
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
  ASSERT_TRUE(SpecOf(*caller));
  EXPECT_EQ(SpecOf(*caller)->key.role_arn, "arn:aws:iam::123456789012:role/app");
  EXPECT_EQ(SpecOf(*caller)->key.session_name, "team-a.web-1");
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
  // The namespace is not known yet: undecided (retry), not denied.
  EXPECT_EQ(directory_.Find("10.0.0.5")->decision.outcome, identity::Outcome::kPending);
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
  directory_.Start();
  Namespace("team-a", {{"iam.amazonaws.com/allowed-roles", R"(["*"])"}});
  auto pod = testing::PodJson({.namespace_name = "team-a",
                               .name = "fresh",
                               .ip = "10.0.0.7",
                               .uid = "uid-fresh",
                               .annotations = {{kRoleKey, "job"}}});
  ASSERT_TRUE(api_.Create(k8s::resources::Pods(), "team-a", pod));
  EXPECT_FALSE(directory_.Find("10.0.0.7"));
  auto found = AwaitNow("10.0.0.7");
  ASSERT_TRUE(found.caller);
  EXPECT_EQ(found.caller->decision.role->name, "job");

  // Nobody at this IP: no caller, and a repeat within the miss TTL does not ask again.
  EXPECT_FALSE(AwaitNow("10.0.0.99").caller);
  // (The fake clock never reaches the 1 s deadline: the answer comes at the watch grace.)
  EXPECT_FALSE(AwaitNow("10.0.0.99").caller);
  std::string text = registry_.Render();
  EXPECT_THAT(text, HasSubstr("podiam_agent_direct_lookups_total{result=\"found\"} 1"));
  EXPECT_THAT(text, HasSubstr("podiam_agent_direct_lookups_total{result=\"not_found\"} 1"));
  EXPECT_THAT(text, Not(HasSubstr("skipped_recent_miss")));  // no lookup was even queued
}

// The informers' caches are the informers' own: what a direct look-up finds is answered from the
// directory's short-lived store, and the watch's later delivery takes over.
TEST_F(PodDirectoryTest, DirectLookupLeavesTheInformersCachesAlone) {
  directory_.Start();
  auto pod = testing::PodJson({.namespace_name = "team-c",
                               .name = "early",
                               .ip = "10.0.0.41",
                               .uid = "uid-early",
                               .annotations = {{kRoleKey, "job"}}});
  ASSERT_TRUE(api_.Create(k8s::resources::Pods(), "team-c", pod));
  ASSERT_TRUE(
      api_.Create(k8s::resources::Namespaces(), "",
                  {{"apiVersion", "v1"},
                   {"kind", "Namespace"},
                   {"metadata",
                    {{"name", "team-c"},
                     {"uid", "ns-team-c"},
                     {"annotations", {{"iam.amazonaws.com/allowed-roles", R"(["*"])"}}}}}}));
  auto found = AwaitNow("10.0.0.41");
  ASSERT_TRUE(found.caller);
  EXPECT_EQ(found.caller->decision.outcome, identity::Outcome::kAllowed);
  EXPECT_EQ(pods_.Size(), 0U);        // nothing written into the pod informer's cache
  EXPECT_EQ(namespaces_.Size(), 0U);  // nor the namespace's
  ASSERT_TRUE(directory_.Find("10.0.0.41"));
  auto record = directory_.Pod("team-c", "early");
  ASSERT_TRUE(record);
  EXPECT_EQ(record->uid, "uid-early");

  // The watch delivers the pod: the directory answers from it from now on.
  Namespace("team-c", {{"iam.amazonaws.com/allowed-roles", R"(["other"])"}});
  Pod({.namespace_name = "team-c",
       .name = "early",
       .ip = "10.0.0.41",
       .uid = "uid-early",
       .annotations = {{kRoleKey, "job"}}});
  EXPECT_EQ(directory_.Find("10.0.0.41")->decision.outcome, identity::Outcome::kDenied);
  // Gone from the watch: gone from the directory, the looked-up entry included.
  Pod({.namespace_name = "team-c", .name = "early", .ip = "10.0.0.41", .uid = "uid-early"},
      k8s::WatchEventType::kDeleted);
  EXPECT_FALSE(directory_.Find("10.0.0.41"));
}

// With --duplicate-ips refuse, an address two live pods claim is nobody's, found by the watch or
// by a direct look-up alike.
TEST_F(PodDirectoryTest, DirectLookupHonoursTheCachesDuplicateIpPolicy) {
  k8s::PodCache refusing({.annotation_keys = {"iam.amazonaws.com/*"},
                          .duplicate_ips = k8s::DuplicateIpPolicy::kRefuse});
  PodDirectory directory(refusing, namespaces_, accounts_, policy_, broker_, api_, nullptr, clock_,
                         registry2_,
                         {.node = "node-1", .watch_grace = std::chrono::milliseconds(0)});
  directory.Start();
  directory_.Start();
  Namespace("team-a", {{"iam.amazonaws.com/allowed-roles", R"(["*"])"}});
  for (const char* name : {"one", "two"}) {
    ASSERT_TRUE(api_.Create(k8s::resources::Pods(), "team-a",
                            testing::PodJson({.namespace_name = "team-a",
                                              .name = name,
                                              .ip = "10.0.0.61",
                                              .uid = std::string("uid-") + name,
                                              .annotations = {{kRoleKey, "job"}}})));
  }
  auto result = std::make_shared<std::promise<metadata::AwaitResult>>();
  auto future = result->get_future();
  directory.Await("10.0.0.61", clock_.SteadyNow() + std::chrono::seconds(1),
                  [result](metadata::AwaitResult r) { result->set_value(std::move(r)); });
  // Found, but nobody's: the request waits for the watch until its deadline, as before.
  for (int i = 0; i < 500 && registry2_.Render().find("result=\"found\"} 1") == std::string::npos;
       ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_FALSE(directory.Find("10.0.0.61"));
  clock_.Advance(std::chrono::seconds(2));
  ASSERT_EQ(future.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  EXPECT_FALSE(future.get().caller);
  EXPECT_TRUE(AwaitNow("10.0.0.61").caller);  // the fixture's directory prefers the newest
  EXPECT_THAT(registry2_.Render(),
              HasSubstr(R"(podiam_agent_direct_lookups_total{result="found"} 1)"));
}

// Endpoints that learn the pod from a token ask by namespace/name (and UID).
TEST_F(PodDirectoryTest, PodByNameAndUid) {
  Namespace("team-a", {{"iam.amazonaws.com/allowed-roles", R"(["*"])"}});
  Pod({.namespace_name = "team-a",
       .name = "web",
       .ip = "10.0.0.51",
       .service_account = "app",
       .uid = "uid-web",
       .annotations = {{kRoleKey, "job"}}});
  auto record = directory_.Pod("team-a", "web");
  ASSERT_TRUE(record);
  EXPECT_EQ(record->uid, "uid-web");
  EXPECT_EQ(record->node_name, "node-1");
  EXPECT_EQ(record->service_account, "app");
  EXPECT_EQ(record->ips, std::vector<std::string>{"10.0.0.51"});
  EXPECT_EQ(record->phase, k8s::PodPhase::kRunning);
  ASSERT_TRUE(record->caller);
  EXPECT_EQ(record->caller->decision.role->name, "job");
  EXPECT_TRUE(directory_.Pod("team-a", "web", "uid-web"));
  EXPECT_FALSE(directory_.Pod("team-a", "web", "uid-of-an-older-web"));
  EXPECT_FALSE(directory_.Pod("team-a", "nobody"));

  // Another node's pod (the agent's caches may hold it during a relist) has no Caller here; a
  // directory for all nodes (the server's) decides it.
  Pod({.namespace_name = "team-a",
       .name = "far",
       .ip = "10.0.9.1",
       .node = "node-2",
       .annotations = {{kRoleKey, "job"}}});
  ASSERT_TRUE(directory_.Pod("team-a", "far"));
  EXPECT_FALSE(directory_.Pod("team-a", "far")->caller);
  PodDirectory all(pods_, namespaces_, accounts_, policy_, broker_, api_, nullptr, clock_,
                   registry2_, {.node = ""});
  all.RecomputeAll();
  ASSERT_TRUE(all.Pod("team-a", "far")->caller);
  EXPECT_EQ(all.Find("10.0.9.1")->pod_name, "far");
}

// status.podIP is only a pod's first address: a dual-stack pod asking from its second address
// before the watch delivers it is found by listing the node's pods.
TEST_F(PodDirectoryTest, AwaitFindsADualStackPodByItsSecondAddress) {
  directory_.Start();
  Namespace("team-a", {{"iam.amazonaws.com/allowed-roles", R"(["*"])"}});
  auto pod = testing::PodJson({.namespace_name = "team-a",
                               .name = "dual",
                               .ip = "10.0.0.31",
                               .more_ips = {"fd0a:241:1:3::2"},
                               .uid = "uid-dual",
                               .annotations = {{kRoleKey, "job"}}});
  ASSERT_TRUE(api_.Create(k8s::resources::Pods(), "team-a", pod));
  auto found = AwaitNow("fd0a:241:1:3::2");
  ASSERT_TRUE(found.caller);
  EXPECT_EQ(found.caller->pod_name, "dual");
  EXPECT_FALSE(AwaitNow("fd0a:241:1:3::9").caller);  // listed, filtered, nobody
}

// Waiting holds no thread, costs bounded memory, and answers the node itself at once: a flood of
// requests from addresses that are no pod cannot delay a new pod's first credentials.
TEST_F(PodDirectoryTest, UnknownCallersAreBoundedAndDoNotDelayANewPod) {
  PodDirectory directory(pods_, namespaces_, accounts_, policy_, broker_, api_, nullptr, clock_,
                         registry2_,
                         {.node = "node-1",
                          .watch_grace = std::chrono::hours(1),  // never ask the apiserver here
                          .is_node_address = [](std::string_view ip) { return ip == "10.1.0.1"; },
                          .may_be_pod = [](std::string_view ip) { return ip.starts_with("10.0."); },
                          .max_waiting = 202,
                          .max_waiting_per_ip = 4});
  directory.Start();
  Namespace("team-a", {{"iam.amazonaws.com/allowed-roles", R"(["*"])"}});
  std::atomic<int> answered{0};
  std::atomic<int> overloaded{0};
  auto count = [&](metadata::AwaitResult r) {
    ++answered;
    overloaded += r.overloaded ? 1 : 0;
  };
  const auto far = clock_.SteadyNow() + std::chrono::hours(1);
  // The node itself and addresses outside the pod ranges: answered inline, nothing parked.
  directory.Await("10.1.0.1", far, count);
  directory.Await("192.168.7.7", far, count);
  EXPECT_EQ(answered.load(), 2);
  EXPECT_EQ(overloaded.load(), 0);
  // 50 unknown pod addresses x 5 requests: 4 each are parked, the 5th is "overloaded" at once.
  for (int ip = 0; ip < 50; ++ip) {
    for (int i = 0; i < 5; ++i) {
      directory.Await("10.0.9." + std::to_string(ip), far, count);
    }
  }
  EXPECT_EQ(answered.load(), 2 + 50);  // 200 parked, 50 refused at once
  EXPECT_EQ(overloaded.load(), 50);
  EXPECT_THAT(registry2_.Render(), HasSubstr("podiam_agent_waiting_requests 200"));

  // A new pod's request parked before the watch delivers it is answered the moment it does.
  auto result = std::make_shared<std::promise<metadata::AwaitResult>>();
  auto future = result->get_future();
  directory.Await("10.0.0.77", far, [result](metadata::AwaitResult r) { result->set_value(r); });
  Pod({.namespace_name = "team-a",
       .name = "new",
       .ip = "10.0.0.77",
       .annotations = {{kRoleKey, "job"}}});
  ASSERT_EQ(future.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  auto got = future.get();
  EXPECT_FALSE(got.overloaded);
  ASSERT_TRUE(got.caller);
  EXPECT_EQ(got.caller->pod_name, "new");
  // Past max_waiting in all, every further request is refused at once.
  for (const char* ip : {"10.0.8.1", "10.0.8.2", "10.0.8.3"}) {
    directory.Await(ip, far, count);
  }
  EXPECT_EQ(overloaded.load(), 51);
  directory.Stop();  // the parked ones are answered "no pod"
  EXPECT_EQ(answered.load(), 2 + 50 + 1 + 202);
}

TEST_F(PodDirectoryTest, NotReadyUntilSyncedAndThenLatched) {
  bool synced = false;
  PodDirectory directory(pods_, namespaces_, accounts_, policy_, broker_, api_, nullptr, clock_,
                         registry2_, {.node = "node-1", .synced = [&] { return synced; }});
  EXPECT_FALSE(directory.Ready());
  synced = true;
  EXPECT_TRUE(directory.Ready());
  synced = false;  // a relist later does not take answers away
  EXPECT_TRUE(directory.Ready());
}

// kiam's session-name annotation is pod-controlled: it may add to the session name, never make a
// pod in another namespace share the first pod's cache entry, session, tags or SourceIdentity.
TEST_F(PodDirectoryTest, SessionNameAnnotationCannotBorrowAnotherPodsSession) {
  PodDirectory directory(pods_, namespaces_, accounts_, policy_, broker_, api_, nullptr, clock_,
                         registry2_,
                         {.node = "node-1", .session = {.tags = true, .source_identity = true}});
  Namespace("team-a", {{"iam.amazonaws.com/allowed-roles", R"(["shared"])"}});
  Namespace("team-b", {{"iam.amazonaws.com/allowed-roles", R"(["shared"])"}});
  Pod({.namespace_name = "team-a",
       .name = "victim",
       .ip = "10.0.0.21",
       .annotations = {{kRoleKey, "shared"}}});
  Pod({.namespace_name = "team-b",
       .name = "attacker",
       .ip = "10.0.0.22",
       .annotations = {{kRoleKey, "shared"}, {"iam.amazonaws.com/session-name", "team-a.victim"}}});
  auto victim = directory.Find("10.0.0.21");
  auto attacker = directory.Find("10.0.0.22");
  ASSERT_TRUE(victim && SpecOf(*victim) && attacker && SpecOf(*attacker));
  EXPECT_EQ(SpecOf(*victim)->key.session_name, "team-a.victim");
  EXPECT_EQ(SpecOf(*attacker)->key.session_name, "team-b.attacker@team-a.victim");
  EXPECT_EQ(SpecOf(*attacker)->key.source_identity, "team-b.attacker@team-a.victim");
  EXPECT_NE(SpecOf(*victim)->key, SpecOf(*attacker)->key);
  EXPECT_NE(SpecOf(*victim)->key.owner, SpecOf(*attacker)->key.owner);
  ASSERT_TRUE(broker_.AwaitIdle(std::chrono::seconds(5)));
  BrokerSource source(broker_);
  auto a = source.Cached(*victim);
  auto b = source.Cached(*attacker);
  ASSERT_TRUE(a && b);
  EXPECT_NE(a->access_key_id, b->access_key_id);
  // Each STS call carried its own pod's namespace tag.
  int team_a_tags = 0;
  for (const auto& request : sts_.Requests()) {
    for (const auto& tag : request.tags) {
      if (tag.key == "kubernetes-namespace") {
        team_a_tags += tag.value == "team-a" ? 1 : 0;
        EXPECT_EQ(request.role_session_name.starts_with(tag.value + "."), true)
            << request.role_session_name;
      }
    }
  }
  EXPECT_EQ(team_a_tags, 1);
}

TEST_F(PodDirectoryTest, ServiceAccountScopeSharesOneSessionPerAccount) {
  PodDirectory directory(
      pods_, namespaces_, accounts_, policy_, broker_, api_, nullptr, clock_, registry2_,
      {.node = "node-1", .session = {.scope = identity::SessionScope::kServiceAccount}});
  Namespace("team-a", {{"iam.amazonaws.com/allowed-roles", R"(["*"])"}});
  for (int i = 0; i < 5; ++i) {
    Pod({.namespace_name = "team-a",
         .name = "web-" + std::to_string(i),
         .ip = "10.0.1." + std::to_string(i),
         .service_account = "web",
         .annotations = {{kRoleKey, "app"}}});
  }
  Pod({.namespace_name = "team-a",
       .name = "batch",
       .ip = "10.0.1.9",
       .service_account = "batch",
       .annotations = {{kRoleKey, "app"}}});
  ASSERT_TRUE(broker_.AwaitIdle(std::chrono::seconds(5)));
  // (The fixture's own per-pod directory watches the same caches and prefetches per pod.)
  int shared = 0;
  for (const auto& request : sts_.Requests()) {
    shared += request.role_session_name.find(".sa=") != std::string::npos ? 1 : 0;
  }
  EXPECT_EQ(shared, 2);
  EXPECT_EQ(SpecOf(*directory.Find("10.0.1.3"))->key.session_name, "team-a.sa=web");
  EXPECT_EQ(SpecOf(*directory.Find("10.0.1.9"))->key.session_name, "team-a.sa=batch");
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

// The server's directory keeps no Caller for role-less pods (most of a cluster): Pod() decides
// them on demand, a role given later (ServiceAccount annotation) is kept and prefetched, and the
// decision is reported once, not on every update of the pod.
TEST_F(PodDirectoryTest, WithoutRoleLessPodsTheDirectoryDecidesThemOnDemand) {
  PodDirectory server(pods_, namespaces_, accounts_, policy_, broker_, api_, nullptr, clock_,
                      registry2_, {.node = "", .keep_role_less = false});
  Namespace("team-c", {{"iam.amazonaws.com/allowed-roles", R"(["*"])"}});
  Pod({.namespace_name = "team-c", .name = "plain", .ip = "10.0.3.1", .service_account = "sa"},
      k8s::WatchEventType::kAdded);
  Pod({.namespace_name = "team-c",
       .name = "web",
       .ip = "10.0.3.2",
       .annotations = {{kRoleKey, "app"}}},
      k8s::WatchEventType::kAdded);
  EXPECT_THAT(registry2_.Render(), HasSubstr("podiam_agent_pods_tracked 1\n"));
  EXPECT_FALSE(server.Find("10.0.3.1"));  // not kept
  EXPECT_EQ(server.Find("10.0.3.2")->pod_name, "web");

  auto plain = server.Pod("team-c", "plain");
  ASSERT_TRUE(plain);
  ASSERT_TRUE(plain->caller);  // decided now
  EXPECT_EQ(plain->caller->decision.outcome, identity::Outcome::kNoRole);
  EXPECT_EQ(plain->caller->pod_uid, "uid-plain");
  EXPECT_FALSE(server.Pod("team-c", "plain", "uid-of-another-plain"));

  // Updates of a role-less pod say nothing new: one no_role decision reported, not three.
  Pod({.namespace_name = "team-c", .name = "plain", .ip = "10.0.3.1", .service_account = "sa"});
  Pod({.namespace_name = "team-c", .name = "plain", .ip = "10.0.3.1", .service_account = "sa"});
  EXPECT_THAT(registry2_.Render(),
              HasSubstr("podiam_agent_role_decisions_total{outcome=\"no_role\"} 1\n"));

  // Its ServiceAccount gains a role: kept, prefetched, and back to "no role" when it goes.
  k8s::Json sa = {{"apiVersion", "v1"},
                  {"kind", "ServiceAccount"},
                  {"metadata",
                   {{"name", "sa"},
                    {"namespace", "team-c"},
                    {"uid", "sa-uid"},
                    {"resourceVersion", "901"},
                    {"annotations", {{kRoleKey, "reader"}}}}}};
  accounts_.Event(k8s::WatchEventType::kAdded, k8s::Json(sa));
  ASSERT_TRUE(server.Find("10.0.3.1"));
  EXPECT_EQ(server.Pod("team-c", "plain")->caller->decision.role->name, "reader");
  EXPECT_THAT(registry2_.Render(), HasSubstr("podiam_agent_pods_tracked 2\n"));
  sa["metadata"]["annotations"] = k8s::Json::object();
  sa["metadata"]["resourceVersion"] = "902";
  accounts_.Event(k8s::WatchEventType::kModified, std::move(sa));
  EXPECT_FALSE(server.Find("10.0.3.1"));
  EXPECT_EQ(server.Pod("team-c", "plain")->caller->decision.outcome, identity::Outcome::kNoRole);
  EXPECT_THAT(registry2_.Render(), HasSubstr("podiam_agent_pods_tracked 1\n"));
}

}  // namespace
}  // namespace podiam::callers
