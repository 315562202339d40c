// The node's own EC2 metadata service as podiam uses it for itself: its region (when no region
// is configured) and kube2iam's --auto-discover-base-arn. docs/agent.md ("The node's
// own metadata service") has the endpoint variables and the order.
//
//   - endpoint: $PODIAM_NODE_IMDS_ENDPOINT, default http://169.254.169.254 (tests point it at a
//     fake); not the SDKs' $AWS_EC2_METADATA_SERVICE_ENDPOINT, which configures podiam's own
//     credential chain (aws::ImdsCredentialsProvider) and nothing else;
//   - token TTL 60 s: each discovery is a one-off;
//   - $AWS_EC2_METADATA_DISABLED=true (the SDKs' switch, any case) turns podiam's own use off.
//     The client still exists: the paths an operator lets pods read (--allow-metadata-path) are
//     the pods' requests, not podiam's.
//
// Thread-safety: the discovery functions are called once at start-up; the client is thread-safe.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "podiam/aws/arn.hpp"
#include "podiam/aws/environment.hpp"
#include "podiam/aws/imds_client.hpp"
#include "podiam/base/clock.hpp"
#include "podiam/base/error.hpp"
#include "podiam/http/client.hpp"

namespace podiam::app {

struct NodeMetadata {
  std::unique_ptr<aws::ImdsClient> client;
  bool own_use_disabled = false;  // $AWS_EC2_METADATA_DISABLED is true

  // The client for podiam's own questions; nullptr when its own use is disabled.
  [[nodiscard]] aws::InstanceMetadata* ForOwnUse() const {
    return own_use_disabled ? nullptr : client.get();
  }
};

NodeMetadata OpenNodeMetadata(http::HttpClient& http, const Clock& clock,
                              const aws::Environment& env);

// placement/region, within 2 s. `imds` nullptr: kFailedPrecondition (disabled).
Result<std::string> DiscoverRegion(aws::InstanceMetadata* imds, const Clock& clock);

// kube2iam's --auto-discover-base-arn: arn:<partition>:iam::<account>:role/ of the node's
// instance profile (iam/info), within 2 s. `imds` nullptr: kFailedPrecondition (disabled).
Result<aws::BaseRoleArn> DiscoverBaseArn(aws::InstanceMetadata* imds, const Clock& clock);

// Where STS is called: --region, $AWS_REGION, $AWS_DEFAULT_REGION, the node's metadata service
// (`imds`, nullptr: not asked), else us-east-1.
struct Region {
  std::string name;
  std::string source;  // "--region", "AWS_REGION", ..., "node metadata", "default"
  std::optional<Error> discovery_error;  // why the node's metadata service gave none
};
Region ResolveRegion(std::string_view flag, const aws::Environment& env,
                     aws::InstanceMetadata* imds, const Clock& clock);

}  // namespace podiam::app
