#include "podiam/explain/trust.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace podiam::explain {
namespace {

using ::testing::HasSubstr;

constexpr const char* kRole = "arn:aws:iam::123456789012:role/app";
constexpr const char* kAgent = "arn:aws:iam::123456789012:role/podiam-agent";
constexpr const char* kIssuer = "https://oidc.example.com/c";
constexpr const char* kProvider = "arn:aws:iam::123456789012:oidc-provider/oidc.example.com/c";

TrustRequirement Need(const TrustInputs& in) {
  auto need = TrustRequirementFor(in);
  EXPECT_TRUE(need.has_value()) << (need ? "" : need.error().message());
  return *need;
}

TrustRequirement Irsa() {
  return Need({.path = "irsa",
               .role_arn = kRole,
               .issuer = kIssuer,
               .namespace_name = "ns",
               .service_account = "web"});
}
TrustRequirement ContainerCredentials() {
  return Need({.path = "container-credentials", .role_arn = kRole, .principal_arn = kAgent});
}
TrustRequirement Imds(bool tags) {
  return Need({.path = "imds", .role_arn = kRole, .principal_arn = kAgent, .session_tags = tags});
}
TrustRequirement Controller(bool tags = false) {
  return Need({.path = "controller",
               .role_arn = kRole,
               .principal_arn = "arn:aws:iam::123456789012:role/podiam-controller",
               .external_id = "team-a/prod",
               .session_tags = tags});
}

std::string Statement(const std::string& principal, const std::string& action,
                      const std::string& condition = "") {
  return R"({"Effect":"Allow","Principal":)" + principal + R"(,"Action":)" + action +
         (condition.empty() ? "" : R"(,"Condition":)" + condition) + "}";
}
std::string Policy(const std::string& statements) {
  return R"({"Version":"2012-10-17","Statement":[)" + statements + "]}";
}

const std::string kAgentP = std::string(R"({"AWS":")") + kAgent + "\"}";
const std::string kProviderP = std::string(R"({"Federated":")") + kProvider + "\"}";
const std::string kIrsaCond =
    R"({"StringEquals":{"oidc.example.com/c:sub":"system:serviceaccount:ns:web","oidc.example.com/c:aud":"sts.amazonaws.com"}})";

struct Case {
  const char* name;
  TrustRequirement need;
  std::string actual;
  std::vector<std::string> checks;  // expected finding checks, in order
  const char* detail = "";          // a substring of the first finding's detail
};

TEST(CheckTrustTest, Table) {
  const std::string web = R"("sts:AssumeRoleWithWebIdentity")";
  const std::vector<Case> cases = {
      {"irsa: the generated policy", Irsa(), Irsa().policy.dump(), {}},
      {"irsa: StringLike with a wildcard sub",
       Irsa(),
       Policy(Statement(
           kProviderP, web,
           R"({"StringLike":{"oidc.example.com/c:sub":"system:serviceaccount:ns:*"},"StringEquals":{"oidc.example.com/c:aud":"sts.amazonaws.com"}})")),
       {}},
      {"irsa: condition keys are case-insensitive",
       Irsa(),
       Policy(Statement(
           kProviderP, web,
           R"({"StringEquals":{"OIDC.example.com/c:SUB":"system:serviceaccount:ns:web","oidc.example.com/c:aud":"sts.amazonaws.com"}})")),
       {}},
      {"irsa: wrong aud",
       Irsa(),
       Policy(Statement(
           kProviderP, web,
           R"({"StringEquals":{"oidc.example.com/c:sub":"system:serviceaccount:ns:web","oidc.example.com/c:aud":"wrong"}})")),
       {"condition"},
       "oidc.example.com/c:aud is StringEquals 'wrong'; needs 'sts.amazonaws.com'"},
      {"irsa: missing aud",
       Irsa(),
       Policy(Statement(
           kProviderP, web,
           R"({"StringEquals":{"oidc.example.com/c:sub":"system:serviceaccount:ns:web"}})")),
       {"condition"},
       "no condition on oidc.example.com/c:aud"},
      {"irsa: wrong sub and aud",
       Irsa(),
       Policy(Statement(
           kProviderP, web,
           R"({"StringEquals":{"oidc.example.com/c:sub":"system:serviceaccount:ns:other"}})")),
       {"condition", "condition"},
       "system:serviceaccount:ns:other"},
      {"irsa: StringNotEquals is not a requirement",
       Irsa(),
       Policy(Statement(
           kProviderP, web,
           R"({"StringNotEquals":{"oidc.example.com/c:sub":"x"},"StringEquals":{"oidc.example.com/c:aud":"sts.amazonaws.com"}})")),
       {"condition"},
       "no condition on oidc.example.com/c:sub"},
      {"irsa: another provider",
       Irsa(),
       Policy(Statement(R"({"Federated":"arn:aws:iam::123456789012:oidc-provider/other"})", web,
                        kIrsaCond)),
       {"principal"},
       kProvider},
      {"irsa: AssumeRole is not web identity",
       Irsa(),
       Policy(Statement(kProviderP, R"("sts:AssumeRole")", kIrsaCond)),
       {"principal"}},
      {"irsa: Deny is not Allow",
       Irsa(),
       R"({"Statement":[{"Effect":"Deny","Principal":)" + kProviderP +
           R"(,"Action":"sts:AssumeRoleWithWebIdentity"}]})",
       {"principal"}},
      {"irsa: the best of two statements",
       Irsa(),
       Policy(Statement(kProviderP, web) + "," + Statement(kProviderP, web, kIrsaCond)),
       {}},
      {"irsa: a single statement object",
       Irsa(),
       R"({"Statement":)" + Statement(kProviderP, web, kIrsaCond) + "}",
       {}},
      {"container-credentials: the generated policy",
       ContainerCredentials(),
       ContainerCredentials().policy.dump(),
       {}},
      {"container-credentials: no TagSession",
       ContainerCredentials(),
       Policy(Statement(kAgentP, R"("sts:AssumeRole")")),
       {"tag-session"},
       "sts:TagSession"},
      {"container-credentials: TagSession in its own statement",
       ContainerCredentials(),
       Policy(Statement(kAgentP, R"("sts:AssumeRole")") + "," +
              Statement(kAgentP, R"(["sts:TagSession"])")),
       {}},
      {"container-credentials: sts:* covers both",
       ContainerCredentials(),
       Policy(Statement(kAgentP, R"("sts:*")")),
       {}},
      {"container-credentials: action case-insensitive",
       ContainerCredentials(),
       Policy(Statement(kAgentP, R"(["STS:assumerole","sts:tagsession"])")),
       {}},
      {"container-credentials: account root trusts the agent",
       ContainerCredentials(),
       Policy(Statement(R"({"AWS":"arn:aws:iam::123456789012:root"})",
                        R"(["sts:AssumeRole","sts:TagSession"])")),
       {}},
      {"container-credentials: bare account id",
       ContainerCredentials(),
       Policy(Statement(R"({"AWS":["111111111111","123456789012"]})",
                        R"(["sts:AssumeRole","sts:TagSession"])")),
       {}},
      {"container-credentials: Principal *",
       ContainerCredentials(),
       Policy(Statement(R"("*")", R"(["sts:AssumeRole","sts:TagSession"])")),
       {}},
      {"container-credentials: another account's root",
       ContainerCredentials(),
       Policy(Statement(R"({"AWS":"arn:aws:iam::999999999999:root"})",
                        R"(["sts:AssumeRole","sts:TagSession"])")),
       {"principal", "tag-session"}},
      {"container-credentials: EKS service principal",
       ContainerCredentials(),
       Policy(Statement(R"({"Service":"pods.eks.amazonaws.com"})",
                        R"(["sts:AssumeRole","sts:TagSession"])")),
       {"principal", "tag-session"},
       "no Allow statement lets AWS arn:aws:iam::123456789012:role/podiam-agent call "
       "sts:AssumeRole"},
      {"imds: no tags needed without --session-tags",
       Imds(false),
       Policy(Statement(kAgentP, R"("sts:AssumeRole")")),
       {}},
      {"imds: tags needed with --session-tags",
       Imds(true),
       Policy(Statement(kAgentP, R"("sts:AssumeRole")")),
       {"tag-session"}},
      {"imds: wildcard action sts:Assume*",
       Imds(false),
       Policy(Statement(kAgentP, R"("sts:Assume*")")),
       {}},
      {"controller: the generated policy", Controller(), Controller().policy.dump(), {}},
      {"controller: no ExternalId",
       Controller(),
       Policy(Statement(R"({"AWS":"arn:aws:iam::123456789012:role/podiam-controller"})",
                        R"("sts:AssumeRole")")),
       {"condition"},
       "no condition on sts:ExternalId (needs StringEquals 'team-a/prod')"},
      {"controller with --session-tags: the generated policy",
       Controller(true),
       Controller(true).policy.dump(),
       {}},
      {"controller with --session-tags: no sts:TagSession",
       Controller(true),
       Policy(Statement(R"({"AWS":"arn:aws:iam::123456789012:role/podiam-controller"})",
                        R"("sts:AssumeRole")",
                        R"({"StringEquals":{"sts:ExternalId":"team-a/prod"}})")),
       {"tag-session"}},
      {"controller: another ExternalId",
       Controller(),
       Policy(Statement(R"({"AWS":"arn:aws:iam::123456789012:role/podiam-controller"})",
                        R"("sts:AssumeRole")",
                        R"({"StringEquals":{"sts:ExternalId":"team-b/prod"}})")),
       {"condition"},
       "'team-b/prod'"},
      {"not JSON", Imds(false), "{", {"policy"}},
      {"JSON but not an object", Imds(false), "[1]", {"policy"}},
      {"no statements", Imds(false), "{}", {"principal"}},
      {"an Effect that is not a string",
       Imds(false),
       R"({"Statement":[{"Effect":["Allow"],"Principal":"*","Action":"*"}]})",
       {"principal"}},
      {"odd element types are ignored",
       Irsa(),
       R"({"Statement":[1,{"Effect":"Allow","Principal":{"Federated":[1,null]},"Action":7,"Condition":[]}]})",
       {"principal"}},
  };
  for (const auto& c : cases) {
    auto findings = CheckTrust(c.need, c.actual);
    std::vector<std::string> checks;
    for (const auto& f : findings) {
      checks.push_back(f.check);
    }
    EXPECT_EQ(checks, c.checks) << c.name;
    if (!findings.empty() && *c.detail != '\0') {
      EXPECT_THAT(findings.front().detail, HasSubstr(c.detail)) << c.name;
    }
  }
}

TEST(TrustRequirementTest, IrsaIsTheIamTrustPolicyOfTheRolesAccount) {
  auto need = Irsa();
  EXPECT_EQ(need.principal, kProvider);
  EXPECT_EQ(need.policy["Statement"][0]["Principal"]["Federated"], kProvider);
  EXPECT_EQ(need.policy["Statement"][0]["Condition"]["StringEquals"]["oidc.example.com/c:aud"],
            "sts.amazonaws.com");
}

TEST(TrustRequirementTest, UsageErrors) {
  EXPECT_FALSE(TrustRequirementFor({.path = "imds", .role_arn = "nope", .principal_arn = kAgent}));
  EXPECT_FALSE(TrustRequirementFor({.path = "imds", .role_arn = kRole}));
  EXPECT_FALSE(TrustRequirementFor({.path = "irsa", .role_arn = kRole, .issuer = kIssuer}));
  EXPECT_FALSE(TrustRequirementFor({.path = "irsa",
                                    .role_arn = kRole,
                                    .issuer = "http://x",
                                    .namespace_name = "a",
                                    .service_account = "b"}));
  EXPECT_FALSE(
      TrustRequirementFor({.path = "controller", .role_arn = kRole, .principal_arn = kAgent}));
  EXPECT_FALSE(TrustRequirementFor({.path = "ec2", .role_arn = kRole, .principal_arn = kAgent}));
  auto e = TrustRequirementFor({.path = "imds", .role_arn = kRole});
  EXPECT_THAT(e.error().message(), HasSubstr("--principal-arn"));
}

TEST(RenderTrustTest, JsonAndText) {
  TrustReport r{.need = Irsa(), .checked = true, .findings = {{"condition", "bad \x1b[2J"}}};
  auto json = nlohmann::json::parse(RenderTrustJson(r));
  EXPECT_EQ(json["kind"], "trust");
  EXPECT_EQ(json["path"], "irsa");
  EXPECT_EQ(json["checked"], true);
  EXPECT_EQ(json["findings"][0]["check"], "condition");
  EXPECT_EQ(json["required_policy"], nlohmann::json::parse(Irsa().policy.dump()));
  std::string text = RenderTrustText(r);
  EXPECT_THAT(text, HasSubstr("NO  condition"));
  EXPECT_THAT(text, HasSubstr("bad ?[2J"));
  EXPECT_THAT(text, HasSubstr("verdict trust: 1 finding(s)"));
  EXPECT_EQ(TrustExitCode(r), 1);
  r.findings.clear();
  EXPECT_EQ(TrustExitCode(r), 0);
  EXPECT_THAT(RenderTrustText(r), HasSubstr("verdict trust: OK"));
}

}  // namespace
}  // namespace podiam::explain
