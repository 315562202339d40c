#include "podiam/cli/explain_flags.hpp"

#include "podiam/cli/flag_groups.hpp"
#include "podiam/cli/flags.hpp"

namespace podiam::cli {

void AddExplainFlags(CLI::App& explain, ExplainConfig& c) {
  explain.require_subcommand(1, 1);
  auto* policy = explain.add_subcommand(
      "policy",
      "The namespace-policy decision alone, offline: may a pod in NAMESPACE have ROLE? Exit code "
      "0 allowed, 1 refused");
  auto* pod = explain.add_subcommand(
      "pod",
      "Reads a pod, its ServiceAccount and namespace and says, path by path, which role it gets "
      "and why");
  for (auto* sub : {policy, pod}) {
    AddRoleFlags(*sub, c.roles);
    sub->add_option("-o,--output", c.output, "Output format: text or json")
        ->check(CLI::IsMember({"text", "json"}))
        ->capture_default_str();
  }
  AddFlag(*policy, "--role", c.role,
          "The pod's role annotation: a role ARN, or a name joined to --base-role-arn; omit for "
          "a pod without one (--default-role)");
  AddFlag(*policy, "--namespace", c.namespace_name, "The pod's namespace (named in the output)")
      ->required();
  AddFlag(*policy, "--allowed-roles", c.allowed_roles,
          "The namespace's iam.amazonaws.com/allowed-roles value (kube2iam JSON list)");
  AddFlag(*policy, "--permitted", c.permitted,
          "The namespace's iam.amazonaws.com/permitted value (kiam regular expression)");

  pod->add_option("pod", c.pod, "NAMESPACE/NAME")->required();
  AddKubeFlags(*pod, c.kube);
  AddBool(*pod, "--container-credentials-from-annotations",
          c.container_credentials_from_annotations,
          "As the agent's flag: without a PodIdentityAssociation, the ServiceAccount's role "
          "annotation serves container credentials");
  AddFlag(*pod, "--annotation-prefix", c.annotation_prefix,
          "As the webhook's flag: ServiceAccount annotation prefix for IRSA")
      ->capture_default_str();
  AddFlag(*pod, "--token-audience", c.token_audience,
          "As the webhook's flag: audience of the injected IRSA token")
      ->capture_default_str();
}

std::optional<std::string> FinishExplainFlags(CLI::App& explain, ExplainConfig& c) {
  for (auto* sub : explain.get_subcommands()) {
    c.action = sub->get_name();
  }
  if (c.roles.auto_discover_base_arn) {
    return "explain " + c.action +
           ": --auto-discover-base-arn needs a node's metadata service; give --base-role-arn";
  }
  if (auto ok = CheckRoleFlags(c.roles); !ok) {
    return "explain " + c.action + ": " + ok.error().message();
  }
  if (c.action == "pod") {
    auto slash = c.pod.find('/');
    if (slash == std::string::npos || slash == 0 || slash + 1 == c.pod.size() ||
        c.pod.find('/', slash + 1) != std::string::npos) {
      return "explain pod: the pod must be given as NAMESPACE/NAME";
    }
  }
  return std::nullopt;
}

}  // namespace podiam::cli
