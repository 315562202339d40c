// `podiam iam create-oidc-provider|trust-policy|create-role`: wiring only; the policies are in
// oidc/trust_policy, the IAM calls in aws/iam_client (docs/irsa-self-hosted.md).
#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>

#include "podiam/app/aws_stack.hpp"
#include "podiam/app/kube_stack.hpp"
#include "podiam/app/oidc.hpp"
#include "podiam/aws/environment.hpp"
#include "podiam/aws/sigv4.hpp"
#include "podiam/base/clock.hpp"
#include "podiam/base/random.hpp"
#include "podiam/k8s/resource.hpp"
#include "podiam/metrics/registry.hpp"
#include "podiam/oidc/trust_policy.hpp"
#include "podiam/transport/cert_chain.hpp"
#include "podiam/transport/http_client.hpp"

namespace podiam::app {
namespace {

constexpr const char* kRoleArnAnnotation = "eks.amazonaws.com/role-arn";

int Fail(const std::string& what) {
  std::fprintf(stderr, "podiam: %s\n", what.c_str());
  return 1;
}

std::string Sha1Hex(const std::string& der) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int len = 0;
  EVP_Digest(der.data(), der.size(), md.data(), &len, EVP_sha1(), nullptr);
  return aws::HexEncode(std::string(reinterpret_cast<const char*>(md.data()), len));  // NOLINT
}

Result<std::string> AccountId(const cli::IamConfig& c, AwsStack& aws) {
  if (!c.account_id.empty()) {
    return c.account_id;
  }
  auto who = aws.sts().GetCallerIdentity();
  if (!who) {
    return tl::unexpected(who.error().Wrap("finding the account (or give --account-id)"));
  }
  return who->account;
}

std::pair<std::string, std::string> SplitServiceAccount(const std::string& sa) {
  auto slash = sa.find('/');
  return {sa.substr(0, slash), sa.substr(slash + 1)};
}

int CreateProvider(const cli::IamConfig& c, const oidc::Issuer& issuer, AwsStack& aws) {
  std::vector<std::string> thumbprints;
  if (c.thumbprint == "auto") {
    std::string address;
    std::uint16_t port = 443;
    if (!c.tls_address.empty()) {
      auto colon = c.tls_address.rfind(':');
      address = c.tls_address.substr(0, colon);
      port = static_cast<std::uint16_t>(std::atoi(c.tls_address.c_str() + colon + 1));
    }
    auto chain = transport::FetchPeerChain({.host = issuer.host, .port = port, .address = address});
    if (!chain) {
      return Fail(chain.error().message() + " (for --thumbprint auto; or give --thumbprint)");
    }
    thumbprints.push_back(Sha1Hex(chain->back()));
    std::printf("thumbprint %s (SHA-1 of certificate %zu of %zu that %s presents)\n",
                thumbprints[0].c_str(), chain->size(), chain->size(), issuer.host.c_str());
  } else if (c.thumbprint != "none") {
    std::string lower = c.thumbprint;
    for (auto& ch : lower) {
      ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    }
    thumbprints.push_back(lower);
  }
  auto arns = aws.iam().ListOidcProviders();
  if (!arns) {
    return Fail(arns.error().message());
  }
  const std::string suffix = ":oidc-provider/" + issuer.host_path;
  for (const auto& arn : *arns) {
    if (!arn.ends_with(suffix)) {
      continue;
    }
    auto existing = aws.iam().GetOidcProvider(arn);
    if (!existing) {
      return Fail(existing.error().message());
    }
    bool changed = false;
    for (const auto& aud : c.audiences) {
      if (std::find(existing->client_ids.begin(), existing->client_ids.end(), aud) ==
          existing->client_ids.end()) {
        if (auto ok = aws.iam().AddClientId(arn, aud); !ok) {
          return Fail(ok.error().message());
        }
        changed = true;
      }
    }
    if (!thumbprints.empty() && existing->thumbprints != thumbprints) {
      if (auto ok = aws.iam().UpdateThumbprints(arn, thumbprints); !ok) {
        return Fail(ok.error().message());
      }
      changed = true;
    }
    std::printf("%s OIDC provider %s\n", changed ? "updated" : "unchanged", arn.c_str());
    return 0;
  }
  auto arn = aws.iam().CreateOidcProvider(issuer.url, c.audiences, thumbprints);
  if (!arn) {
    return Fail(arn.error().message());
  }
  std::printf("created OIDC provider %s\n", arn->c_str());
  return 0;
}

Result<void> Annotate(const cli::IamConfig& c, const std::string& role_arn) {
  SystemClock clock;
  SystemRandom random;
  metrics::Registry registry;
  auto kube =
      KubeStack::Connect({.kubeconfig = c.kubeconfig}, clock, random, registry, "podiam-iam");
  if (!kube) {
    return tl::unexpected(kube.error());
  }
  auto [ns, name] = SplitServiceAccount(c.service_account);
  // A JSON merge patch touches only this annotation (docs/irsa-self-hosted.md).
  k8s::Json patch = {{"metadata", {{"annotations", {{kRoleArnAnnotation, role_arn}}}}}};
  auto patched = (*kube)->api().MergePatch(k8s::resources::ServiceAccounts(), ns, name, patch);
  if (!patched) {
    if (patched.error().code() == ErrorCode::kNotFound) {
      return MakeError(ErrorCode::kNotFound, "ServiceAccount " + c.service_account +
                                                 " does not exist: create it, then run again");
    }
    return tl::unexpected(patched.error().Wrap("annotating ServiceAccount " + c.service_account));
  }
  return {};
}

int CreateRole(const cli::IamConfig& c, const oidc::Issuer& issuer, AwsStack& aws) {
  auto account = AccountId(c, aws);
  if (!account) {
    return Fail(account.error().message());
  }
  std::string provider_arn = oidc::OidcProviderArn(c.partition, *account, issuer.host_path);
  if (auto provider = aws.iam().GetOidcProvider(provider_arn); !provider) {
    if (provider.error().upstream_code() == "NoSuchEntity") {
      return Fail("no IAM OIDC provider " + provider_arn +
                  ": run podiam iam create-oidc-provider --issuer " + issuer.url + " first");
    }
    return Fail(provider.error().message());
  }
  auto [ns, name] = SplitServiceAccount(c.service_account);
  std::string policy =
      oidc::ServiceAccountTrustPolicy(provider_arn, issuer, ns, name, c.audiences.front()).dump();
  auto role = aws.iam().GetRole(c.role_name);
  if (!role && role.error().upstream_code() == "NoSuchEntity") {
    role = aws.iam().CreateRole(c.role_name, c.role_path, policy,
                                "IRSA role for ServiceAccount " + c.service_account);
    if (role) {
      std::printf("created role %s\n", role->arn.c_str());
    }
  } else if (role && !oidc::SamePolicy(role->assume_role_policy, policy)) {
    if (auto ok = aws.iam().UpdateAssumeRolePolicy(c.role_name, policy); !ok) {
      return Fail(ok.error().message());
    }
    std::printf("updated the trust policy of role %s\n", role->arn.c_str());
  } else if (role) {
    std::printf("unchanged role %s\n", role->arn.c_str());
  }
  if (!role) {
    return Fail(role.error().message());
  }
  auto attached = aws.iam().ListAttachedRolePolicies(c.role_name);
  if (!attached) {
    return Fail(attached.error().message());
  }
  for (const auto& arn : c.policy_arns) {
    if (std::find(attached->begin(), attached->end(), arn) != attached->end()) {
      std::printf("already attached %s\n", arn.c_str());
      continue;
    }
    if (auto ok = aws.iam().AttachRolePolicy(c.role_name, arn); !ok) {
      return Fail(ok.error().message());
    }
    std::printf("attached %s\n", arn.c_str());
  }
  if (c.annotate) {
    if (auto ok = Annotate(c, role->arn); !ok) {
      return Fail(ok.error().message());
    }
    std::printf("annotated ServiceAccount %s with %s=%s\n", c.service_account.c_str(),
                kRoleArnAnnotation, role->arn.c_str());
  }
  return 0;
}

int TrustPolicy(const cli::IamConfig& c, AwsStack& aws) {
  if (!c.principal.empty()) {
    std::printf("%s\n", oidc::PrincipalTrustPolicy(c.principal).dump(2).c_str());
    return 0;
  }
  auto issuer = oidc::ParseIssuer(c.issuer);
  auto account = AccountId(c, aws);
  if (!account) {
    return Fail(account.error().message());
  }
  auto [ns, name] = SplitServiceAccount(c.service_account);
  std::string arn = oidc::OidcProviderArn(c.partition, *account, issuer->host_path);
  std::printf(
      "%s\n",
      oidc::ServiceAccountTrustPolicy(arn, *issuer, ns, name, c.audiences.front()).dump(2).c_str());
  return 0;
}

}  // namespace

