// Golden compatibility table: for each pod/ServiceAccount input, the JSON Patch that
// amazon-eks-pod-identity-webhook (commit 3bf80a3) produces, derived from its documented
// behaviour (docs/webhook.md "What is injected", rules R1..R21). Each case names the rule it
// checks; R19 and R21 are podiam's own (no patch when nothing changes; the role annotation
// selecting container credentials), not the reference's. Patches compare as JSON values; container
// objects carry the fields of the input (the reference re-encodes them through Go types, which only
// adds an empty `resources`: see docs/webhook.md, difference D2).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "podiam/testing/fake_random.hpp"
#include "podiam/webhook/mutation.hpp"

namespace podiam::webhook {
namespace {

using Json = nlohmann::json;

const std::string kRole = "arn:aws:iam::111122223333:role/s3-reader";
const std::string kTokenFile = "/var/run/secrets/eks.amazonaws.com/serviceaccount/token";

std::string Env(const std::string& name, const std::string& value) {
  return R"({"name":")" + name + R"(","value":")" + value + R"("})";
}
std::string IrsaEnv(const std::string& file = kTokenFile) {
  return Env("AWS_ROLE_ARN", kRole) + "," + Env("AWS_WEB_IDENTITY_TOKEN_FILE", file);
}
std::string Mount(const std::string& name = "aws-iam-token",
                  const std::string& path = "/var/run/secrets/eks.amazonaws.com/serviceaccount") {
  return R"({"name":")" + name + R"(","readOnly":true,"mountPath":")" + path + R"("})";
}
std::string Volume(const std::string& audience = "sts.amazonaws.com", int expiration = 86400,
                   const std::string& name = "aws-iam-token", const std::string& path = "token") {
  std::string aud = audience.empty() ? "" : R"("audience":")" + audience + R"(",)";
  return R"({"name":")" + name + R"(","projected":{"sources":[{"serviceAccountToken":{)" + aud +
         R"("expirationSeconds":)" + std::to_string(expiration) + R"(,"path":")" + path +
         R"("}}]}})";
}
std::string AddVolumes(const std::string& volume = Volume()) {
  return R"({"op":"add","path":"/spec/volumes","value":[)" + volume + "]}";
}
std::string PrependVolume(const std::string& volume = Volume()) {
  return R"({"op":"add","path":"/spec/volumes/0","value":)" + volume + "}";
}
std::string Containers(const std::string& items) {
  return R"({"op":"add","path":"/spec/containers","value":[)" + items + "]}";
}
std::string InitContainers(const std::string& items) {
  return R"({"op":"add","path":"/spec/initContainers","value":[)" + items + "]}";
}
// A container named `name` with the given env and mounts (JSON list contents).
std::string C(const std::string& name, const std::string& env, const std::string& mounts,
              const std::string& extra = "") {
  std::string out = R"({"name":")" + name + R"(","image":"amazonlinux")" + extra;
  if (!env.empty()) {
    out += R"(,"env":[)" + env + "]";
  }
  if (!mounts.empty()) {
    out += R"(,"volumeMounts":[)" + mounts + "]";
  }
  return out + "}";
}
std::string Pod(const std::string& containers, const std::string& spec_extra = "",
                const std::string& metadata_extra = "") {
  return R"({"metadata":{"name":"balajilovesoreos")" + metadata_extra +
         R"(},"spec":{"serviceAccountName":"default","containers":[)" + containers + "]" +
         spec_extra + "}}";
}

struct Case {
  std::string name;
  std::string rule;  // docs/webhook.md rule(s) checked
  std::string pod;
  // ServiceAccount annotations; `no_account` -> the ServiceAccount does not exist.
  k8s::Annotations account = {{"eks.amazonaws.com/role-arn", kRole}};
  bool no_account = false;
  bool container_credentials = false;
  MutationSettings settings = {};
  // "" -> no mutation at all (Mode::kNone).
  std::string patch;
  bool changed = true;
};

MutationSettings WithRegion(std::string region) {
  MutationSettings s;
  s.region = std::move(region);
  return s;
}
MutationSettings WithRegionalSts() {
  MutationSettings s;
  s.regional_sts = true;
  return s;
}
// podiam's --container-credentials-from-annotations (R21), with `key` as --iam-role-key.
MutationSettings WithRoleAnnotationMode(std::string key = "iam.amazonaws.com/role") {
  MutationSettings s;
  s.container_credentials.role_annotation = std::move(key);
  return s;
}
k8s::Annotations Sa(std::initializer_list<std::pair<const std::string, std::string>> extra) {
  k8s::Annotations a{{"eks.amazonaws.com/role-arn", kRole}};
  for (const auto& [k, v] : extra) {
    a[k] = v;
  }
  return a;
}

