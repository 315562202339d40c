// Which URL podiam sends STS calls to, and which region it signs them for
// (docs/protocols.md#sts-endpoints, botocore's endpoint rules):
//   - regional by default: https://sts.{region}.{dns suffix of the region's partition};
//   - FIPS when asked: https://sts-fips.{region}.{suffix} (aws-us-gov: the regional host is FIPS);
//   - the global endpoint https://sts.amazonaws.com, signed for us-east-1, only when asked;
//   - an explicit URL override (moto in tests, VPC endpoints), signed for the given region.
//
// Thread-safety: pure function.
//
//   auto ep = aws::ResolveStsEndpoint({.region = "cn-north-1"});
//   ep->url;             // "https://sts.cn-north-1.amazonaws.com.cn/"
//   ep->signing_region;  // "cn-north-1"
#pragma once

#include <string>

#include "podiam/base/error.hpp"

namespace podiam::aws {

struct StsEndpointOptions {
  std::string region;  // required unless use_global (then it defaults to us-east-1)
  bool use_fips = false;
  bool use_global = false;   // legacy https://sts.amazonaws.com (partition aws only)
  std::string url_override;  // when set, used as is; FIPS/global are ignored
};

struct StsEndpoint {
  std::string url;             // absolute, ends with '/'
  std::string signing_region;  // the SigV4 credential scope region
  std::string partition;       // "aws", "aws-cn", ...
};

Result<StsEndpoint> ResolveStsEndpoint(const StsEndpointOptions& options);

}  // namespace podiam::aws
