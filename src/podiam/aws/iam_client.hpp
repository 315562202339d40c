// HttpIamClient: the IAM calls `podiam iam` makes, over http::HttpClient: form-encoded POSTs
// signed with SigV4 (service "iam") using podiam's own credential chain, XML replies parsed by
// iam_codec. IAM is a global service: one endpoint per partition, signed for that partition's
// home region (docs/oidc.md §IAM); the URL can be overridden (moto in tests, VPC endpoints).
// Throttling and 5xx are retried a few times; every other error comes back with IAM's code.
//
// Thread-safety: one caller at a time (a command-line tool).
//
//   auto ep = aws::ResolveIamEndpoint("aws", "");   // https://iam.amazonaws.com/, us-east-1
//   aws::HttpIamClient iam(http, own_credentials, clock, sleeper, *ep);
//   auto arn = iam.CreateOidcProvider("https://oidc.example.com/c", {"sts.amazonaws.com"}, {});
#pragma once

#include <string>
#include <vector>

#include "podiam/aws/credentials_provider.hpp"
#include "podiam/aws/http_sts_client.hpp"
#include "podiam/aws/iam_codec.hpp"
#include "podiam/base/clock.hpp"
#include "podiam/http/client.hpp"

namespace podiam::aws {

struct IamEndpoint {
  std::string url;  // ends with '/'
  std::string signing_region;
};

// aws: https://iam.amazonaws.com/ (us-east-1); aws-cn: https://iam.cn-north-1.amazonaws.com.cn/
// (cn-north-1); aws-us-gov: https://iam.us-gov.amazonaws.com/ (us-gov-west-1). An override URL
// keeps the partition's signing region.
Result<IamEndpoint> ResolveIamEndpoint(std::string_view partition, std::string_view url_override);

class HttpIamClient {
 public:
  HttpIamClient(http::HttpClient& http, CredentialsProvider& signer, const Clock& clock,
                Sleeper sleep, IamEndpoint endpoint);

  Result<std::string> CreateOidcProvider(const std::string& url,
                                         const std::vector<std::string>& client_ids,
                                         const std::vector<std::string>& thumbprints);
  Result<std::vector<std::string>> ListOidcProviders();
  Result<IamOidcProvider> GetOidcProvider(const std::string& arn);
  Result<void> AddClientId(const std::string& arn, const std::string& client_id);
  Result<void> UpdateThumbprints(const std::string& arn,
                                 const std::vector<std::string>& thumbprints);
  Result<IamRole> CreateRole(const std::string& name, const std::string& path,
                             const std::string& trust_policy, const std::string& description);
  Result<IamRole> GetRole(const std::string& name);
  Result<void> UpdateAssumeRolePolicy(const std::string& name, const std::string& trust_policy);
  Result<void> AttachRolePolicy(const std::string& name, const std::string& policy_arn);
  Result<std::vector<std::string>> ListAttachedRolePolicies(const std::string& name);

 private:
  // Sends with retries; the 200 body, or the IAM error.
  Result<std::string> Call(std::string_view action, const FormParams& params);

  http::HttpClient& http_;
  CredentialsProvider& signer_;
  const Clock& clock_;
  Sleeper sleep_;
  IamEndpoint endpoint_;
};

}  // namespace podiam::aws
