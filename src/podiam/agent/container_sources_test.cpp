#include "podiam/agent/container_sources.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "podiam/testing/fake_clock.hpp"
#include "podiam/testing/fake_random.hpp"
#include "podiam/testing/fake_sts_client.hpp"
#include "podiam/testing/k8s_objects.hpp"

namespace podiam::agent {
namespace {

using identity::Outcome;
using ::testing::HasSubstr;

class ContainerSourcesTest : public ::testing::Test {
 protected:
  ContainerSourcesTest()
      : sts_(clock_),
        broker_(sts_, clock_, random_, registry_, {.max_concurrent_sts = 2}),
        policy_({.base = *aws::ParseBaseRoleArn("arn:aws:iam::123456789012:role/")}),
        roles_(associations_, pods_, namespaces_, accounts_, policy_, broker_,
               {.cluster_name = "c1",
                .cluster_arn = "arn:aws:eks:us-east-1:123456789012:cluster/c1",
                .on_pod_gone = [this](const std::string& uid) { gone_.push_back(uid); }}) {
    Namespace("team-a", {{"iam.amazonaws.com/allowed-roles", R"(["app","arn:*:role/other"])"}});
  }
  void Namespace(const std::string& name, std::map<std::string, std::string> annotations) {
    namespaces_.Event(k8s::WatchEventType::kModified, {{"metadata",
                                                        {{"name", name},
                                                         {"uid", "ns-" + name},
                                                         {"resourceVersion", std::to_string(++rv_)},
                                                         {"annotations", annotations}}}});
  }
  void Account(const std::string& name, std::map<std::string, std::string> annotations) {
    accounts_.Event(k8s::WatchEventType::kModified, {{"metadata",
                                                      {{"name", name},
                                                       {"namespace", "team-a"},
                                                       {"uid", "sa-" + name},
                                                       {"resourceVersion", std::to_string(++rv_)},
                                                       {"annotations", annotations}}}});
  }
  void Association(const std::string& name, k8s::Json spec,
                   k8s::WatchEventType type = k8s::WatchEventType::kModified) {
    associations_.Event(type, {{"metadata",
                                {{"name", name},
                                 {"namespace", "team-a"},
                                 {"uid", "a-" + name},
                                 {"resourceVersion", std::to_string(++rv_)}}},
                               {"spec", spec}});
  }
  void Pod(const std::string& name, const std::string& sa,
           k8s::WatchEventType type = k8s::WatchEventType::kModified) {
    auto json = testing::PodJson({.namespace_name = "team-a",
                                  .name = name,
                                  .ip = "10.0.0.7",
                                  .service_account = sa,
                                  .uid = "uid-" + name});
    json["metadata"]["resourceVersion"] = std::to_string(++rv_);
    pods_.Event(type, std::move(json));
  }
  containercreds::PodInfo Info(const std::string& name, const std::string& sa) {
    return {.namespace_name = "team-a",
            .name = name,
            .uid = "uid-" + name,
            .node_name = "node-1",
            .service_account = sa,
            .ips = {"10.0.0.7"}};
  }

