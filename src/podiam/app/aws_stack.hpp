// podiam's own AWS side, shared by every subcommand that calls STS: the region, the STS endpoint,
// an unsigned STS client (AssumeRoleWithWebIdentity for the credential chain), podiam's own
// credential chain (aws::NewDefaultCredentialsChain), optionally --assume-role on top, and the
// signed STS client that assumes pods' roles. It also watches whether those credentials work
// (STS GetCallerIdentity, retried every 5 s until it succeeds), for /readyz. Subcommands that
// manage IAM (podiam iam) add an IAM client signed the same way (AddIam).
//
//   region:  --region, $AWS_REGION, $AWS_DEFAULT_REGION, the node's metadata service, us-east-1
//            (app/node_metadata.hpp); logged with where it came from.
//
// Thread-safety: sts() is safe from any thread; Start/Stop from the controlling thread.
//
//   auto aws = app::AwsStack::Create({.http = *http, ...}, config.aws, node_imds.ForOwnUse(),
//                                     "podiam-agent-" + node);
//   creds::CredentialBroker broker((*aws)->sts(), ...);
//   ops.readiness().Add("aws-credentials", [&] { return (*aws)->CredentialsCheck(); });
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include "podiam/aws/credentials_provider.hpp"
#include "podiam/aws/endpoint.hpp"
#include "podiam/aws/environment.hpp"
#include "podiam/aws/http_sts_client.hpp"
#include "podiam/aws/iam_client.hpp"
#include "podiam/aws/imds_client.hpp"
#include "podiam/aws/metrics.hpp"
#include "podiam/base/clock.hpp"
#include "podiam/base/error.hpp"
#include "podiam/base/random.hpp"
#include "podiam/cli/config.hpp"
#include "podiam/http/client.hpp"
#include "podiam/metrics/registry.hpp"
#include "podiam/ops/ops_handler.hpp"

namespace podiam::app {

struct AwsStackDeps {
  http::HttpClient& http;  // STS, IAM, and the credential chain's container/IMDS requests
  const Clock& clock;
  Random& random;
  metrics::Registry& registry;
  aws::Environment env = aws::ProcessEnvironment();
  std::string log_component = "aws";  // the subcommand's own, so its start-up reads as one story
  // false for one-shot commands whose output is what they print (podiam iam): no log line about
  // where the region came from.
  bool log_region = true;
};

class AwsStack {
 public:
  // `node_imds`: the node's metadata service for the region, nullptr when not to be asked.
  // `session_name`: RoleSessionName of --assume-role (already a valid session name).
  static Result<std::unique_ptr<AwsStack>> Create(const AwsStackDeps& deps,
                                                  const cli::AwsFlags& flags,
                                                  aws::InstanceMetadata* node_imds,
                                                  const std::string& session_name);
  ~AwsStack();
  AwsStack(const AwsStack&) = delete;
  AwsStack& operator=(const AwsStack&) = delete;

  // Signed with podiam's own credentials (or --assume-role's): assumes pods' roles.
  aws::StsClient& sts() { return *sts_; }
  [[nodiscard]] const aws::StsEndpoint& endpoint() const { return endpoint_; }
  [[nodiscard]] const std::string& region() const { return region_; }

  // IAM, signed like sts(): the global endpoint of `partition`, or `url_override` (tests, VPC
  // endpoints). Call once, before iam().
  Result<void> AddIam(std::string_view partition, std::string_view url_override);
  // After AddIam().
  aws::HttpIamClient& iam() { return *iam_; }

  // Starts the GetCallerIdentity check; logs who podiam is once it works.
  void Start();
  void Stop();
  // For /readyz: fails until GetCallerIdentity has succeeded.
  [[nodiscard]] ops::Check CredentialsCheck() const;

 private:
  AwsStack(const AwsStackDeps& deps, std::string region, aws::StsEndpoint endpoint);

  http::HttpClient& http_;
  const Clock& clock_;
  std::string log_component_;
  std::string region_;
  aws::StsEndpoint endpoint_;
  aws::StsMetrics metrics_;
  std::unique_ptr<aws::HttpStsClient> unsigned_sts_;
  std::unique_ptr<aws::CachingCredentialsProvider> own_;
  std::unique_ptr<aws::HttpStsClient> base_sts_;  // --assume-role: signed by own_
  std::unique_ptr<aws::CachingCredentialsProvider> intermediate_;
  aws::CredentialsProvider* signer_ = nullptr;  // own_ or intermediate_
  std::unique_ptr<aws::HttpStsClient> sts_;
  std::unique_ptr<aws::HttpIamClient> iam_;
  std::atomic<bool> credentials_ok_{false};
  std::atomic<bool> stopping_{false};
  std::thread identity_check_;
};

}  // namespace podiam::app
