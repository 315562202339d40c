#include "podiam/aws/iam_client.hpp"

#include "podiam/aws/sigv4.hpp"

namespace podiam::aws {

Result<IamEndpoint> ResolveIamEndpoint(std::string_view partition, std::string_view url_override) {
  IamEndpoint ep;
  if (partition == "aws") {
    ep = {"https://iam.amazonaws.com/", "us-east-1"};
  } else if (partition == "aws-cn") {
    ep = {"https://iam.cn-north-1.amazonaws.com.cn/", "cn-north-1"};
  } else if (partition == "aws-us-gov") {
    ep = {"https://iam.us-gov.amazonaws.com/", "us-gov-west-1"};
  } else {
    return MakeError(ErrorCode::kInvalidArgument,
                     "unknown partition " + std::string(partition) + " (aws, aws-cn, aws-us-gov)");
  }
  if (!url_override.empty()) {
    if (!url_override.starts_with("http://") && !url_override.starts_with("https://")) {
      return MakeError(ErrorCode::kInvalidArgument, "IAM endpoint must be an http(s) URL");
    }
    ep.url = std::string(url_override);
    if (!ep.url.ends_with('/')) {
      ep.url += '/';
    }
  }
  return ep;
}

HttpIamClient::HttpIamClient(http::HttpClient& http, CredentialsProvider& signer,
                             const Clock& clock, Sleeper sleep, IamEndpoint endpoint)
    : http_(http),
      signer_(signer),
      clock_(clock),
      sleep_(std::move(sleep)),
      endpoint_(std::move(endpoint)) {}

Result<std::string> HttpIamClient::Call(std::string_view action, const FormParams& params) {
  constexpr int kAttempts = 4;
  Error last(ErrorCode::kInternal, "no attempt");
  for (int attempt = 1; attempt <= kAttempts; ++attempt) {
    if (attempt > 1) {
      sleep_(std::chrono::milliseconds(200 << (attempt - 2)));
    }
    auto creds = signer_.Get();
    if (!creds) {
      return tl::unexpected(creds.error().Wrap("podiam's own AWS credentials"));
    }
    http::ClientRequest request{.method = "POST",
                                .url = endpoint_.url,
                                .body = EncodeIam(action, params),
                                .timeout = std::chrono::seconds(10)};
    request.headers.Set("Content-Type", kFormContentType);
    auto signature =
        SignRequest(request, *creds,
                    {.region = endpoint_.signing_region, .service = "iam", .time = clock_.Now()});
    if (!signature) {
      return tl::unexpected(signature.error());
    }
    auto response = http_.Send(request);
    if (!response) {
      last = response.error().Wrap("IAM " + std::string(action));
      if (!last.retryable()) {
        return tl::unexpected(last);
      }
      continue;
    }
    if (response->status == 200) {
      return std::move(response->body);
    }
    last = IamErrorFromResponse(action, response->status, response->body);
    if (!last.retryable()) {
      return tl::unexpected(last);
    }
  }
  return tl::unexpected(last);
}

Result<std::string> HttpIamClient::CreateOidcProvider(const std::string& url,
                                                      const std::vector<std::string>& client_ids,
                                                      const std::vector<std::string>& thumbprints) {
  FormParams p{{"Url", url}};
  AppendMembers(p, "ClientIDList", client_ids);
  AppendMembers(p, "ThumbprintList", thumbprints);
  auto body = Call("CreateOpenIDConnectProvider", p);
  return body ? ParseCreateOidcProvider(*body) : tl::unexpected(body.error());
}

Result<std::vector<std::string>> HttpIamClient::ListOidcProviders() {
  auto body = Call("ListOpenIDConnectProviders", {});
  return body ? ParseListOidcProviders(*body) : tl::unexpected(body.error());
}

Result<IamOidcProvider> HttpIamClient::GetOidcProvider(const std::string& arn) {
  auto body = Call("GetOpenIDConnectProvider", {{"OpenIDConnectProviderArn", arn}});
  return body ? ParseGetOidcProvider(*body) : tl::unexpected(body.error());
}

Result<void> HttpIamClient::AddClientId(const std::string& arn, const std::string& client_id) {
  auto body = Call("AddClientIDToOpenIDConnectProvider",
                   {{"OpenIDConnectProviderArn", arn}, {"ClientID", client_id}});
  return body ? ParseIamEmpty(*body, "AddClientIDToOpenIDConnectProvider")
              : tl::unexpected(body.error());
}

Result<void> HttpIamClient::UpdateThumbprints(const std::string& arn,
                                              const std::vector<std::string>& thumbprints) {
  FormParams p{{"OpenIDConnectProviderArn", arn}};
  AppendMembers(p, "ThumbprintList", thumbprints);
  auto body = Call("UpdateOpenIDConnectProviderThumbprint", p);
  return body ? ParseIamEmpty(*body, "UpdateOpenIDConnectProviderThumbprint")
              : tl::unexpected(body.error());
}

Result<IamRole> HttpIamClient::CreateRole(const std::string& name, const std::string& path,
                                          const std::string& trust_policy,
                                          const std::string& description) {
  auto body = Call("CreateRole", {{"RoleName", name},
                                  {"Path", path},
                                  {"AssumeRolePolicyDocument", trust_policy},
                                  {"Description", description}});
  return body ? ParseIamRole(*body, "CreateRole") : tl::unexpected(body.error());
}

Result<IamRole> HttpIamClient::GetRole(const std::string& name) {
  auto body = Call("GetRole", {{"RoleName", name}});
  return body ? ParseIamRole(*body, "GetRole") : tl::unexpected(body.error());
}

Result<void> HttpIamClient::UpdateAssumeRolePolicy(const std::string& name,
                                                   const std::string& trust_policy) {
  auto body =
      Call("UpdateAssumeRolePolicy", {{"RoleName", name}, {"PolicyDocument", trust_policy}});
  return body ? ParseIamEmpty(*body, "UpdateAssumeRolePolicy") : tl::unexpected(body.error());
}

Result<void> HttpIamClient::AttachRolePolicy(const std::string& name,
                                             const std::string& policy_arn) {
  auto body = Call("AttachRolePolicy", {{"RoleName", name}, {"PolicyArn", policy_arn}});
  return body ? ParseIamEmpty(*body, "AttachRolePolicy") : tl::unexpected(body.error());
}

Result<std::vector<std::string>> HttpIamClient::ListAttachedRolePolicies(const std::string& name) {
  auto body = Call("ListAttachedRolePolicies", {{"RoleName", name}});
  return body ? ParseListAttachedRolePolicies(*body) : tl::unexpected(body.error());
}

}  // namespace podiam::aws