  testing::FakeClock clock_;
  testing::FakeRandom random_;
  metrics::Registry registry_;
  testing::FakeStsClient sts_;
  creds::CredentialBroker broker_;
  identity::RolePolicy policy_;
  AssociationCache associations_;
  k8s::PodCache pods_{{.annotation_keys = {"iam.amazonaws.com/*"}}};
  k8s::NamespaceCache namespaces_{{.annotation_keys = {"iam.amazonaws.com/*"}}};
  k8s::ServiceAccountCache accounts_{{.annotation_keys = {"iam.amazonaws.com/*"}}};
  std::vector<std::string> gone_;
  AssociationRoles roles_;
  int rv_ = 0;
};

TEST_F(ContainerSourcesTest, AssociationFromJsonNeedsServiceAccountAndRole) {
  auto ok = AssociationFromJson({{"metadata", {{"name", "a"}, {"namespace", "n"}}},
                                 {"spec",
                                  {{"serviceAccount", "web"},
                                   {"roleArn", "arn:aws:iam::123456789012:role/app"},
                                   {"disableSessionTags", true}}}});
  ASSERT_TRUE(ok);
  EXPECT_TRUE(ok->disable_session_tags);
  EXPECT_FALSE(AssociationFromJson(
      {{"metadata", {{"name", "a"}, {"namespace", "n"}}}, {"spec", {{"serviceAccount", "web"}}}}));
  EXPECT_FALSE(AssociationFromJson({{"metadata", {{"name", "a"}}}, {"spec", k8s::Json::object()}}));
}

TEST_F(ContainerSourcesTest, AssociationGivesItsRoleWithEksSessionTags) {
  Association("web", {{"serviceAccount", "web"},
                      {"roleArn", "arn:aws:iam::123456789012:role/app"},
                      {"externalId", "ext-1"},
                      {"policy", R"({"Version":"2012-10-17"})"}});
  auto choice = roles_.Decide(Info("web-1", "web"));
  ASSERT_EQ(choice.outcome, Outcome::kAllowed) << choice.reason;
  EXPECT_EQ(choice.source, "association");
  EXPECT_EQ(choice.account, "123456789012");
  const auto& key = choice.spec->key;
  EXPECT_EQ(key.role_arn, "arn:aws:iam::123456789012:role/app");
  EXPECT_EQ(key.external_id, "ext-1");
  EXPECT_EQ(key.session_policy, R"({"Version":"2012-10-17"})");
  EXPECT_EQ(key.owner, "pod/uid-web-1");
  std::vector<std::string> tags;
  for (const auto& t : key.tags) {
    tags.push_back(t.key + "=" + t.value);
  }
  EXPECT_THAT(
      tags, ::testing::ElementsAre("eks-cluster-arn=arn:aws:eks:us-east-1:123456789012:cluster/c1",
                                   "eks-cluster-name=c1", "kubernetes-namespace=team-a",
                                   "kubernetes-service-account=web", "kubernetes-pod-name=web-1",
                                   "kubernetes-pod-uid=uid-web-1"));
}

TEST_F(ContainerSourcesTest, DisableSessionTagsAndOtherServiceAccounts) {
  Association("web", {{"serviceAccount", "web"},
                      {"roleArn", "arn:aws:iam::123456789012:role/app"},
                      {"disableSessionTags", true}});
  auto choice = roles_.Decide(Info("web-1", "web"));
  ASSERT_EQ(choice.outcome, Outcome::kAllowed);
  EXPECT_TRUE(choice.spec->key.tags.empty());
  EXPECT_EQ(roles_.Decide(Info("db-1", "db")).outcome, Outcome::kNoRole);
}

TEST_F(ContainerSourcesTest, NamespacePolicyStillApplies) {
  Association("web",
              {{"serviceAccount", "web"}, {"roleArn", "arn:aws:iam::123456789012:role/admin"}});
  auto choice = roles_.Decide(Info("web-1", "web"));
  EXPECT_EQ(choice.outcome, Outcome::kDenied);
}

TEST_F(ContainerSourcesTest, TargetRoleArnChainsThroughTheAssociationsRole) {
  Namespace("team-a",
            {{"iam.amazonaws.com/allowed-roles", R"(["app","arn:aws:iam::210987654321:role/x"])"}});
  Association("web", {{"serviceAccount", "web"},
                      {"roleArn", "arn:aws:iam::123456789012:role/app"},
                      {"targetRoleArn", "arn:aws:iam::210987654321:role/x"},
                      {"externalId", "ext-1"}});
  auto choice = roles_.Decide(Info("web-1", "web"));
  ASSERT_EQ(choice.outcome, Outcome::kAllowed) << choice.reason;
  EXPECT_EQ(choice.account, "210987654321");  // the credentials are the target's
  const auto& key = choice.spec->key;
  EXPECT_EQ(key.role_arn, "arn:aws:iam::123456789012:role/app");
  EXPECT_EQ(key.target_role_arn, "arn:aws:iam::210987654321:role/x");
  EXPECT_EQ(key.external_id, "ext-1");
  EXPECT_EQ(key.tags.size(), 6U);
  // The same pod without the target gets a different key: entries never mix.
  Association("web",
              {{"serviceAccount", "web"}, {"roleArn", "arn:aws:iam::123456789012:role/app"}});
  EXPECT_NE(roles_.Decide(Info("web-1", "web")).spec->key, key);
}

TEST_F(ContainerSourcesTest, TargetRoleArnMustBeValidAndAllowedByTheNamespace) {
  Association("web", {{"serviceAccount", "web"},
                      {"roleArn", "arn:aws:iam::123456789012:role/app"},
                      {"targetRoleArn", "not-an-arn"}});
  auto invalid = roles_.Decide(Info("web-1", "web"));
  EXPECT_EQ(invalid.outcome, Outcome::kInvalid);
  EXPECT_THAT(invalid.reason, HasSubstr("targetRoleArn"));
  // "app" is allowed in team-a, the target is not: the chain is denied.
  Association("web", {{"serviceAccount", "web"},
                      {"roleArn", "arn:aws:iam::123456789012:role/app"},
                      {"targetRoleArn", "arn:aws:iam::210987654321:role/x"}});
  EXPECT_EQ(roles_.Decide(Info("web-1", "web")).outcome, Outcome::kDenied);
}

TEST_F(ContainerSourcesTest, ServiceAccountAnnotationIsTheFallback) {
  Account("legacy", {{"iam.amazonaws.com/role", "other"}});
  auto choice = roles_.Decide(Info("l-1", "legacy"));
  ASSERT_EQ(choice.outcome, Outcome::kAllowed) << choice.reason;
  EXPECT_EQ(choice.source, "annotation");
  EXPECT_EQ(choice.spec->key.role_arn, "arn:aws:iam::123456789012:role/other");
  Association("legacy",
              {{"serviceAccount", "legacy"}, {"roleArn", "arn:aws:iam::123456789012:role/app"}});
  EXPECT_EQ(roles_.Decide(Info("l-1", "legacy")).spec->key.role_arn,
            "arn:aws:iam::123456789012:role/app");
}

TEST_F(ContainerSourcesTest, UnknownNamespaceIsPending) {
  auto info = Info("x", "web");
  info.namespace_name = "nowhere";
  EXPECT_EQ(roles_.Decide(info).outcome, Outcome::kPending);
}

TEST_F(ContainerSourcesTest, ResolveFollowsAssociationChanges) {
  auto info = Info("web-1", "web");
  EXPECT_EQ(roles_.Resolve(info)->outcome, Outcome::kNoRole);
  Association("web",
              {{"serviceAccount", "web"}, {"roleArn", "arn:aws:iam::123456789012:role/app"}});
  EXPECT_EQ(roles_.Resolve(info)->spec->key.role_arn, "arn:aws:iam::123456789012:role/app");
  Association("web",
              {{"serviceAccount", "web"}, {"roleArn", "arn:aws:iam::123456789012:role/other"}});
  EXPECT_EQ(roles_.Resolve(info)->spec->key.role_arn, "arn:aws:iam::123456789012:role/other");
  Association("web",
              {{"serviceAccount", "web"}, {"roleArn", "arn:aws:iam::123456789012:role/other"}},
              k8s::WatchEventType::kDeleted);
  EXPECT_EQ(roles_.Resolve(info)->outcome, Outcome::kNoRole);
}

TEST_F(ContainerSourcesTest, PrefetchesAssociatedPodsAndReportsDeletions) {
  Association("web",
              {{"serviceAccount", "web"}, {"roleArn", "arn:aws:iam::123456789012:role/app"}});
  Pod("web-1", "web");
  broker_.Tick();
  ASSERT_TRUE(sts_.AwaitCalls(1));
  Pod("web-1", "web", k8s::WatchEventType::kDeleted);
  EXPECT_THAT(gone_, ::testing::ElementsAre("uid-web-1"));
}

}  // namespace
}  // namespace podiam::agent

