// `podiam iam create-oidc-provider|trust-policy|create-role`: wiring only; the policies are in
// oidc/trust_policy, the IAM calls in aws/iam_client (docs/irsa-self-hosted.md).
#include <openssl/evp.h>

#include <cstdio>
#include <cstdlib>
#include <thread>

#include "podiam/app/oidc.hpp"
#include "podiam/aws/credential_sources.hpp"
#include "podiam/aws/endpoint.hpp"
#include "podiam/aws/http_sts_client.hpp"
#include "podiam/aws/iam_client.hpp"
#include "podiam/aws/sigv4.hpp"
#include "podiam/base/clock.hpp"
#include "podiam/base/random.hpp"
#include "podiam/k8s/cluster_config.hpp"
#include "podiam/k8s/http_kube_api.hpp"
#include "podiam/k8s/metrics.hpp"
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

std::string Env(const char* name) {
  const char* v = std::getenv(name);  // NOLINT(concurrency-mt-unsafe): single-threaded here
  return v == nullptr ? std::string() : std::string(v);
}

std::string Sha1Hex(const std::string& der) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int len = 0;
  EVP_Digest(der.data(), der.size(), md.data(), &len, EVP_sha1(), nullptr);
  return aws::HexEncode(std::string(reinterpret_cast<const char*>(md.data()), len));  // NOLINT
}

// Everything the IAM subcommands share: own credentials, STS (account id), IAM.
struct IamClients {
  SystemClock clock;
  SystemRandom random;
  metrics::Registry registry;
  std::unique_ptr<transport::BeastHttpClient> http;
  std::unique_ptr<aws::StsMetrics> sts_metrics;
  std::unique_ptr<aws::HttpStsClient> unsigned_sts;
  std::unique_ptr<aws::CachingCredentialsProvider> own;
  std::unique_ptr<aws::HttpStsClient> sts;
  std::unique_ptr<aws::HttpIamClient> iam;
};

Result<std::unique_ptr<IamClients>> MakeIamClients(const cli::IamConfig& c) {
  auto s = std::make_unique<IamClients>();
  auto http = transport::BeastHttpClient::Create({.user_agent = "podiam-iam"});
  if (!http) {
    return tl::unexpected(http.error());
  }
  s->http = std::move(*http);
  std::string region = !c.region.empty() ? c.region : Env("AWS_REGION");
  if (region.empty()) {
    region = Env("AWS_DEFAULT_REGION").empty() ? "us-east-1" : Env("AWS_DEFAULT_REGION");
  }
  std::string sts_url = !c.sts_endpoint.empty() ? c.sts_endpoint : Env("AWS_ENDPOINT_URL_STS");
  auto sts_ep = aws::ResolveStsEndpoint({.region = region, .url_override = sts_url});
  if (!sts_ep) {
    return tl::unexpected(sts_ep.error());
  }
  std::string iam_url = !c.iam_endpoint.empty() ? c.iam_endpoint : Env("AWS_ENDPOINT_URL_IAM");
  auto iam_ep = aws::ResolveIamEndpoint(c.partition, iam_url);
  if (!iam_ep) {
    return tl::unexpected(iam_ep.error());
  }
  s->sts_metrics = std::make_unique<aws::StsMetrics>(s->registry);
  s->unsigned_sts =
      std::make_unique<aws::HttpStsClient>(*s->http, nullptr, *s->sts_metrics, s->clock, s->random,
                                           aws::HttpStsClientOptions{.endpoint = *sts_ep});
  s->own = std::make_unique<aws::CachingCredentialsProvider>(
      aws::NewDefaultCredentialsChain(
          {.http = *s->http, .web_identity_sts = *s->unsigned_sts, .clock = s->clock}),
      s->clock, s->random);
  s->sts = std::make_unique<aws::HttpStsClient>(*s->http, s->own.get(), *s->sts_metrics, s->clock,
                                                s->random,
                                                aws::HttpStsClientOptions{.endpoint = *sts_ep});
  s->iam = std::make_unique<aws::HttpIamClient>(*s->http, *s->own, s->clock, aws::RealSleeper(),
                                                *iam_ep);
  return s;
}

Result<std::string> AccountId(const cli::IamConfig& c, IamClients& aws) {
  if (!c.account_id.empty()) {
    return c.account_id;
  }
  auto who = aws.sts->GetCallerIdentity();
  if (!who) {
    return tl::unexpected(who.error().Wrap("finding the account (or give --account-id)"));
  }
  return who->account;
}

std::pair<std::string, std::string> SplitServiceAccount(const std::string& sa) {
  auto slash = sa.find('/');
  return {sa.substr(0, slash), sa.substr(slash + 1)};
}

