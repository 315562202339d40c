#include "podiam/k8s/pod_cache.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "podiam/testing/k8s_objects.hpp"

namespace podiam::k8s {
namespace {

using testing::PodJson;
using testing::TestPod;

class PodCacheTest : public ::testing::Test {
 protected:
  void Add(const TestPod& p) { cache_.Event(WatchEventType::kAdded, PodJson(WithUid(p))); }
  void Modify(const TestPod& p) { cache_.Event(WatchEventType::kModified, PodJson(WithUid(p))); }
  void Delete(const TestPod& p) { cache_.Event(WatchEventType::kDeleted, PodJson(WithUid(p))); }

  // Every write gets a fresh resourceVersion, as from the apiserver.
  TestPod WithUid(TestPod p) {
    if (p.uid.empty()) {
      p.uid = "uid-" + p.namespace_name + "-" + p.name;
    }
    return p;
  }
  Json Versioned(const TestPod& p) {
    Json j = PodJson(WithUid(p));
    j["metadata"]["resourceVersion"] = std::to_string(++rv_);
    return j;
  }
  void Put(WatchEventType type, const TestPod& p) { cache_.Event(type, Versioned(p)); }

  std::string Owner(std::string_view ip) {
    auto pod = cache_.PodByIp(ip);
    return pod ? pod->Key() : "<none>";
  }

