// The settings of `podiam agent`'s container-credentials endpoint (docs/container-credentials.md),
// as the flags in container_credentials_flags.hpp set them. Kept apart from the flags so that
// config.hpp does not pull in CLI11.
//
// Thread-safety: plain values.
#pragma once

#include <string>
#include <vector>

namespace podiam::cli {

struct ContainerCredentialsConfig {
  // --container-credentials: on by default. Where the addresses cannot be put on a link, the agent
  // logs what to do and serves IMDS alone (it does not exit).
  bool enabled = true;
  // --container-credentials-listen (repeatable): host:port, IPv6 bracketed.
  std::vector<std::string> listen = {"169.254.170.23:80", "[fd00:ec2::23]:80"};
  // --container-credentials-link: an existing link for the addresses; empty: the dummy link
  // podiam-link0. "none": put no addresses anywhere (they are already routed to the agent).
  std::string link;
  // --token-audience (repeatable): audiences a pod's token may be for.
  std::vector<std::string> token_audiences = {"pods.eks.amazonaws.com"};
  // --container-credentials-from-annotations: the ServiceAccount's role annotation when there is
  // no PodIdentityAssociation.
  bool from_annotations = true;
  // --cluster-arn: value of the eks-cluster-arn session tag (--cluster-name gives
  // eks-cluster-name).
  std::string cluster_arn;
  // --container-credentials-host-network: accept tokens of hostNetwork pods from the node's
  // addresses (default deny: their source address proves nothing).
  bool host_network = false;
  // --container-credentials-pod-qps: requests per second per pod address (burst twice that);
  // 0: unlimited.
  double pod_qps = 50;
};

}  // namespace podiam::cli