const std::string kCcEnv =
    Env("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://169.254.170.23/v1/credentials") + "," +
    Env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
        "/var/run/secrets/pods.eks.amazonaws.com/serviceaccount/eks-pod-identity-token");
const std::string kCcMount =
    Mount("eks-pod-identity-token", "/var/run/secrets/pods.eks.amazonaws.com/serviceaccount");
// FakeRandom(0.5): 79200 + floor(0.5 * 7201) = 82800.
const std::string kCcVolume =
    Volume("pods.eks.amazonaws.com", 82800, "eks-pod-identity-token", "eks-pod-identity-token");

std::vector<Case> Cases() {
  const std::string plain = C("app", "", "");
  const std::string mutated = C("app", IrsaEnv(), Mount());
  std::vector<Case> cases = {
      {.name = "no_role_annotation",
       .rule = "R1",
       .pod = Pod(plain),
       .account = {{"eks.amazonaws.com/audience", "x"}},
       .patch = ""},
      {.name = "empty_role_annotation",
       .rule = "R1",
       .pod = Pod(plain),
       .account = {{"eks.amazonaws.com/role-arn", ""}},
       .patch = ""},
      {.name = "service_account_missing",
       .rule = "R1",
       .pod = Pod(plain),
       .no_account = true,
       .patch = ""},
      {.name = "no_volumes_creates_list",
       .rule = "R12 R13 R7",
       .pod = Pod(plain),
       .patch = "[" + AddVolumes() + "," + Containers(mutated) + "]"},
      {.name = "existing_volumes_prepend",
       .rule = "R12",
       .pod = Pod(plain, R"(,"volumes":[{"name":"data","emptyDir":{}}])"),
       .patch = "[" + PrependVolume() + "," + Containers(mutated) + "]"},
      {.name = "empty_volume_list_prepend",
       .rule = "R12",
       .pod = Pod(plain, R"(,"volumes":[])"),
       .patch = "[" + PrependVolume() + "," + Containers(mutated) + "]"},
      {.name = "token_volume_exists",
       .rule = "R12",
       .pod = Pod(plain, R"(,"volumes":[{"name":"aws-iam-token","emptyDir":{}}])"),
       .patch = "[" + Containers(mutated) + "]"},
      {.name = "init_containers_region_flag_reference_testdata",
       .rule = "R13 R20",
       .pod = Pod(plain, R"(,"initContainers":[{"name":"init","image":"amazonlinux"}])"),
       .settings = WithRegion("seattle"),
       .patch = "[" + AddVolumes() + "," +
                Containers(C("app",
                             Env("AWS_DEFAULT_REGION", "seattle") + "," +
                                 Env("AWS_REGION", "seattle") + "," + IrsaEnv(),
                             Mount())) +
                "," +
                InitContainers(C("init",
                                 Env("AWS_DEFAULT_REGION", "seattle") + "," +
                                     Env("AWS_REGION", "seattle") + "," + IrsaEnv(),
                                 Mount())) +
                "]"},
      {.name = "native_sidecar",
       .rule = "R13",
       .pod = Pod(
           plain,
           R"(,"initContainers":[{"name":"proxy","image":"amazonlinux","restartPolicy":"Always"}])"),
       .patch = "[" + AddVolumes() + "," + Containers(mutated) + "," +
                InitContainers(C("proxy", IrsaEnv(), Mount(), R"(,"restartPolicy":"Always")")) +
                "]"},
      {.name = "skip_containers",
       .rule = "R6",
       .pod = Pod(plain + "," + C("sidecar", "", ""), "",
                  R"(,"annotations":{"eks.amazonaws.com/skip-containers":"sidecar"})"),
       .patch = "[" + AddVolumes() + "," + Containers(mutated + "," + C("sidecar", "", "")) + "]"},
      {.name = "skip_init_container",
       .rule = "R6",
       .pod = Pod(plain, R"(,"initContainers":[{"name":"init","image":"amazonlinux"}])",
                  R"(,"annotations":{"eks.amazonaws.com/skip-containers":"init,other"})"),
       .patch = "[" + AddVolumes() + "," + Containers(mutated) + "," +
                InitContainers(C("init", "", "")) + "]"},
      {.name = "skip_containers_bad_csv_skips_none",
       .rule = "R6",
       .pod = Pod(C(R"(a\"b)", "", ""), "",
                  R"(,"annotations":{"eks.amazonaws.com/skip-containers":"a\"b"})"),
       .patch = "[" + AddVolumes() + "," + Containers(C(R"(a\"b)", IrsaEnv(), Mount())) + "]"},
      {.name = "role_arn_env_present",
       .rule = "R8 R10",
       .pod = Pod(C("app", Env("AWS_ROLE_ARN", "mine"), "")),
       .patch = "[" + AddVolumes() + "," +
                Containers(C("app", Env("AWS_ROLE_ARN", "mine"), Mount())) + "]"},
      {.name = "token_file_env_present",
       .rule = "R8",
       .pod = Pod(C("app", Env("AWS_WEB_IDENTITY_TOKEN_FILE", "/t"), "")),
       .patch = "[" + AddVolumes() + "," +
                Containers(C("app", Env("AWS_WEB_IDENTITY_TOKEN_FILE", "/t"), Mount())) + "]"},
      {.name = "all_env_present_leaves_container_alone",
       .rule = "R9",
       .pod = Pod(C("app",
                    Env("AWS_ROLE_ARN", "mine") + "," + Env("AWS_REGION", "x") + "," +
                        Env("AWS_STS_REGIONAL_ENDPOINTS", "legacy"),
                    "")),
       .patch = "[" + AddVolumes() + "," +
                Containers(C("app",
                             Env("AWS_ROLE_ARN", "mine") + "," + Env("AWS_REGION", "x") + "," +
                                 Env("AWS_STS_REGIONAL_ENDPOINTS", "legacy"),
                             "")) +
                "]"},
      {.name = "region_present_not_overridden",
       .rule = "R8 R20",
       .pod = Pod(C("app", Env("AWS_REGION", "eu-west-1"), "")),
       .settings = WithRegion("us-west-2"),
       .patch = "[" + AddVolumes() + "," +
                Containers(C("app", Env("AWS_REGION", "eu-west-1") + "," + IrsaEnv(), Mount())) +
                "]"},
      {.name = "regional_sts_flag",
       .rule = "R3 R7",
       .pod = Pod(plain),
       .settings = WithRegionalSts(),
       .patch = "[" + AddVolumes() + "," +
                Containers(C("app", Env("AWS_STS_REGIONAL_ENDPOINTS", "regional") + "," + IrsaEnv(),
                             Mount())) +
                "]"},
      {.name = "regional_sts_annotation",
       .rule = "R3",
       .pod = Pod(plain),
       .account = Sa({{"eks.amazonaws.com/sts-regional-endpoints", "true"}}),
       .patch = "[" + AddVolumes() + "," +
                Containers(C("app", Env("AWS_STS_REGIONAL_ENDPOINTS", "regional") + "," + IrsaEnv(),
                             Mount())) +
                "]"},
      {.name = "regional_sts_annotation_false_beats_flag",
       .rule = "R3",
       .pod = Pod(plain),
       .account = Sa({{"eks.amazonaws.com/sts-regional-endpoints", "False"}}),
       .settings = WithRegionalSts(),
       .patch = "[" + AddVolumes() + "," + Containers(mutated) + "]"},
      {.name = "regional_sts_annotation_invalid_keeps_flag",
       .rule = "R3",
       .pod = Pod(plain),
       .account = Sa({{"eks.amazonaws.com/sts-regional-endpoints", "yes"}}),
       .settings = WithRegionalSts(),
       .patch = "[" + AddVolumes() + "," +
                Containers(C("app", Env("AWS_STS_REGIONAL_ENDPOINTS", "regional") + "," + IrsaEnv(),
                             Mount())) +
                "]"},
      {.name = "audience_annotation",
       .rule = "R2",
       .pod = Pod(plain),
       .account = Sa({{"eks.amazonaws.com/audience", "my-aud"}}),
       .patch = "[" + AddVolumes(Volume("my-aud")) + "," + Containers(mutated) + "]"},
      {.name = "empty_audience_omitted",
       .rule = "R2 R12",
       .pod = Pod(plain),
       .account = Sa({{"eks.amazonaws.com/audience", ""}}),
       .patch = "[" + AddVolumes(Volume("")) + "," + Containers(mutated) + "]"},
      {.name = "token_expiration_annotation",
       .rule = "R4",
       .pod = Pod(plain),
       .account = Sa({{"eks.amazonaws.com/token-expiration", "3600"}}),
       .patch =
           "[" + AddVolumes(Volume("sts.amazonaws.com", 3600)) + "," + Containers(mutated) + "]"},
      {.name = "token_expiration_below_minimum",
       .rule = "R4",
       .pod = Pod(plain),
       .account = Sa({{"eks.amazonaws.com/token-expiration", "100"}}),
       .patch =
           "[" + AddVolumes(Volume("sts.amazonaws.com", 600)) + "," + Containers(mutated) + "]"},
      {.name = "token_expiration_pod_beats_account",
       .rule = "R5",
       .pod = Pod(plain, "", R"(,"annotations":{"eks.amazonaws.com/token-expiration":"+7200"})"),
       .account = Sa({{"eks.amazonaws.com/token-expiration", "3600"}}),
       .patch =
           "[" + AddVolumes(Volume("sts.amazonaws.com", 7200)) + "," + Containers(mutated) + "]"},
      {.name = "token_expiration_pod_invalid_keeps_account",
       .rule = "R5",
       .pod = Pod(plain, "", R"(,"annotations":{"eks.amazonaws.com/token-expiration":"1h"})"),
       .account = Sa({{"eks.amazonaws.com/token-expiration", "3600"}}),
       .patch =
           "[" + AddVolumes(Volume("sts.amazonaws.com", 3600)) + "," + Containers(mutated) + "]"},
      {.name = "token_expiration_pod_below_minimum",
       .rule = "R5",
       .pod = Pod(plain, "", R"(,"annotations":{"eks.amazonaws.com/token-expiration":"-5"})"),
       .patch =
           "[" + AddVolumes(Volume("sts.amazonaws.com", 600)) + "," + Containers(mutated) + "]"},
      {.name = "windows_node_selector",
       .rule = "R11",
       .pod = Pod(plain, R"(,"nodeSelector":{"kubernetes.io/os":"windows"})"),
       .patch =
           "[" + AddVolumes() + "," +
           Containers(C(
               "app", IrsaEnv(R"(C:\\var\\run\\secrets\\eks.amazonaws.com\\serviceaccount\\token)"),
               Mount())) +
           "]"},
      {.name = "windows_beta_node_selector",
       .rule = "R11",
       .pod = Pod(plain, R"(,"nodeSelector":{"beta.kubernetes.io/os":"windows"})"),
       .patch =
           "[" + AddVolumes() + "," +
           Containers(C(
               "app", IrsaEnv(R"(C:\\var\\run\\secrets\\eks.amazonaws.com\\serviceaccount\\token)"),
               Mount())) +
           "]"},
      {.name = "mount_exists",
       .rule = "R10",
       .pod = Pod(C("app", "", Mount("aws-iam-token", "/elsewhere"))),
       .patch = "[" + AddVolumes() + "," +
                Containers(C("app", IrsaEnv(), Mount("aws-iam-token", "/elsewhere"))) + "]"},
      {.name = "mount_path_flag_cleaned_in_token_file",
       .rule = "R18",
       .pod = Pod(plain),
       .settings =
           [] {
             MutationSettings s;
             s.mount_path = "/var/run//secrets/x/";
             return s;
           }(),
       .patch = "[" + AddVolumes() + "," +
                Containers(C("app", IrsaEnv("/var/run/secrets/x/token"),
                             Mount("aws-iam-token", "/var/run//secrets/x/"))) +
                "]"},
      {.name = "names_needing_pointer_escapes_stay_in_values",
       .rule = "R13 R17",
       .pod = Pod(C("a/b~c", "", "")),
       .patch = "[" + AddVolumes() + "," + Containers(C("a/b~c", IrsaEnv(), Mount())) + "]"},
      {.name = "custom_annotation_prefix",
       .rule = "R2 R4",
       .pod = Pod(plain),
       .account = {{"example.com/role-arn", kRole}, {"example.com/token-expiration", "900"}},
       .settings =
           [] {
             MutationSettings s;
             s.annotation_prefix = "example.com";
             return s;
           }(),
       .patch =
           "[" + AddVolumes(Volume("sts.amazonaws.com", 900)) + "," + Containers(mutated) + "]"},
      {.name = "flag_token_expiration",
       .rule = "R4",
       .pod = Pod(plain),
       .settings =
           [] {
             MutationSettings s;
             s.token_expiration = 7200;
             return s;
           }(),
       .patch =
           "[" + AddVolumes(Volume("sts.amazonaws.com", 7200)) + "," + Containers(mutated) + "]"},
      {.name = "container_credentials_no_labels",
       .rule = "R14 R15 R16 R17",
       .pod = Pod(plain),
       .container_credentials = true,
       .patch =
           R"([{"op":"add","path":"/metadata/labels","value":{"eks.amazonaws.com/pod-identity":"enabled"}},)" +
           AddVolumes(kCcVolume) + "," + Containers(C("app", kCcEnv, kCcMount)) + "]"},
      {.name = "container_credentials_labels_escaped_path",
       .rule = "R17",
       .pod = Pod(plain, "", R"(,"labels":{"app":"web"})"),
       .container_credentials = true,
       .patch =
           R"([{"op":"add","path":"/metadata/labels/eks.amazonaws.com~1pod-identity","value":"enabled"},)" +
           AddVolumes(kCcVolume) + "," + Containers(C("app", kCcEnv, kCcMount)) + "]"},
      {.name = "container_credentials_without_role_annotation",
       .rule = "R14",
       .pod = Pod(plain, "", R"(,"labels":{})"),
       .account = {},
       .container_credentials = true,
       .patch =
           R"([{"op":"add","path":"/metadata/labels/eks.amazonaws.com~1pod-identity","value":"enabled"},)" +
           AddVolumes(kCcVolume) + "," + Containers(C("app", kCcEnv, kCcMount)) + "]"},
      {.name = "container_credentials_account_expiration_no_jitter",
       .rule = "R16",
       .pod = Pod(plain, "", R"(,"labels":{})"),
       .account = Sa({{"eks.amazonaws.com/token-expiration", "3600"},
                      {"eks.amazonaws.com/sts-regional-endpoints", "true"}}),
       .container_credentials = true,
       .settings = WithRegion("eu-west-1"),
       .patch =
           R"([{"op":"add","path":"/metadata/labels/eks.amazonaws.com~1pod-identity","value":"enabled"},)" +
           AddVolumes(Volume("pods.eks.amazonaws.com", 3600, "eks-pod-identity-token",
                             "eks-pod-identity-token")) +
           "," +
           Containers(C("app",
                        Env("AWS_STS_REGIONAL_ENDPOINTS", "regional") + "," +
                            Env("AWS_DEFAULT_REGION", "eu-west-1") + "," +
                            Env("AWS_REGION", "eu-west-1") + "," + kCcEnv,
                        kCcMount)) +
           "]"},
      {.name = "container_credentials_unknown_account_ignores_flags",
       .rule = "R16",
       .pod = Pod(plain, "", R"(,"labels":{})"),
       .no_account = true,
       .container_credentials = true,
       .settings = WithRegionalSts(),
       .patch =
           R"([{"op":"add","path":"/metadata/labels/eks.amazonaws.com~1pod-identity","value":"enabled"},)" +
           AddVolumes(kCcVolume) + "," + Containers(C("app", kCcEnv, kCcMount)) + "]"},
      {.name = "role_annotation_selects_container_credentials",
       .rule = "R21 R17",
       .pod = Pod(plain),
       .account = {{"iam.amazonaws.com/role", "app"}},
       .settings = WithRoleAnnotationMode(),
       .patch =
           R"([{"op":"add","path":"/metadata/labels","value":{"eks.amazonaws.com/pod-identity":"enabled"}},)" +
           AddVolumes(kCcVolume) + "," + Containers(C("app", kCcEnv, kCcMount)) + "]"},
      {.name = "role_annotation_ignored_when_the_mode_is_off",
       .rule = "R21 R1",
       .pod = Pod(plain),
       .account = {{"iam.amazonaws.com/role", "app"}},
       .patch = ""},
      {.name = "role_annotation_wins_over_role_arn",
       .rule = "R21 R14",
       .pod = Pod(plain, "", R"(,"labels":{})"),
       .account = Sa({{"iam.amazonaws.com/role", "arn:aws:iam::111122223333:role/app"}}),
       .settings = WithRoleAnnotationMode(),
       .patch =
           R"([{"op":"add","path":"/metadata/labels/eks.amazonaws.com~1pod-identity","value":"enabled"},)" +
           AddVolumes(kCcVolume) + "," + Containers(C("app", kCcEnv, kCcMount)) + "]"},
      {.name = "empty_role_annotation_leaves_irsa",
       .rule = "R21 R1",
       .pod = Pod(plain),
       .account = Sa({{"iam.amazonaws.com/role", ""}}),
       .settings = WithRoleAnnotationMode(),
       .patch = "[" + AddVolumes() + "," + Containers(mutated) + "]"},
      {.name = "role_annotation_under_another_key",
       .rule = "R21",
       .pod = Pod(plain),
       .account = {{"iam.amazonaws.com/role", "app"}},
       .settings = WithRoleAnnotationMode("example.com/role"),
       .patch = ""},
      {.name = "role_annotation_custom_key_selects",
       .rule = "R21",
       .pod = Pod(plain),
       .account = {{"example.com/role", "app"}},
       .settings = WithRoleAnnotationMode("example.com/role"),
       .patch =
           R"([{"op":"add","path":"/metadata/labels","value":{"eks.amazonaws.com/pod-identity":"enabled"}},)" +
           AddVolumes(kCcVolume) + "," + Containers(C("app", kCcEnv, kCcMount)) + "]"},
      {.name = "already_mutated_no_change",
       .rule = "R19",
       .pod = Pod(mutated, "," + std::string(R"("volumes":[)") + Volume() + "]"),
       .patch = "[" + Containers(mutated) + "]",
       .changed = false},
      {.name = "container_credentials_already_mutated",
       .rule = "R19",
       .pod = Pod(C("app", kCcEnv, kCcMount), "," + std::string(R"("volumes":[)") + kCcVolume + "]",
                  R"(,"labels":{"eks.amazonaws.com/pod-identity":"enabled"})"),
       .container_credentials = true,
       .patch =
           R"([{"op":"add","path":"/metadata/labels/eks.amazonaws.com~1pod-identity","value":"enabled"},)" +
           Containers(C("app", kCcEnv, kCcMount)) + "]",
       .changed = false},
  };
  return cases;
}

