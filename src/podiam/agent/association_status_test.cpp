#include "podiam/agent/association_status.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "podiam/testing/fake_clock.hpp"
#include "podiam/testing/fake_kube_api.hpp"

namespace podiam::agent {
namespace {

using ::testing::HasSubstr;

class AssociationStatusTest : public ::testing::Test {
 protected:
  AssociationStatusTest()
      : policy_({.base = *aws::ParseBaseRoleArn("arn:aws:iam::123456789012:role/")}),
        writer_(api_, associations_, namespaces_, policy_, clock_) {}

  void Namespace(const std::string& allowed) {
    namespaces_.Event(k8s::WatchEventType::kModified,
                      {{"metadata",
                        {{"name", "team-a"},
                         {"uid", "ns-team-a"},
                         {"resourceVersion", std::to_string(++rv_)},
                         {"annotations", {{"iam.amazonaws.com/allowed-roles", allowed}}}}}});
  }
  // Creates (or replaces) the object in the fake apiserver and feeds what it stored to the cache,
  // as the informer would.
  void Association(const k8s::Json& spec) {
    k8s::Json object = {{"apiVersion", "podiam.io/v1alpha1"},
                        {"kind", "PodIdentityAssociation"},
                        {"metadata", {{"name", "web"}, {"namespace", "team-a"}, {"generation", 1}}},
                        {"spec", spec}};
    auto created = api_.Create(PodIdentityAssociations(), "team-a", object);
    ASSERT_TRUE(created) << created.error().ToString();
    associations_.Event(k8s::WatchEventType::kAdded, k8s::Json(*created));
  }
  k8s::Json Stored() {
    auto got = api_.Get(PodIdentityAssociations(), "team-a", "web");
    EXPECT_TRUE(got);
    return got ? *got : k8s::Json();
  }
  k8s::Json Condition(const std::string& type) {
    const k8s::Json stored = Stored();
    for (const auto& c : stored["status"]["conditions"]) {
      if (c["type"] == type) {
        return c;
      }
    }
    return {};
  }

  testing::FakeClock clock_;
  testing::FakeKubeApi api_;
  identity::RolePolicy policy_;
  AssociationCache associations_;
  k8s::NamespaceCache namespaces_{{.annotation_keys = {"iam.amazonaws.com/*"}}};
  AssociationStatusWriter writer_;
  int rv_ = 0;
};

TEST_F(AssociationStatusTest, AcceptedAssociationGetsReadyAndAcceptedOnceOnly) {
  Namespace(R"(["app"])");
  Association({{"serviceAccount", "web"}, {"roleArn", "arn:aws:iam::123456789012:role/app"}});
  EXPECT_EQ(writer_.Flush(), 1);
  for (const char* type : {"Accepted", "Ready"}) {
    auto c = Condition(type);
    EXPECT_EQ(c["status"], "True") << type;
    EXPECT_EQ(c["reason"], "Accepted");
    EXPECT_EQ(c["observedGeneration"], 1);
    EXPECT_FALSE(c["lastTransitionTime"].get<std::string>().empty());
  }
  EXPECT_EQ(Stored()["status"]["observedGeneration"], 1);

  // The written object comes back through the watch: nothing differs, nothing is written.
  associations_.Event(k8s::WatchEventType::kModified, k8s::Json(Stored()));
  EXPECT_EQ(writer_.Flush(), 0);
}

TEST_F(AssociationStatusTest, InvalidAndDeniedAssociationsSaySo) {
  Namespace(R"(["app"])");
  Association({{"serviceAccount", "web"}, {"roleArn", "arn:aws:iam::123456789012:role/bad name!"}});
  writer_.Flush();
  EXPECT_EQ(Condition("Ready")["status"], "False");
  EXPECT_EQ(Condition("Accepted")["reason"], "InvalidRoleArn");

  ASSERT_TRUE(api_.Delete(PodIdentityAssociations(), "team-a", "web"));
  Association({{"serviceAccount", "web"},
               {"roleArn", "arn:aws:iam::123456789012:role/app"},
               {"targetRoleArn", "arn:aws:iam::210987654321:role/admin"}});
  writer_.Flush();
  EXPECT_EQ(Condition("Accepted")["status"], "False");
  EXPECT_EQ(Condition("Accepted")["reason"], "DeniedByNamespacePolicy");

  // The namespace starts allowing it: a namespace change re-evaluates its associations.
  associations_.Event(k8s::WatchEventType::kModified, k8s::Json(Stored()));
  Namespace(R"(["app","arn:aws:iam::210987654321:role/admin"])");
  EXPECT_EQ(writer_.Flush(), 1);
  EXPECT_EQ(Condition("Ready")["status"], "True");
  EXPECT_THAT(Condition("Ready")["message"].get<std::string>(), HasSubstr("role/admin"));
}

TEST_F(AssociationStatusTest, PatchKeepsTransitionTimeAndOtherConditions) {
  AssociationView v{.namespace_name = "team-a",
                    .name = "web",
                    .resource_version = "7",
                    .service_account = "web",
                    .role_arn = "arn:aws:iam::123456789012:role/app",
                    .generation = 2,
                    .observed_generation = 1};
  v.conditions = {
      {.type = "Ready", .status = "True", .reason = "Accepted", .last_transition_time = "t0"},
      {.type = "Custom", .status = "True", .reason = "Mine"}};
  AssociationCheck check{.reason = "Accepted", .message = "ok"};
  auto patch = AssociationStatusPatch(v, check, clock_.Now());
  ASSERT_TRUE(patch);
  EXPECT_EQ((*patch)["metadata"]["resourceVersion"], "7");  // the precondition
  EXPECT_EQ((*patch)["status"]["observedGeneration"], 2);
  const auto& conditions = (*patch)["status"]["conditions"];
  ASSERT_EQ(conditions.size(), 3U);
  EXPECT_EQ(conditions[0]["type"], "Custom");
  EXPECT_EQ(conditions[2]["type"], "Ready");
  EXPECT_EQ(conditions[2]["lastTransitionTime"], "t0");  // the status did not change
}

TEST_F(AssociationStatusTest, ConflictIsLeftToTheWatchOtherErrorsAreRetried) {
  Namespace(R"(["app"])");
  Association({{"serviceAccount", "web"}, {"roleArn", "arn:aws:iam::123456789012:role/app"}});
  api_.FailNext("patch", Error(ErrorCode::kConflict, "the object has been modified"));
  EXPECT_EQ(writer_.Flush(), 1);
  EXPECT_EQ(writer_.Flush(), 0);  // not retried: another agent wrote, the watch will say so

  // The object changed meanwhile (here: a label); its new version arrives through the watch.
  ASSERT_TRUE(api_.MergePatch(PodIdentityAssociations(), "team-a", "web",
                              {{"metadata", {{"labels", {{"x", "y"}}}}}}));
  associations_.Event(k8s::WatchEventType::kModified, k8s::Json(Stored()));
  api_.FailNext("patch", Error(ErrorCode::kUnavailable, "apiserver down"));
  EXPECT_EQ(writer_.Flush(), 1);
  EXPECT_EQ(writer_.Flush(), 0);  // the retry is not due yet
  clock_.Advance(std::chrono::seconds(11));
  EXPECT_EQ(writer_.Flush(), 1);
  EXPECT_EQ(Condition("Ready")["status"], "True");
}

}  // namespace
}  // namespace podiam::agent