int RunIam(const cli::GlobalConfig& /*global*/, const cli::IamConfig& c) {
  SystemClock clock;
  SystemRandom random;
  metrics::Registry registry;
  auto http = transport::BeastHttpClient::Create({.user_agent = "podiam-iam"});
  if (!http) {
    return Fail(http.error().message());
  }
  // Run by a person like the AWS CLI: its $AWS_ENDPOINT_URL_<SERVICE> apply (docs/oidc.md).
  const aws::Environment env = aws::ProcessEnvironment();
  auto endpoint = [&env](const std::string& flag, const char* variable) {
    return !flag.empty() ? flag : aws::NonEmpty(env, variable).value_or("");
  };
  auto aws = AwsStack::Create(
      {.http = **http,
       .clock = clock,
       .random = random,
       .registry = registry,
       .env = env,
       .log_component = "iam",
       .log_region = false},
      {.region = c.region, .sts_endpoint = endpoint(c.sts_endpoint, "AWS_ENDPOINT_URL_STS")},
      /*node_imds=*/nullptr, /*session_name=*/"");
  if (!aws) {
    return Fail(aws.error().message());
  }
  if (auto ok = (*aws)->AddIam(c.partition, endpoint(c.iam_endpoint, "AWS_ENDPOINT_URL_IAM"));
      !ok) {
    return Fail(ok.error().message());
  }
  if (c.action == "trust-policy") {
    return TrustPolicy(c, **aws);
  }
  auto issuer = oidc::ParseIssuer(c.issuer);  // checked at parse time
  if (!issuer) {
    return Fail(issuer.error().message());
  }
  if (c.action == "create-oidc-provider") {
    return CreateProvider(c, *issuer, **aws);
  }
  return CreateRole(c, *issuer, **aws);
}

}  // namespace podiam::app