class GoldenTest : public ::testing::TestWithParam<Case> {};

TEST_P(GoldenTest, PatchMatchesTheReference) {
  const Case& c = GetParam();
  SCOPED_TRACE("rule " + c.rule);
  testing::FakeRandom random(0.5);
  auto pod = OJson::parse(c.pod);
  auto result = Mutate(pod,
                       {.namespace_name = "default",
                        .service_account = c.no_account ? nullptr : &c.account,
                        .container_credentials = c.container_credentials},
                       c.settings, random);
  ASSERT_TRUE(result) << result.error().ToString();
  if (c.patch.empty()) {
    EXPECT_EQ(result->mode, Mode::kNone);
    EXPECT_TRUE(result->patch.empty());
    return;
  }
  EXPECT_EQ(Json::parse(result->patch.dump()), Json::parse(c.patch))
      << "got:      " << result->patch.dump() << "\nexpected: " << c.patch;
  EXPECT_EQ(result->changed, c.changed);
  // Applying the patch keeps every container and gives a pod that mutates to nothing more.
  auto patched = Json::parse(pod.dump()).patch(Json::parse(result->patch.dump()));
  EXPECT_EQ(patched["spec"]["containers"].size(), pod["spec"]["containers"].size());
  auto again = Mutate(OJson::parse(patched.dump()),
                      {.namespace_name = "default",
                       .service_account = c.no_account ? nullptr : &c.account,
                       .container_credentials = c.container_credentials},
                      c.settings, random);
  ASSERT_TRUE(again);
  EXPECT_FALSE(again->changed) << "not idempotent: " << again->patch.dump();
}

INSTANTIATE_TEST_SUITE_P(Reference, GoldenTest, ::testing::ValuesIn(Cases()),
                         [](const ::testing::TestParamInfo<Case>& p) { return p.param.name; });

TEST(GoldenTest, HasAtLeast25Cases) { EXPECT_GE(Cases().size(), 25U); }

}  // namespace
}  // namespace podiam::webhook
