// The node's own metadata service as metadata's MetadataUpstream port: the few paths an operator
// lets pods read (--metadata-allow-list, --allow-metadata-path) are fetched with aws::ImdsClient
// (IMDSv2 token, then the GET; app/node_metadata.hpp has its endpoint and token lifetime).
//
// Thread-safety: as the wrapped client (aws::ImdsClient is safe for concurrent calls).
#pragma once

#include <string_view>

#include "podiam/aws/imds_client.hpp"
#include "podiam/metadata/ports.hpp"

namespace podiam::agent {

class NodeMetadataUpstream final : public metadata::MetadataUpstream {
 public:
  explicit NodeMetadataUpstream(aws::InstanceMetadata& imds) : imds_(imds) {}

  Result<http::Response> Get(std::string_view path, metadata::SteadyTime deadline) override {
    return imds_.Get(path, deadline);
  }

 private:
  aws::InstanceMetadata& imds_;
};

}  // namespace podiam::agent