namespace podiam::agent {
namespace {

TEST(PodCacheResolverTest, FindsThePodsCurrentVersionAndReusesItsInfo) {
  k8s::PodCache pods;
  PodCacheResolver resolver(pods, nullptr);
  EXPECT_TRUE(resolver.Ready());
  EXPECT_EQ(resolver.Find("team-a", "web-1"), nullptr);
  auto json = testing::PodJson(
      {.namespace_name = "team-a", .name = "web-1", .ip = "10.0.0.7", .uid = "uid-1"});
  json["metadata"]["resourceVersion"] = "1";
  pods.Event(k8s::WatchEventType::kAdded, k8s::Json(json));
  auto first = resolver.Find("team-a", "web-1");
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(first->uid, "uid-1");
  EXPECT_EQ(first->ips, std::vector<std::string>{"10.0.0.7"});
  EXPECT_EQ(resolver.Find("team-a", "web-1"), first);  // the same version: made once
  // A new version (here: finished) is seen at once.
  json["metadata"]["resourceVersion"] = "2";
  json["status"]["phase"] = "Succeeded";
  pods.Event(k8s::WatchEventType::kModified, k8s::Json(json));
  auto second = resolver.Find("team-a", "web-1");
  ASSERT_NE(second, nullptr);
  EXPECT_TRUE(second->finished);
  EXPECT_FALSE(first->finished);
  pods.Event(k8s::WatchEventType::kDeleted, k8s::Json(json));
  EXPECT_EQ(resolver.Find("team-a", "web-1"), nullptr);
}

}  // namespace
}  // namespace podiam::agent
