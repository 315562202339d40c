#include "podiam/explain/pod.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "podiam/base/random.hpp"
#include "podiam/identity/pod_request.hpp"

namespace podiam::explain {
namespace {

using ::testing::HasSubstr;

constexpr const char* kBase = "arn:aws:iam::123456789012:role/";

k8s::Json Pod(k8s::Json annotations = k8s::Json::object(), bool host_network = false,
              const char* ip = "10.0.0.7", const char* sa = "app") {
  k8s::Json pod = {
      {"metadata",
       {{"name", "web-1"}, {"namespace", "team-a"}, {"uid", "u-1"}, {"annotations", annotations}}},
      {"spec",
       {{"serviceAccountName", sa},
        {"hostNetwork", host_network},
        {"containers", {{{"name", "app"}, {"image", "x"}}}}}},
      {"status", {{"phase", "Running"}}}};
  if (ip != nullptr) {
    pod["status"]["podIP"] = ip;
    pod["status"]["podIPs"] = {{{"ip", ip}}};
  }
  return pod;
}

k8s::Json Namespace(const char* allowed) {
  return {{"metadata",
           {{"name", "team-a"}, {"annotations", {{"iam.amazonaws.com/allowed-roles", allowed}}}}}};
}

k8s::Json ServiceAccount(k8s::Json annotations = k8s::Json::object()) {
  return {{"metadata", {{"name", "app"}, {"namespace", "team-a"}, {"annotations", annotations}}}};
}

const PathExplanation& Path(const Explanation& e, std::string_view name) {
  for (const auto& p : e.paths) {
    if (p.path == name) {
      return p;
    }
  }
  throw std::runtime_error("no path");
}

class ExplainPodTest : public ::testing::Test {
 protected:
  Explanation Explain(PodFacts facts) {
    auto e = ExplainPod(policy_, facts, {}, random_);
    EXPECT_TRUE(e) << e.error().message();
    return *e;
  }
  identity::RolePolicy policy_{{.base = *aws::ParseBaseRoleArn(kBase)}};
  SystemRandom random_;
};

TEST_F(ExplainPodTest, ImdsVerdictIsTheAgentDecision) {
  for (const char* role : {"app", "admin"}) {
    PodFacts facts{.pod = Pod({{"iam.amazonaws.com/role", role}}),
                   .service_account = ServiceAccount(),
                   .namespace_object = Namespace(R"(["app"])")};
    Explanation e = Explain(facts);
    const auto& imds = Path(e, "imds");
    identity::Annotations pod{{"iam.amazonaws.com/role", role}};
    identity::Annotations ns{{"iam.amazonaws.com/allowed-roles", R"(["app"])"}};
    identity::Annotations sa;
    auto agent = identity::DecidePod(policy_,
                                     {.namespace_name = "team-a",
                                      .pod_name = "web-1",
                                      .pod_uid = "u-1",
                                      .service_account = "app",
                                      .pod_annotations = &pod,
                                      .service_account_annotations = &sa,
                                      .namespace_annotations = &ns},
                                     {});
    EXPECT_EQ(imds.verdict, identity::OutcomeName(agent.decision.outcome));
    EXPECT_EQ(imds.reason, agent.decision.reason);
    EXPECT_EQ(imds.steps[0].check, "host-network");
    EXPECT_EQ(imds.steps[1].check, "pod-ip");
  }
}

TEST_F(ExplainPodTest, HostNetworkIsNotApplicableAndNoIpIsPending) {
  Explanation host = Explain({.pod = Pod({{"iam.amazonaws.com/role", "app"}}, true),
                              .namespace_object = Namespace(R"(["app"])")});
  EXPECT_EQ(Path(host, "imds").verdict, "not_applicable");
  EXPECT_THAT(Path(host, "imds").fix, HasSubstr("IRSA or container credentials"));

  Explanation no_ip = Explain({.pod = Pod({{"iam.amazonaws.com/role", "app"}}, false, nullptr),
                               .namespace_object = Namespace(R"(["app"])")});
  EXPECT_EQ(Path(no_ip, "imds").verdict, "pending");
  EXPECT_EQ(Path(no_ip, "imds").role, std::string(kBase) + "app");
  EXPECT_THAT(Path(no_ip, "imds").reason, HasSubstr("no IP address yet"));
}

TEST_F(ExplainPodTest, IrsaNotMutatedAndMissingServiceAccount) {
  Explanation e =
      Explain({.pod = Pod(),
               .service_account = ServiceAccount(
                   {{"eks.amazonaws.com/role-arn", "arn:aws:iam::111122223333:role/r"}}),
               .namespace_object = Namespace("[]")});
  const auto& irsa = Path(e, "irsa");
  EXPECT_EQ(irsa.verdict, "not_mutated");
  EXPECT_EQ(irsa.role, "arn:aws:iam::111122223333:role/r");
  EXPECT_EQ(ExitCode(e), 1);

  Explanation missing = Explain({.pod = Pod(), .namespace_object = Namespace("[]")});
  EXPECT_EQ(Path(missing, "irsa").verdict, "no_role");
  EXPECT_THAT(Path(missing, "irsa").fix, HasSubstr("create service account team-a/app"));
}

TEST_F(ExplainPodTest, AssociationDecidesContainerCredentials) {
  k8s::Json association = {
      {"metadata", {{"name", "a"}, {"namespace", "team-a"}, {"uid", "pia-1"}}},
      {"spec", {{"serviceAccount", "app"}, {"roleArn", std::string(kBase) + "cc"}}}};
  Explanation allowed = Explain({.pod = Pod(),
                                 .service_account = ServiceAccount(),
                                 .namespace_object = Namespace(R"(["cc"])"),
                                 .associations = {association}});
  const auto& cc = Path(allowed, "container-credentials");
  EXPECT_EQ(cc.verdict, "allowed") << cc.reason;
  EXPECT_EQ(cc.role, std::string(kBase) + "cc");
  EXPECT_THAT(cc.fix, HasSubstr("recreate the pod"));  // the token was not injected

  Explanation denied = Explain({.pod = Pod(),
                                .service_account = ServiceAccount(),
                                .namespace_object = Namespace(R"(["other"])"),
                                .associations = {association}});
  EXPECT_EQ(Path(denied, "container-credentials").verdict, "denied");
}

TEST_F(ExplainPodTest, NotAPodIsAnError) {
  auto e = ExplainPod(policy_, {.pod = k8s::Json::object()}, {}, random_);
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().code(), ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace podiam::explain
