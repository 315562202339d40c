// The sources of podiam's own AWS credentials, and the default chain over them in botocore's order
// (docs/protocols.md: #imds-client-behaviour, #container-credentials,
// #shared-config-files, #web-identity):
//   1. environment     AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN
//   2. web identity    AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE (+ AWS_ROLE_SESSION_NAME)
//                      -> AssumeRoleWithWebIdentity (IRSA)
//   3. shared files    AWS_PROFILE / AWS_SHARED_CREDENTIALS_FILE / AWS_CONFIG_FILE (static keys;
//                      role_arn, credential_process and SSO profiles are a clear error)
//   4. container       AWS_CONTAINER_CREDENTIALS_RELATIVE_URI / _FULL_URI with
//                      AWS_CONTAINER_AUTHORIZATION_TOKEN[_FILE] (ECS, EKS Pod Identity)
//   5. IMDS            IMDSv2 of the node: token PUT, role list, credentials (short timeouts)
// Web identity comes before the shared files because botocore, Java and JS check it first.
// Every source reads the environment through an injected Environment and files through a
// FileReader, so tests are deterministic. Token files are read on every fetch (they rotate).
//
// Thread-safety: each source is safe for concurrent Get() calls.
//
//   auto chain = aws::NewDefaultCredentialsChain({.http = http, .web_identity_sts = unsigned_sts,
//                                                 .clock = clock});
//   aws::CachingCredentialsProvider own(std::move(chain), clock, random);
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "podiam/aws/credentials_provider.hpp"
#include "podiam/aws/environment.hpp"
#include "podiam/aws/sts_client.hpp"
#include "podiam/base/clock.hpp"
#include "podiam/http/client.hpp"

namespace podiam::aws {

class EnvironmentCredentialsProvider final : public CredentialsProvider {
 public:
  explicit EnvironmentCredentialsProvider(Environment env) : env_(std::move(env)) {}
  // Also reads AWS_SECURITY_TOKEN (legacy) and AWS_CREDENTIAL_EXPIRATION (optional, ISO 8601).
  Result<Credentials> Get() override;
  [[nodiscard]] std::string_view Name() const override { return "environment"; }

 private:
  Environment env_;
};

class SharedFilesCredentialsProvider final : public CredentialsProvider {
 public:
  SharedFilesCredentialsProvider(Environment env, FileReader read_file)
      : env_(std::move(env)), read_file_(std::move(read_file)) {}
  Result<Credentials> Get() override;
  [[nodiscard]] std::string_view Name() const override { return "shared-files"; }

 private:
  Environment env_;
  FileReader read_file_;
};

class WebIdentityCredentialsProvider final : public CredentialsProvider {
 public:
  // `sts` needs no credentials of its own: AssumeRoleWithWebIdentity is unsigned.
  WebIdentityCredentialsProvider(StsClient& sts, Environment env, FileReader read_file,
                                 const Clock& clock)
      : sts_(sts), env_(std::move(env)), read_file_(std::move(read_file)), clock_(clock) {}
  Result<Credentials> Get() override;
  [[nodiscard]] std::string_view Name() const override { return "web-identity"; }

 private:
  StsClient& sts_;
  Environment env_;
  FileReader read_file_;
  const Clock& clock_;
};

class ContainerCredentialsProvider final : public CredentialsProvider {
 public:
  ContainerCredentialsProvider(http::HttpClient& http, Environment env, FileReader read_file,
                               std::chrono::milliseconds timeout = std::chrono::seconds(2))
      : http_(http), env_(std::move(env)), read_file_(std::move(read_file)), timeout_(timeout) {}
  Result<Credentials> Get() override;
  [[nodiscard]] std::string_view Name() const override { return "container"; }

 private:
  http::HttpClient& http_;
  Environment env_;
  FileReader read_file_;
  std::chrono::milliseconds timeout_;
};

class ImdsCredentialsProvider final : public CredentialsProvider {
 public:
  // Honours AWS_EC2_METADATA_DISABLED, AWS_EC2_METADATA_SERVICE_ENDPOINT and
  // AWS_EC2_METADATA_V1_DISABLED. Falls back to IMDSv1 when the token PUT gets 403/404/405 or no
  // answer, as botocore does. The token exchange is aws::ImdsClient's; `timeout` bounds each
  // request, measured on `clock`.
  ImdsCredentialsProvider(http::HttpClient& http, Environment env, const Clock& clock,
                          std::chrono::milliseconds timeout = std::chrono::seconds(1))
      : http_(http), env_(std::move(env)), clock_(clock), timeout_(timeout) {}
  Result<Credentials> Get() override;
  [[nodiscard]] std::string_view Name() const override { return "imds"; }

 private:
  http::HttpClient& http_;
  Environment env_;
  const Clock& clock_;
  std::chrono::milliseconds timeout_;
};

struct DefaultChainDeps {
  http::HttpClient& http;       // container and IMDS requests
  StsClient& web_identity_sts;  // unsigned AssumeRoleWithWebIdentity
  const Clock& clock;
  Environment env = ProcessEnvironment();
  FileReader read_file = ReadLocalFile;
  std::chrono::milliseconds container_timeout{2000};
  std::chrono::milliseconds imds_timeout{1000};
};

std::unique_ptr<CredentialsProvider> NewDefaultCredentialsChain(const DefaultChainDeps& deps);

// Parses the JSON that container endpoints and IMDS serve: AccessKeyId, SecretAccessKey, Token,
// Expiration (optional: no expiry means static credentials), Code (when present, must be
// "Success"). kUpstreamInvalid otherwise; never quotes the body (it holds secrets).
Result<Credentials> ParseCredentialsJson(std::string_view json, std::string source);

}  // namespace podiam::aws