int CreateProvider(const cli::IamConfig& c, const oidc::Issuer& issuer, IamClients& aws) {
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
  auto arns = aws.iam->ListOidcProviders();
  if (!arns) {
    return Fail(arns.error().message());
  }
  const std::string suffix = ":oidc-provider/" + issuer.host_path;
  for (const auto& arn : *arns) {
    if (!arn.ends_with(suffix)) {
      continue;
    }
    auto existing = aws.iam->GetOidcProvider(arn);
    if (!existing) {
      return Fail(existing.error().message());
    }
    bool changed = false;
    for (const auto& aud : c.audiences) {
      if (std::find(existing->client_ids.begin(), existing->client_ids.end(), aud) ==
          existing->client_ids.end()) {
        if (auto ok = aws.iam->AddClientId(arn, aud); !ok) {
          return Fail(ok.error().message());
        }
        changed = true;
      }
    }
    if (!thumbprints.empty() && existing->thumbprints != thumbprints) {
      if (auto ok = aws.iam->UpdateThumbprints(arn, thumbprints); !ok) {
        return Fail(ok.error().message());
      }
      changed = true;
    }
    std::printf("%s OIDC provider %s\n", changed ? "updated" : "unchanged", arn.c_str());
    return 0;
  }
  auto arn = aws.iam->CreateOidcProvider(issuer.url, c.audiences, thumbprints);
  if (!arn) {
    return Fail(arn.error().message());
  }
  std::printf("created OIDC provider %s\n", arn->c_str());
  return 0;
}

Result<void> Annotate(const cli::IamConfig& c, const std::string& role_arn, IamClients& aws) {
  auto cluster = k8s::LoadClusterConfig({.kubeconfig = c.kubeconfig}, aws.clock);
  if (!cluster) {
    return tl::unexpected(cluster.error().Wrap("kubernetes config"));
  }
  auto http =
      transport::BeastHttpClient::Create({.ca_file = cluster->ca_file,
                                          .client_cert_file = cluster->client_cert_file,
                                          .client_key_file = cluster->client_key_file,
                                          .insecure_skip_verify = cluster->insecure_skip_tls_verify,
                                          .user_agent = "podiam-iam"});
  if (!http) {
    return tl::unexpected(http.error());
  }
  k8s::K8sMetrics metrics(aws.registry);
  k8s::HttpKubeApi kube(**http, *cluster, metrics, aws.clock);
  auto [ns, name] = SplitServiceAccount(c.service_account);
  // A JSON merge patch touches only this annotation (docs/irsa-self-hosted.md).
  k8s::Json patch = {{"metadata", {{"annotations", {{kRoleArnAnnotation, role_arn}}}}}};
  auto patched = kube.MergePatch(k8s::resources::ServiceAccounts(), ns, name, patch);
  if (!patched) {
    if (patched.error().code() == ErrorCode::kNotFound) {
      return MakeError(ErrorCode::kNotFound, "ServiceAccount " + c.service_account +
                                                 " does not exist: create it, then run again");
    }
    return tl::unexpected(patched.error().Wrap("annotating ServiceAccount " + c.service_account));
  }
  return {};
}

int CreateRole(const cli::IamConfig& c, const oidc::Issuer& issuer, IamClients& aws) {
  auto account = AccountId(c, aws);
  if (!account) {
    return Fail(account.error().message());
  }
  std::string provider_arn = oidc::OidcProviderArn(c.partition, *account, issuer.host_path);
  if (auto provider = aws.iam->GetOidcProvider(provider_arn); !provider) {
    if (provider.error().upstream_code() == "NoSuchEntity") {
      return Fail("no IAM OIDC provider " + provider_arn +
                  ": run podiam iam create-oidc-provider --issuer " + issuer.url + " first");
    }
    return Fail(provider.error().message());
  }
  auto [ns, name] = SplitServiceAccount(c.service_account);
  std::string policy =
      oidc::ServiceAccountTrustPolicy(provider_arn, issuer, ns, name, c.audiences.front()).dump();
  auto role = aws.iam->GetRole(c.role_name);
  if (!role && role.error().upstream_code() == "NoSuchEntity") {
    role = aws.iam->CreateRole(c.role_name, c.role_path, policy,
                               "IRSA role for ServiceAccount " + c.service_account);
    if (role) {
      std::printf("created role %s\n", role->arn.c_str());
    }
  } else if (role && !oidc::SamePolicy(role->assume_role_policy, policy)) {
    if (auto ok = aws.iam->UpdateAssumeRolePolicy(c.role_name, policy); !ok) {
      return Fail(ok.error().message());
    }
    std::printf("updated the trust policy of role %s\n", role->arn.c_str());
  } else if (role) {
    std::printf("unchanged role %s\n", role->arn.c_str());
  }
  if (!role) {
    return Fail(role.error().message());
  }
  auto attached = aws.iam->ListAttachedRolePolicies(c.role_name);
  if (!attached) {
    return Fail(attached.error().message());
  }
  for (const auto& arn : c.policy_arns) {
    if (std::find(attached->begin(), attached->end(), arn) != attached->end()) {
      std::printf("already attached %s\n", arn.c_str());
      continue;
    }
    if (auto ok = aws.iam->AttachRolePolicy(c.role_name, arn); !ok) {
      return Fail(ok.error().message());
    }
    std::printf("attached %s\n", arn.c_str());
  }
  if (c.annotate) {
    if (auto ok = Annotate(c, role->arn, aws); !ok) {
      return Fail(ok.error().message());
    }
    std::printf("annotated ServiceAccount %s with %s=%s\n", c.service_account.c_str(),
                kRoleArnAnnotation, role->arn.c_str());
  }
  return 0;
}

int TrustPolicy(const cli::IamConfig& c, IamClients& aws) {
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
  auto aws = MakeIamClients(c);
  if (!aws) {
    return Fail(aws.error().message());
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
