#include "podiam/aws/endpoint.hpp"

#include <fmt/format.h>

#include "podiam/aws/partition.hpp"
#include "podiam/aws/text.hpp"
#include "podiam/http/message.hpp"

namespace podiam::aws {

Result<StsEndpoint> ResolveStsEndpoint(const StsEndpointOptions& options) {
  // "aws-global" is botocore's pseudo-region for the global endpoint.
  bool global = options.use_global || options.region == "aws-global";
  std::string region = options.region == "aws-global" ? std::string() : options.region;
  if (region.empty() && (global || !options.url_override.empty())) {
    region = "us-east-1";
  }
  if (region.empty()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "no AWS region configured for STS (set a region, or ask for the global "
                     "endpoint explicitly)");
  }
  if (!LooksLikeRegion(region)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     fmt::format("region {} is not a valid AWS region name", Quote(region)));
  }
  std::string partition(PartitionForRegion(region));

  if (!options.url_override.empty()) {
    auto url = http::ParseUrl(options.url_override);
    if (!url) {
      return tl::unexpected(url.error().Wrap("STS endpoint override"));
    }
    return StsEndpoint{
        .url = options.url_override, .signing_region = region, .partition = partition};
  }

  const Partition* info = FindPartition(partition);
  if (global) {
    if (partition != "aws") {
      return MakeError(ErrorCode::kInvalidArgument,
                       fmt::format("the global STS endpoint exists only in partition aws; "
                                   "region {} is in {}, use its regional endpoint",
                                   region, partition));
    }
    if (options.use_fips) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "the global STS endpoint has no FIPS variant; use a regional one");
    }
    return StsEndpoint{
        .url = "https://sts.amazonaws.com/", .signing_region = "us-east-1", .partition = partition};
  }
  // In aws-us-gov the regional endpoints are already FIPS endpoints (botocore rules).
  bool fips_host = options.use_fips && partition != "aws-us-gov";
  return StsEndpoint{.url = fmt::format("https://{}.{}.{}/", fips_host ? "sts-fips" : "sts", region,
                                        info->dns_suffix),
                     .signing_region = region,
                     .partition = partition};
}

}  // namespace podiam::aws
