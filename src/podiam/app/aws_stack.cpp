#include "podiam/app/aws_stack.hpp"

#include <chrono>

#include "podiam/app/node_metadata.hpp"
#include "podiam/aws/credential_sources.hpp"
#include "podiam/base/log.hpp"

namespace podiam::app {

AwsStack::AwsStack(const AwsStackDeps& deps, std::string region, aws::StsEndpoint endpoint)
    : http_(deps.http),
      clock_(deps.clock),
      log_component_(deps.log_component),
      region_(std::move(region)),
      endpoint_(std::move(endpoint)),
      metrics_(deps.registry) {}

Result<std::unique_ptr<AwsStack>> AwsStack::Create(const AwsStackDeps& deps,
                                                   const cli::AwsFlags& flags,
                                                   aws::InstanceMetadata* node_imds,
                                                   const std::string& session_name) {
  log::Logger log(deps.log_component);
  auto region = ResolveRegion(flags.region, deps.env, node_imds, deps.clock);
  if (deps.log_region && region.source == "node metadata") {
    log.Info("region from the node's metadata service", {{"region", region.name}});
  } else if (deps.log_region && region.discovery_error) {
    log.Warn(
        "no --region, $AWS_REGION or node metadata service: using us-east-1; set --region "
        "off AWS or in another partition",
        {{"error", region.discovery_error->ToString()}});
  }
  auto endpoint =
      aws::ResolveStsEndpoint({.region = region.name, .url_override = flags.sts_endpoint});
  if (!endpoint) {
    return tl::unexpected(endpoint.error().Wrap("STS endpoint"));
  }
  std::unique_ptr<AwsStack> stack(new AwsStack(deps, region.name, *endpoint));
  AwsStack& s = *stack;
  const aws::HttpStsClientOptions options{.endpoint = s.endpoint_};
  s.unsigned_sts_ = std::make_unique<aws::HttpStsClient>(deps.http, nullptr, s.metrics_, deps.clock,
                                                         deps.random, options);
  s.own_ = std::make_unique<aws::CachingCredentialsProvider>(
      aws::NewDefaultCredentialsChain({.http = deps.http,
                                       .web_identity_sts = *s.unsigned_sts_,
                                       .clock = deps.clock,
                                       .env = deps.env}),
      deps.clock, deps.random);
  s.signer_ = s.own_.get();
  if (!flags.assume_role.empty()) {
    if (auto role = aws::ParseRoleArn(flags.assume_role); !role) {
      return tl::unexpected(role.error().Wrap("--assume-role"));
    }
    s.base_sts_ = std::make_unique<aws::HttpStsClient>(deps.http, s.own_.get(), s.metrics_,
                                                       deps.clock, deps.random, options);
    s.intermediate_ = std::make_unique<aws::CachingCredentialsProvider>(
        std::make_unique<aws::AssumeRoleCredentialsProvider>(
            *s.base_sts_,
            aws::AssumeRoleRequest{.role_arn = flags.assume_role,
                                   .role_session_name = session_name},
            deps.clock),
        deps.clock, deps.random);
    s.signer_ = s.intermediate_.get();
  }
  s.sts_ = std::make_unique<aws::HttpStsClient>(deps.http, s.signer_, s.metrics_, deps.clock,
                                                deps.random, options);
  return stack;
}

AwsStack::~AwsStack() { Stop(); }

Result<void> AwsStack::AddIam(std::string_view partition, std::string_view url_override) {
  auto endpoint = aws::ResolveIamEndpoint(partition, url_override);
  if (!endpoint) {
    return tl::unexpected(endpoint.error().Wrap("IAM endpoint"));
  }
  iam_ = std::make_unique<aws::HttpIamClient>(http_, *signer_, clock_, aws::RealSleeper(),
                                              std::move(*endpoint));
  return {};
}

void AwsStack::Start() {
  identity_check_ = std::thread([this] {
    log::Logger log(log_component_);
    while (!stopping_.load()) {
      auto who = sts_->GetCallerIdentity();
      if (who) {
        credentials_ok_ = true;
        log.Info("own AWS credentials work", {{"arn", who->arn}});
        return;
      }
      log.Warn("own AWS credentials do not work yet", {{"error", who.error().ToString()}});
      for (int i = 0; i < 50 && !stopping_.load(); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    }
  });
}

void AwsStack::Stop() {
  stopping_ = true;
  if (identity_check_.joinable()) {
    identity_check_.join();
  }
}

ops::Check AwsStack::CredentialsCheck() const {
  return credentials_ok_.load() ? ops::Check::Ok()
                                : ops::Check::Fail("STS GetCallerIdentity has not succeeded");
}

}  // namespace podiam::app
