// `podiam explain trust`: wiring only; the requirement and the comparison are in explain/trust
// (docs/explain.md §trust). IAM GetRole is signed with podiam's own credential chain, at
// --iam-endpoint, else $AWS_ENDPOINT_URL_IAM, else the partition's endpoint (as podiam iam).
#include <cstdio>

#include "podiam/app/aws_stack.hpp"
#include "podiam/app/explain.hpp"
#include "podiam/aws/arn.hpp"
#include "podiam/aws/environment.hpp"
#include "podiam/base/clock.hpp"
#include "podiam/base/log.hpp"
#include "podiam/base/random.hpp"
#include "podiam/explain/trust.hpp"
#include "podiam/metrics/registry.hpp"
#include "podiam/transport/http_client.hpp"

namespace podiam::app {
namespace {

Result<std::string> ActualTrust(const cli::ExplainConfig& c, const std::string& role_name) {
  SystemClock clock;
  SystemRandom random;
  metrics::Registry registry;
  auto http = transport::BeastHttpClient::Create({.user_agent = "podiam-explain"});
  if (!http) {
    return tl::unexpected(http.error());
  }
  const aws::Environment env = aws::ProcessEnvironment();
  auto aws = AwsStack::Create({.http = **http,
                               .clock = clock,
                               .random = random,
                               .registry = registry,
                               .env = env,
                               .log_component = "explain",
                               .log_region = false},
                              {}, /*node_imds=*/nullptr, /*session_name=*/"");
  if (!aws) {
    return tl::unexpected(aws.error());
  }
  std::string endpoint = !c.iam_endpoint.empty()
                             ? c.iam_endpoint
                             : aws::NonEmpty(env, "AWS_ENDPOINT_URL_IAM").value_or("");
  if (auto ok = (*aws)->AddIam(c.partition, endpoint); !ok) {
    return tl::unexpected(ok.error());
  }
  auto role = (*aws)->iam().GetRole(role_name);
  if (!role) {
    return tl::unexpected(role.error());
  }
  return role->assume_role_policy;
}

}  // namespace

int RunExplainTrust(const cli::ExplainConfig& c) {
  log::Logger log("explain");
  auto need = explain::TrustRequirementFor({.path = c.trust_path,
                                            .role_arn = c.trust_role,
                                            .principal_arn = c.principal_arn,
                                            .issuer = c.issuer,
                                            .namespace_name = c.namespace_name,
                                            .service_account = c.service_account,
                                            .audience = c.audience,
                                            .external_id = c.external_id,
                                            .session_tags = c.session_tags});
  if (!need) {
    std::fprintf(stderr, "podiam: explain trust: %s\n", need.error().message().c_str());
    return 2;
  }
  explain::TrustReport report{.need = *need};
  if (c.check) {
    auto role = aws::ParseRoleArn(c.trust_role);  // checked by TrustRequirementFor
    auto actual = ActualTrust(c, role->name);
    if (!actual) {
      log.Error("cannot check the trust policy",
                {{"role", c.trust_role}, {"error", actual.error().message()}});
      return 1;
    }
    report.checked = true;
    report.actual = std::move(*actual);
    report.findings = explain::CheckTrust(*need, report.actual);
  }
  std::string text =
      c.output == "json" ? explain::RenderTrustJson(report) : explain::RenderTrustText(report);
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
  return explain::TrustExitCode(report);
}

}  // namespace podiam::app
