#include "podiam/webhook/kube_directory.hpp"

#include <gtest/gtest.h>

#include <fstream>

#include "podiam/testing/fake_clock.hpp"
#include "podiam/testing/fake_kube_api.hpp"

namespace podiam::webhook {
namespace {

using Json = k8s::Json;

Json Account(const std::string& ns, const std::string& name, const std::string& role) {
  return Json{{"apiVersion", "v1"},
              {"kind", "ServiceAccount"},
              {"metadata",
               {{"namespace", ns},
                {"name", name},
                {"uid", "uid-" + name},
                {"annotations", {{"eks.amazonaws.com/role-arn", role}, {"other", "x"}}}}}};
}

TEST(KubeServiceAccounts, CacheFirstThenDirectRead) {
  testing::FakeKubeApi api;
  testing::FakeClock clock;
  k8s::ServiceAccountCache cache({.annotation_keys = {"eks.amazonaws.com/*"}});
  KubeServiceAccounts accounts(cache, api, k8s::AnnotationFilter({"eks.amazonaws.com/*"}), clock);
  EXPECT_FALSE(accounts.Cached("a", "web"));
  api.Put(k8s::resources::ServiceAccounts(), Account("a", "web", "arn:r"));
  auto fetched = accounts.Fetch("a", "web", clock.SteadyNow() + std::chrono::seconds(1));
  ASSERT_TRUE(fetched);
  ASSERT_TRUE(*fetched);
  EXPECT_EQ((*fetched)->at("eks.amazonaws.com/role-arn"), "arn:r");
  EXPECT_EQ((*fetched)->count("other"), 0U);
  auto missing = accounts.Fetch("a", "nobody", clock.SteadyNow() + std::chrono::seconds(1));
  ASSERT_TRUE(missing);
  EXPECT_EQ(*missing, nullptr);
  api.FailNext("get", Error(ErrorCode::kUnavailable, "down"));
  EXPECT_FALSE(accounts.Fetch("a", "web", clock.SteadyNow() + std::chrono::seconds(1)));
  EXPECT_FALSE(accounts.Fetch("a", "web", clock.SteadyNow()));  // no time left
  cache.Event(k8s::WatchEventType::kAdded, Account("a", "web", "arn:c"));
  auto cached = accounts.Cached("a", "web");
  ASSERT_TRUE(cached);
  EXPECT_EQ((*cached)->at("eks.amazonaws.com/role-arn"), "arn:c");
}

Json Association(const std::string& ns, const std::string& name, const std::string& sa) {
  return Json{{"metadata",
               {{"namespace", ns}, {"name", name}, {"uid", "u-" + name}, {"resourceVersion", "1"}}},
              {"spec", {{"serviceAccount", sa}, {"roleArn", "arn:aws:iam::1:role/x"}}}};
}

TEST(AssociationCache, IndexesByServiceAccount) {
  AssociationCache cache;
  cache.Event(k8s::WatchEventType::kAdded, Association("a", "one", "web"));
  cache.Event(k8s::WatchEventType::kAdded, Association("a", "two", "web"));
  EXPECT_TRUE(cache.Names("a", "web"));
  EXPECT_FALSE(cache.Names("b", "web"));
  cache.Event(k8s::WatchEventType::kDeleted, Association("a", "one", "web"));
  EXPECT_TRUE(cache.Names("a", "web"));
  auto moved = Association("a", "two", "api");
  moved["metadata"]["resourceVersion"] = "2";
  cache.Event(k8s::WatchEventType::kModified, std::move(moved));
  EXPECT_FALSE(cache.Names("a", "web"));
  EXPECT_TRUE(cache.Names("a", "api"));
  cache.Event(k8s::WatchEventType::kAdded, Json{{"metadata", {{"namespace", "a"}, {"name", "x"}}}});
  EXPECT_EQ(cache.skipped(), 1U);
  AnyAssociation any(&cache, nullptr);
  EXPECT_TRUE(any.Selects("a", "api"));
}

TEST(ParseIdentities, ReferenceFormat) {
  auto ids = ParseIdentities(
      R"({"identities":[{"namespace":"a","serviceAccount":"web"},{"namespace":"b","serviceAccount":"x"}]})");
  ASSERT_TRUE(ids);
  EXPECT_EQ(ids->size(), 2U);
  EXPECT_TRUE(ids->count("a/web"));
  EXPECT_TRUE(ParseIdentities("")->empty());
  EXPECT_TRUE(ParseIdentities("{}")->empty());
  EXPECT_FALSE(ParseIdentities("{"));
  EXPECT_FALSE(ParseIdentities(R"({"identities":{}})"));
  EXPECT_FALSE(ParseIdentities(R"({"identities":[1]})"));
}

TEST(IdentitiesFile, ReloadsOnChangeAndKeepsOldOnError) {
  std::string path = ::testing::TempDir() + "/identities.json";
  std::ofstream(path) << R"({"identities":[{"namespace":"a","serviceAccount":"web"}]})";
  IdentitiesFile file(path);
  file.Reload();
  EXPECT_TRUE(file.Selects("a", "web"));
  std::ofstream(path) << R"({"identities":[{"namespace":"a","serviceAccount":"api"}, {}]})";
  file.Reload();
  EXPECT_FALSE(file.Selects("a", "web"));
  EXPECT_TRUE(file.Selects("a", "api"));
  std::ofstream(path) << "not json";
  file.Reload();
  EXPECT_TRUE(file.Selects("a", "api"));
  std::remove(path.c_str());
  file.Reload();
  EXPECT_TRUE(file.Selects("a", "api"));
}

}  // namespace
}  // namespace podiam::webhook
