#include "podiam/cli/container_credentials_flags.hpp"

#include <CLI/CLI.hpp>

#include "podiam/cli/command_line.hpp"

namespace podiam::cli {
namespace {

template <typename T>
CLI::Option* Flag(CLI::App& app, const std::string& name, T& target, const std::string& help) {
  auto* opt = app.add_option(name, target, help);
  opt->envname(EnvNameForFlag(name));
  return opt;
}

CLI::Option* Bool(CLI::App& app, const std::string& name, bool& target, const std::string& help) {
  auto* opt = app.add_flag(name + "{true}", target, help);
  opt->envname(EnvNameForFlag(name));
  opt->default_str(target ? "true" : "false");
  return opt;
}

}  // namespace

void AddContainerCredentialsFlags(CLI::App& agent, ContainerCredentialsConfig& c) {
  Bool(agent, "--container-credentials", c.enabled,
       "Serve the container-credentials protocol (EKS Pod Identity) on 169.254.170.23 and "
       "fd00:ec2::23, authenticated by the pod's ServiceAccount token (=false: off)");
  Flag(agent, "--container-credentials-listen", c.listen,
       "Address:port of the container-credentials endpoint (repeatable)")
      ->capture_default_str();
  Flag(agent, "--container-credentials-link", c.link,
       "Existing link to put the endpoint's addresses on (e.g. lo) when a dummy link cannot be "
       "made; none: put them nowhere");
  Flag(agent, "--token-audience", c.token_audiences,
       "Audience a pod's ServiceAccount token must be for (repeatable)")
      ->capture_default_str();
  Bool(agent, "--container-credentials-from-annotations", c.from_annotations,
       "Without a PodIdentityAssociation, use the ServiceAccount's role annotation");
  Flag(agent, "--cluster-arn", c.cluster_arn,
       "Cluster ARN for the eks-cluster-arn session tag of container credentials");
  Bool(agent, "--container-credentials-host-network", c.host_network,
       "Accept tokens of hostNetwork pods from this node's addresses (default: refuse)");
  Flag(agent, "--container-credentials-pod-qps", c.pod_qps,
       "Container-credentials requests per second per pod (burst twice that); 0: unlimited")
      ->check(CLI::Range(0.0, 1e6))
      ->capture_default_str();
}

}  // namespace podiam::cli