  PodCache cache_{{.annotation_keys = {"iam.amazonaws.com/role", "podiam.io/*"}}};
  int rv_ = 0;
};

TEST_F(PodCacheTest, ViewKeepsOnlyWhatPodiamUses) {
  Json j = PodJson({.namespace_name = "team-a",
                    .name = "web-1",
                    .ip = "10.0.0.5",
                    .more_ips = {"fd00:0:0::5"},
                    .service_account = "web",
                    .deleting = true,
                    .created = "2026-01-02T03:04:05Z",
                    .uid = "u-1",
                    .annotations = {{"iam.amazonaws.com/role", "arn:aws:iam::1:role/web"},
                                    {"podiam.io/session-name", "s"},
                                    {"kubectl.kubernetes.io/last-applied-configuration", "{}"}}});
  j["metadata"]["resourceVersion"] = "99";
  auto pod = PodFromJson(j, AnnotationFilter({"iam.amazonaws.com/role", "podiam.io/*"}));
  ASSERT_TRUE(pod) << pod.error().ToString();
  EXPECT_EQ(pod->namespace_name, "team-a");
  EXPECT_EQ(pod->name, "web-1");
  EXPECT_EQ(pod->uid, "u-1");
  EXPECT_EQ(pod->resource_version, "99");
  EXPECT_EQ(pod->creation_timestamp, *ParseTime("2026-01-02T03:04:05Z"));
  EXPECT_EQ(pod->node_name, "node-1");
  EXPECT_EQ(pod->service_account_name, "web");
  EXPECT_EQ(pod->phase, PodPhase::kRunning);
  EXPECT_TRUE(pod->deleting);
  EXPECT_FALSE(pod->host_network);
  EXPECT_EQ(pod->pod_ips, (std::vector<std::string>{"10.0.0.5", "fd00::5"}));
  EXPECT_EQ(pod->annotations.size(), 2U);
  EXPECT_EQ(pod->annotations.count("kubectl.kubernetes.io/last-applied-configuration"), 0U);
  EXPECT_GT(pod->MemoryBytes(), sizeof(PodView));

  Json bad = j;
  bad["metadata"].erase("namespace");
  EXPECT_FALSE(PodFromJson(bad, AnnotationFilter()));
}

TEST_F(PodCacheTest, PodIpFallsBackToPodIpField) {
  Json j = PodJson({.name = "a"});
  j["status"]["podIP"] = "10.1.1.1";
  auto pod = PodFromJson(j, AnnotationFilter());
  ASSERT_TRUE(pod);
  EXPECT_EQ(pod->pod_ips, std::vector<std::string>{"10.1.1.1"});
  j["status"]["podIP"] = "not-an-ip";
  EXPECT_TRUE(PodFromJson(j, AnnotationFilter())->pod_ips.empty());
}

TEST_F(PodCacheTest, IpIndexSkipsHostNetworkAndTerminalPods) {
  Put(WatchEventType::kAdded, {.name = "web", .ip = "10.0.0.1"});
  Put(WatchEventType::kAdded, {.name = "host", .ip = "192.168.1.10", .host_network = true});
  Put(WatchEventType::kAdded, {.name = "done", .ip = "10.0.0.2", .phase = "Succeeded"});
  Put(WatchEventType::kAdded, {.name = "crashed", .ip = "10.0.0.3", .phase = "Failed"});
  Put(WatchEventType::kAdded, {.name = "starting", .ip = "10.0.0.4", .phase = "Pending"});
  EXPECT_EQ(Owner("10.0.0.1"), "default/web");
  EXPECT_EQ(Owner("192.168.1.10"), "<none>");
  EXPECT_EQ(Owner("10.0.0.2"), "<none>");
  EXPECT_EQ(Owner("10.0.0.3"), "<none>");
  EXPECT_EQ(Owner("10.0.0.4"), "default/starting");
  EXPECT_EQ(Owner("garbage"), "<none>");
  EXPECT_EQ(cache_.Size(), 5U);
}

TEST_F(PodCacheTest, DualStackAndCanonicalAddresses) {
  Put(WatchEventType::kAdded, {.name = "ds", .ip = "10.0.0.7", .more_ips = {"FD00:0::7"}});
  EXPECT_EQ(Owner("10.0.0.7"), "default/ds");
  EXPECT_EQ(Owner("fd00::7"), "default/ds");
  EXPECT_EQ(Owner("fd00:0000:0000:0000:0000:0000:0000:0007"), "default/ds");
}

TEST_F(PodCacheTest, IpReuseAfterCompletionAndDeletion) {
  Put(WatchEventType::kAdded, {.name = "old", .ip = "10.0.0.9", .created = "2026-01-01T00:00:00Z"});
  EXPECT_EQ(Owner("10.0.0.9"), "default/old");
  // The old pod finishes; the CNI hands its address to a new pod.
  Put(WatchEventType::kModified,
      {.name = "old", .ip = "10.0.0.9", .phase = "Succeeded", .created = "2026-01-01T00:00:00Z"});
  EXPECT_EQ(Owner("10.0.0.9"), "<none>");
  Put(WatchEventType::kAdded, {.name = "new", .ip = "10.0.0.9", .created = "2026-01-01T01:00:00Z"});
  EXPECT_EQ(Owner("10.0.0.9"), "default/new");
  Put(WatchEventType::kDeleted, {.name = "old", .ip = "10.0.0.9"});
  EXPECT_EQ(Owner("10.0.0.9"), "default/new");
  // A pod whose IP changes (restarted sandbox) releases the old one.
  Put(WatchEventType::kModified, {.name = "new", .ip = "10.0.0.10"});
  EXPECT_EQ(Owner("10.0.0.9"), "<none>");
  EXPECT_EQ(Owner("10.0.0.10"), "default/new");
}

TEST_F(PodCacheTest, TerminatingPodKeepsItsIpUntilSomeoneElseHasIt) {
  Put(WatchEventType::kAdded,
      {.name = "leaving", .ip = "10.0.1.1", .deleting = true, .created = "2026-01-01T05:00:00Z"});
  EXPECT_EQ(Owner("10.0.1.1"), "default/leaving");
  // Even an older, non-terminating claimant wins over a terminating one.
  Put(WatchEventType::kAdded,
      {.name = "arriving", .ip = "10.0.1.1", .created = "2026-01-01T04:00:00Z"});
  EXPECT_EQ(Owner("10.0.1.1"), "default/arriving");
  auto ranked = cache_.PodsByIp("10.0.1.1");
  ASSERT_EQ(ranked.size(), 2U);
  EXPECT_EQ(ranked[1]->name, "leaving");
}

TEST_F(PodCacheTest, DuplicateIpsResolveDeterministically) {
  Put(WatchEventType::kAdded, {.name = "b", .ip = "10.0.2.1", .created = "2026-01-01T00:00:00Z"});
  Put(WatchEventType::kAdded, {.name = "c", .ip = "10.0.2.1", .created = "2026-01-01T00:00:10Z"});
  EXPECT_EQ(Owner("10.0.2.1"), "default/c");  // newest
  Put(WatchEventType::kAdded, {.name = "a", .ip = "10.0.2.1", .created = "2026-01-01T00:00:10Z"});
  EXPECT_EQ(Owner("10.0.2.1"), "default/a");  // same age: smallest name

  PodCache strict({.duplicate_ips = DuplicateIpPolicy::kRefuse});
  strict.Event(WatchEventType::kAdded, Versioned({.name = "x", .ip = "10.0.2.2"}));
  EXPECT_NE(strict.PodByIp("10.0.2.2"), nullptr);
  strict.Event(WatchEventType::kAdded, Versioned({.name = "y", .ip = "10.0.2.2"}));
  EXPECT_EQ(strict.PodByIp("10.0.2.2"), nullptr);
  EXPECT_EQ(strict.PodsByIp("10.0.2.2").size(), 2U);
  // A terminating claimant does not make it ambiguous.
  strict.Event(WatchEventType::kModified,
               Versioned({.name = "y", .ip = "10.0.2.2", .deleting = true}));
  ASSERT_NE(strict.PodByIp("10.0.2.2"), nullptr);
  EXPECT_EQ(strict.PodByIp("10.0.2.2")->name, "x");
}

TEST_F(PodCacheTest, ServiceAccountAndNamespaceIndexes) {
  Put(WatchEventType::kAdded, {.namespace_name = "a", .name = "p1", .service_account = "web"});
  Put(WatchEventType::kAdded, {.namespace_name = "a", .name = "p2", .service_account = "web"});
  Put(WatchEventType::kAdded, {.namespace_name = "a", .name = "p3", .service_account = "db"});
  Put(WatchEventType::kAdded, {.namespace_name = "b", .name = "p1", .service_account = "web"});
  EXPECT_EQ(cache_.PodsByServiceAccount("a", "web").size(), 2U);
  EXPECT_EQ(cache_.PodsByServiceAccount("b", "web").size(), 1U);
  EXPECT_EQ(cache_.PodsInNamespace("a").size(), 3U);
  Put(WatchEventType::kModified, {.namespace_name = "a", .name = "p2", .service_account = "db"});
  EXPECT_EQ(cache_.PodsByServiceAccount("a", "web").size(), 1U);
  EXPECT_EQ(cache_.PodsByServiceAccount("a", "db").size(), 2U);
  Put(WatchEventType::kDeleted, {.namespace_name = "a", .name = "p1"});
  EXPECT_TRUE(cache_.PodsByServiceAccount("a", "web").empty());
  EXPECT_EQ(cache_.PodsInNamespace("a").size(), 2U);
  EXPECT_TRUE(cache_.PodsInNamespace("nope").empty());
  EXPECT_NE(cache_.Pod("b", "p1"), nullptr);
}

TEST_F(PodCacheTest, HandlersSeeOldAndNewAndNoDuplicates) {
  std::vector<std::string> log;
  cache_.AddHandlers({.on_add = [&](const auto& p) { log.push_back("add " + p->name); },
                      .on_update =
                          [&](const auto& o, const auto& n) {
                            log.push_back("update " + o->name + " " + o->resource_version + "->" +
                                          n->resource_version);
                          },
                      .on_delete = [&](const auto& p) { log.push_back("delete " + p->name); }});
  Json a = Versioned({.name = "a", .ip = "10.0.0.1"});
  cache_.Event(WatchEventType::kAdded, Json(a));
  cache_.Event(WatchEventType::kAdded, Json(a));  // same version again: nothing
  cache_.Event(WatchEventType::kModified, Versioned({.name = "a", .ip = "10.0.0.1"}));
  // Re-created under the same name: another pod, so delete + add rather than update.
  cache_.Event(WatchEventType::kModified, Versioned({.name = "a", .uid = "other"}));
  // A delete for an incarnation we do not have is ignored.
  cache_.Event(WatchEventType::kDeleted, Versioned({.name = "a", .uid = "stale"}));
  cache_.Event(WatchEventType::kDeleted, Versioned({.name = "a", .uid = "other"}));
  EXPECT_EQ(log,
            (std::vector<std::string>{"add a", "update a 1->2", "delete a", "add a", "delete a"}));
}

TEST_F(PodCacheTest, RelistEmitsOnlyTheDifference) {
  for (const char* n : {"keep", "change", "drop", "recreate"}) {
    cache_.Event(WatchEventType::kAdded, Versioned({.name = n, .ip = "10.0.0.1"}));
  }
  auto keep_before = cache_.Pod("default", "keep");
  std::vector<std::string> log;
  cache_.AddHandlers(
      {.on_add = [&](const auto& p) { log.push_back("add " + p->name); },
       .on_update = [&](const auto&, const auto& n) { log.push_back("update " + n->name); },
       .on_delete = [&](const auto& p) { log.push_back("delete " + p->name); }});
  cache_.BeginList();
  Json keep = PodJson(WithUid({.name = "keep", .ip = "10.0.0.1"}));
  keep["metadata"]["resourceVersion"] = "1";
  cache_.ListItem(std::move(keep));
  cache_.ListItem(Versioned({.name = "change", .ip = "10.0.0.1"}));
  cache_.ListItem(Versioned({.name = "recreate", .uid = "new-uid"}));
  cache_.ListItem(Versioned({.name = "new"}));
  Json broken = {{"metadata", {{"name", "no-namespace"}}}};
  cache_.ListItem(std::move(broken));
  EXPECT_EQ(cache_.EndList(), 5U);
  EXPECT_EQ(log, (std::vector<std::string>{"delete recreate", "delete drop", "update change",
                                           "add recreate", "add new"}));
  EXPECT_EQ(cache_.Size(), 4U);
  EXPECT_EQ(cache_.skipped(), 1U);
  EXPECT_EQ(cache_.Pod("default", "keep"), keep_before);  // unchanged objects are kept as is
  EXPECT_EQ(cache_.Pod("default", "drop"), nullptr);
}

TEST_F(PodCacheTest, MemoryAccountingFollowsTheContents) {
  std::size_t empty = cache_.MemoryBytes();
  for (int i = 0; i < 100; ++i) {
    cache_.Event(WatchEventType::kAdded, testing::RealisticPodJson(i));
  }
  std::size_t full = cache_.MemoryBytes();
  EXPECT_GT(full, empty + 100 * sizeof(PodView));
  EXPECT_LT(full, empty + 100 * 2048);  // far below the ~4 KB of JSON per pod
  for (int i = 0; i < 100; ++i) {
    cache_.Event(WatchEventType::kDeleted, testing::RealisticPodJson(i));
  }
  EXPECT_EQ(cache_.Size(), 0U);
  EXPECT_LT(cache_.MemoryBytes(), empty + 100 * 64);  // only bucket arrays remain
}

// Pod churn at a constant size (a node's pods replaced over and over) must leave the estimate
// where it was: it used to grow by the spare capacity of each key built with operator+ (the
// soak in tests/e2e/test_agent_soak.py saw podiam_k8s_informer_store_bytes climb ~18 bytes per
// pod ever created while the cache held 6 pods).
TEST_F(PodCacheTest, MemoryAccountingDoesNotDriftUnderChurn) {
  auto cycle = [&](int i) {
    // Keys longer than the SSO buffer, as real "namespace/pod-name" keys are.
    TestPod p{.namespace_name = "ns-b82b4a0a",
              .name = "pod-" + std::to_string(10000000 + i),
              .ip = "10.0.0.9"};
    Put(WatchEventType::kAdded, p);
    Put(WatchEventType::kModified, p);
    Put(WatchEventType::kDeleted, p);
  };
  cycle(0);
  std::size_t baseline = cache_.MemoryBytes();
  for (int i = 1; i <= 1000; ++i) {
    cycle(i);
  }
  EXPECT_EQ(cache_.Size(), 0U);
  EXPECT_EQ(cache_.MemoryBytes(), baseline);
}

TEST_F(PodCacheTest, ReadersRunConcurrentlyWithTheWriter) {
  std::atomic<bool> done{false};
  std::atomic<int> found{0};
  std::thread reader([&] {
    while (!done) {
      if (cache_.PodByIp("10.0.0.1")) {
        ++found;
      }
      (void)cache_.PodsInNamespace("default");
      (void)cache_.MemoryBytes();
    }
  });
  for (int i = 0; i < 2000; ++i) {
    Put(i % 2 == 0 ? WatchEventType::kAdded : WatchEventType::kDeleted,
        {.name = "flip", .ip = "10.0.0.1"});
  }
  done = true;
  reader.join();
  EXPECT_EQ(cache_.Size(), 0U);
}

TEST(NamespaceAndServiceAccountCacheTest, KeepConfiguredAnnotations) {
  NamespaceCache namespaces({.annotation_keys = {"iam.amazonaws.com/permitted"}});
  namespaces.Event(WatchEventType::kAdded,
                   {{"metadata",
                     {{"name", "team-a"},
                      {"uid", "n1"},
                      {"resourceVersion", "3"},
                      {"annotations", {{"iam.amazonaws.com/permitted", ".*"}, {"x", "y"}}}}}});
  auto ns = namespaces.Namespace("team-a");
  ASSERT_NE(ns, nullptr);
  EXPECT_EQ(ns->annotations, (Annotations{{"iam.amazonaws.com/permitted", ".*"}}));

  ServiceAccountCache accounts({.annotation_keys = {"iam.amazonaws.com/role"}});
  accounts.Event(WatchEventType::kAdded,
                 {{"metadata",
                   {{"name", "web"},
                    {"namespace", "team-a"},
                    {"uid", "s1"},
                    {"annotations", {{"iam.amazonaws.com/role", "web-role"}}}}}});
  auto sa = accounts.ServiceAccount("team-a", "web");
  ASSERT_NE(sa, nullptr);
  EXPECT_EQ(sa->annotations.at("iam.amazonaws.com/role"), "web-role");
  EXPECT_EQ(accounts.ServiceAccount("team-b", "web"), nullptr);
  EXPECT_GT(accounts.MemoryBytes(), sizeof(ServiceAccountView));
}

}  // namespace
}  // namespace podiam::k8s
