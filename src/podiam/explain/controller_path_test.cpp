#include "podiam/explain/controller_path.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "podiam/controller/reconciler.hpp"

namespace podiam::explain {
namespace {

using ::testing::HasSubstr;

constexpr const char* kBase = "arn:aws:iam::123456789012:role/";

k8s::Json Role(const char* name, const char* reference, const char* ready = nullptr,
               const char* reason = "CredentialsReady", k8s::Json extra_spec = k8s::Json::object(),
               const char* group = "podiam.io/v1") {
  k8s::Json spec = {{"roleReference", reference}};
  spec.update(extra_spec);
  k8s::Json role = {
      {"apiVersion", group},
      {"kind", "AWSIAMRole"},
      {"metadata", {{"name", name}, {"namespace", "team-a"}, {"uid", "u"}, {"generation", 1}}},
      {"spec", spec}};
  if (ready != nullptr) {
    role["status"] = {{"observedGeneration", 1},
                      {"expiration", "2030-01-01T00:00:00Z"},
                      {"conditions",
                       {{{"type", "Ready"},
                         {"status", ready},
                         {"reason", reason},
                         {"message", std::string("message for ") + reason}}}}};
  }
  return role;
}

// A pod mounting Secret `secret` at /var/run/aws (or a projected source, or envFrom), with
// AWS_CONFIG_FILE set when `env` is.
k8s::Json Pod(const char* secret, const char* how = "volume", const char* env = nullptr) {
  k8s::Json container = {{"name", "app"}, {"image", "x"}};
  k8s::Json volumes = k8s::Json::array();
  if (secret != nullptr && std::string_view(how) == "volume") {
    volumes.push_back({{"name", "aws"}, {"secret", {{"secretName", secret}}}});
  } else if (secret != nullptr && std::string_view(how) == "projected") {
    k8s::Json source = {{"secret", {{"name", secret}}}};
    source["secret"]["items"] =
        k8s::Json::parse(R"([{"key": "credentials.process", "path": "cfg/config"}])");
    k8s::Json volume = {{"name", "aws"}};
    volume["projected"]["sources"] = k8s::Json::array({source});
    volumes.push_back(volume);
  } else if (secret != nullptr) {
    container["envFrom"] = {{{"secretRef", {{"name", secret}}}}};
  }
  if (!volumes.empty()) {
    container["volumeMounts"] = {{{"name", "aws"}, {"mountPath", "/var/run/aws/"}}};
  }
  if (env != nullptr) {
    container["env"] = {{{"name", "AWS_CONFIG_FILE"}, {"value", env}}};
  }
  return {{"metadata", {{"name", "web-1"}, {"namespace", "team-a"}, {"uid", "p"}}},
          {"spec", {{"containers", {container}}, {"volumes", volumes}}}};
}

k8s::Json Namespace(const char* allowed) {
  return {{"metadata",
           {{"name", "team-a"}, {"annotations", {{"iam.amazonaws.com/allowed-roles", allowed}}}}}};
}

struct Case {
  const char* name;
  PodFacts facts;
  const char* verdict;
  const char* role;     // expected role ("" none)
  const char* reason;   // substring of the reason
  const char* fix;      // substring of the fix ("" : no fix)
  const char* refused;  // the refused step's check ("" : none)
};

TEST(ControllerPathTest, EachStateHasItsVerdictReasonAndFix) {
  const std::string arn = std::string(kBase) + "app";
  const Case cases[] = {
      {"no AWSIAMRole",
       {.pod = Pod("app"), .namespace_object = Namespace(R"(["app"])")},
       "no_role",
       "",
       "has no AWSIAMRole",
       "create an AWSIAMRole",
       "awsiamrole"},
      {"role exists, Secret not mounted",
       {.pod = Pod(nullptr),
        .namespace_object = Namespace(R"(["app"])"),
        .awsiamroles = {Role("app", "app", "True")}},
       "not_mounted",
       "",
       "does not mount the Secret",
       "secretName: app",
       "secret-mounted"},
      {"another Secret mounted",
       {.pod = Pod("other"),
        .namespace_object = Namespace(R"(["app"])"),
        .awsiamroles = {Role("app", "app", "True")}},
       "not_mounted",
       "",
       "does not mount",
       "secretName: app",
       "secret-mounted"},
      {"denied by the namespace policy",
       {.pod = Pod("app", "volume", "/var/run/aws/credentials.process"),
        .namespace_object = Namespace(R"(["other"])"),
        .awsiamroles = {Role("app", "app", "False", "Denied")}},
       "denied",
       arn.c_str(),
       "no entry of iam.amazonaws.com/allowed-roles matches",
       "podiam explain policy",
       "namespace-policy"},
      {"externalIdPolicy None without --allow-no-external-id",
       {.pod = Pod("app"),
        .namespace_object = Namespace(R"(["app"])"),
        .awsiamroles = {Role("app", "app", "False", "Denied", {{"externalIdPolicy", "None"}})}},
       "denied",
       arn.c_str(),
       "--allow-no-external-id",
       "--allow-no-external-id",
       "namespace-policy"},
      {"a name without --base-role-arn is invalid (full ARN elsewhere)",
       {.pod = Pod("app"),
        .namespace_object = Namespace(R"(["app"])"),
        .awsiamroles = {Role("app", "arn:aws:s3:::bucket")}},
       "invalid",
       "",
       "spec.roleReference",
       "correct spec.roleReference",
       "role-arn"},
      {"not reconciled yet",
       {.pod = Pod("app"),
        .namespace_object = Namespace(R"(["app"])"),
        .awsiamroles = {Role("app", "app")}},
       "pending",
       arn.c_str(),
       "not been reconciled",
       "podiam controller runs",
       "status"},
      {"STS refused: not Ready with the reason",
       {.pod = Pod("app"),
        .namespace_object = Namespace(R"(["app"])"),
        .awsiamroles = {Role("app", "app", "False", "GetCredentialsFailed")}},
       "not_ready",
       arn.c_str(),
       "not Ready (GetCredentialsFailed)",
       "--path controller --external-id 'team-a'",
       "status"},
      {"Secret conflict",
       {.pod = Pod("app"),
        .namespace_object = Namespace(R"(["app"])"),
        .awsiamroles = {Role("app", "app", "False", "SecretConflict")}},
       "not_ready",
       arn.c_str(),
       "SecretConflict",
       "podiam.io/adopt=true",
       "status"},
      {"OK, AWS_CONFIG_FILE under the mount",
       {.pod = Pod("app", "volume", "/var/run/aws/credentials.process"),
        .namespace_object = Namespace(R"(["app"])"),
        .awsiamroles = {Role("other", "app", "True"), Role("app", "app", "True")}},
       "allowed",
       arn.c_str(),
       "message for CredentialsReady",
       "",
       ""},
      {"OK, projected source with items",
       {.pod = Pod("app", "projected", "/var/run/aws/cfg/config"),
        .namespace_object = Namespace(R"(["app"])"),
        .awsiamroles = {Role("app", "app", "True")}},
       "allowed",
       arn.c_str(),
       "CredentialsReady",
       "",
       ""},
      {"OK but the SDK is not pointed at the files",
       {.pod = Pod("app", "volume", "/elsewhere/config"),
        .namespace_object = Namespace(R"(["app"])"),
        .awsiamroles = {Role("app", "app", "True")}},
       "allowed",
       arn.c_str(),
       "CredentialsReady",
       "set AWS_CONFIG_FILE=/var/run/aws/credentials.process in container app",
       ""},
      {"OK through envFrom only: no files",
       {.pod = Pod("app", "env"),
        .namespace_object = Namespace(R"(["app"])"),
        .awsiamroles = {Role("app", "app", "True")}},
       "allowed",
       arn.c_str(),
       "CredentialsReady",
       "mount the Secret as a volume",
       ""},
      {"full ARN in aws-cn",
       {.pod = Pod("cn", "volume", "/var/run/aws/credentials.process"),
        .namespace_object = Namespace(R"(["arn:aws-cn:iam::123456789012:role/p/cn"])"),
        .awsiamroles = {Role("cn", "arn:aws-cn:iam::123456789012:role/p/cn", "True")}},
       "allowed",
       "arn:aws-cn:iam::123456789012:role/p/cn",
       "CredentialsReady",
       "",
       ""},
      {"namespace unreadable",
       {.pod = Pod("app"), .awsiamroles = {Role("app", "app", "True")}},
       "pending",
       arn.c_str(),
       "not known",
       "retry",
       "namespace-policy"},
  };
  identity::RolePolicy policy({.base = *aws::ParseBaseRoleArn(kBase)});
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    PathExplanation p = ExplainControllerPath(policy, c.facts, {});
    EXPECT_EQ(p.path, "controller");
    EXPECT_EQ(p.verdict, c.verdict) << p.reason;
    EXPECT_EQ(p.role, c.role);
    EXPECT_THAT(p.reason, HasSubstr(c.reason));
    if (std::string_view(c.fix).empty()) {
      EXPECT_EQ(p.fix, "");
    } else {
      EXPECT_THAT(p.fix, HasSubstr(c.fix));
    }
    std::string refused;
    for (const auto& s : p.steps) {
      if (s.status == StepStatus::kRefused) {
        refused = s.check;
      }
    }
    EXPECT_EQ(refused, c.refused);
  }
}

// The verdict is the controller's own decision: for the same object and namespace, explain's
// denied/invalid/allowed and its reason are controller::DecideRole's.
TEST(ControllerPathTest, AgreesWithTheControllersDecision) {
  identity::RolePolicy policy({.base = *aws::ParseBaseRoleArn(kBase)});
  for (const char* allowed : {R"(["app"])", R"(["team/*"])", "[]", "not json", R"(["arn:*"])"}) {
    for (const char* reference : {"app", "team/app", "arn:aws-us-gov:iam::1:role/x", "a b"}) {
      SCOPED_TRACE(std::string(allowed) + " " + reference);
      k8s::Json object = Role("r", reference, "True");
      PathExplanation p =
          ExplainControllerPath(policy,
                                {.pod = Pod("r", "volume", "/var/run/aws/credentials.process"),
                                 .namespace_object = Namespace(allowed),
                                 .awsiamroles = {object}},
                                {});
      identity::Annotations ns{{"iam.amazonaws.com/allowed-roles", allowed}};
      auto decision =
          controller::DecideRole(policy, *controller::ParseRoleObject(object), &ns, false);
      std::string expected = decision.reason == controller::reasons::kDenied        ? "denied"
                             : decision.reason == controller::reasons::kInvalidRole ? "invalid"
                                                                                    : "allowed";
      EXPECT_EQ(p.verdict, expected);
      if (!decision.reason.empty()) {
        EXPECT_EQ(p.reason, decision.message);
      }
      EXPECT_EQ(p.role, decision.arn ? decision.arn->ToString() : "");
    }
  }
}

TEST(ControllerPathTest, FindSecretUsesHonoursSubPathAndInitContainers) {
  k8s::Json pod = {
      {"spec",
       {{"volumes", {{{"name", "v"}, {"secret", {{"secretName", "s"}}}}}},
        {"initContainers",
         {{{"name", "init"},
           {"volumeMounts",
            {{{"name", "v"}, {"mountPath", "/aws/config"}, {"subPath", "credentials.process"}}}}}}},
        {"containers",
         {{{"name", "app"},
           {"env", {{{"name", "K"}, {"valueFrom", {{"secretKeyRef", {{"name", "s"}}}}}}}}}}}}}};
  auto uses = FindSecretUses(pod, "s");
  ASSERT_EQ(uses.size(), 2U);
  EXPECT_EQ(uses[0].container, "app");
  EXPECT_EQ(uses[0].volume, "");
  EXPECT_EQ(uses[1].container, "init");
  EXPECT_EQ(uses[1].FileOf("credentials.process"), "/aws/config");
  EXPECT_EQ(uses[1].FileOf("credentials"), "");
  EXPECT_TRUE(FindSecretUses(pod, "other").empty());
  EXPECT_TRUE(FindSecretUses(k8s::Json::object(), "s").empty());
}

}  // namespace
}  // namespace podiam::explain
