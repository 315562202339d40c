#include "podiam/app/node_metadata.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <nlohmann/json.hpp>

namespace podiam::app {
namespace {

constexpr std::chrono::seconds kDiscoveryBudget{2};

}  // namespace

NodeMetadata OpenNodeMetadata(http::HttpClient& http, const Clock& clock,
                              const aws::Environment& env) {
  std::string disabled = env("AWS_EC2_METADATA_DISABLED").value_or("");
  std::transform(disabled.begin(), disabled.end(), disabled.begin(),
                 [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  NodeMetadata node;
  node.own_use_disabled = disabled == "true";
  node.client = std::make_unique<aws::ImdsClient>(
      http, clock,
      aws::ImdsClientOptions{.endpoint = aws::NonEmpty(env, "PODIAM_NODE_IMDS_ENDPOINT")
                                             .value_or(std::string(aws::kDefaultImdsEndpoint)),
                             .token_ttl_seconds = 60});
  return node;
}

Result<std::string> DiscoverRegion(aws::InstanceMetadata* imds, const Clock& clock) {
  if (imds == nullptr) {
    return MakeError(ErrorCode::kFailedPrecondition, "AWS_EC2_METADATA_DISABLED is true");
  }
  auto region =
      imds->Get("/latest/meta-data/placement/region", clock.SteadyNow() + kDiscoveryBudget);
  if (!region) {
    return tl::unexpected(region.error());
  }
  if (region->status != 200 || region->body.empty() || region->body.size() > 32 ||
      region->body.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-") !=
          std::string::npos) {
    return MakeError(ErrorCode::kUpstreamInvalid,
                     fmt::format("the node's metadata service answered {} for placement/region",
                                 region->status));
  }
  return region->body;
}

Result<aws::BaseRoleArn> DiscoverBaseArn(aws::InstanceMetadata* imds, const Clock& clock) {
  if (imds == nullptr) {
    return MakeError(ErrorCode::kFailedPrecondition,
                     "--auto-discover-base-arn: the node's metadata service is disabled "
                     "(AWS_EC2_METADATA_DISABLED)");
  }
  auto info = imds->Get("/latest/meta-data/iam/info", clock.SteadyNow() + kDiscoveryBudget);
  if (!info) {
    return tl::unexpected(info.error().Wrap("--auto-discover-base-arn: node IMDS"));
  }
  if (info->status != 200) {
    return MakeError(
        ErrorCode::kUnavailable,
        fmt::format("--auto-discover-base-arn: node IMDS iam/info answered {}", info->status));
  }
  auto json = nlohmann::json::parse(info->body, nullptr, false);
  if (json.is_discarded() || !json.is_object() || !json.contains("InstanceProfileArn") ||
      !json["InstanceProfileArn"].is_string()) {
    return MakeError(ErrorCode::kUpstreamInvalid,
                     "--auto-discover-base-arn: node IMDS iam/info has no InstanceProfileArn");
  }
  auto arn = aws::ParseArn(json["InstanceProfileArn"].get<std::string>());
  if (!arn) {
    return tl::unexpected(arn.error().Wrap("--auto-discover-base-arn"));
  }
  return aws::ParseBaseRoleArn(fmt::format("arn:{}:iam::{}:role/", arn->partition, arn->account));
}

Region ResolveRegion(std::string_view flag, const aws::Environment& env,
                     aws::InstanceMetadata* imds, const Clock& clock) {
  if (!flag.empty()) {
    return {.name = std::string(flag), .source = "--region"};
  }
  for (const char* name : {"AWS_REGION", "AWS_DEFAULT_REGION"}) {
    if (auto value = aws::NonEmpty(env, name)) {
      return {.name = *value, .source = name};
    }
  }
  auto discovered = DiscoverRegion(imds, clock);
  if (discovered) {
    return {.name = *discovered, .source = "node metadata"};
  }
  return {.name = "us-east-1", .source = "default", .discovery_error = discovered.error()};
}

}  // namespace podiam::app
