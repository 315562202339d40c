#include "podiam/cli/explain_flags.hpp"

#include "podiam/cli/flag_groups.hpp"
#include "podiam/cli/flags.hpp"

namespace podiam::cli {

namespace {

void AddTrustFlags(CLI::App& trust, ExplainConfig& c) {
  AddFlag(trust, "--role", c.trust_role, "The role's ARN")->required();
  AddFlag(trust, "--path", c.trust_path, "The podiam path the role serves")
      ->required()
      ->check(CLI::IsMember({"imds", "irsa", "container-credentials", "controller"}));
  AddFlag(trust, "--principal-arn", c.principal_arn,
          "imds, container-credentials, controller: the ARN podiam's agent/controller runs as");
  AddFlag(trust, "--issuer", c.issuer, "irsa: the cluster's issuer URL https://HOST[/PATH]");
  AddFlag(trust, "--namespace", c.namespace_name, "irsa: the ServiceAccount's namespace");
  AddFlag(trust, "--service-account", c.service_account, "irsa: the ServiceAccount's name");
  AddFlag(trust, "--audience", c.audience, "irsa: the token audience")->capture_default_str();
  AddFlag(trust, "--external-id", c.external_id,
          "controller: the sts:ExternalId (namespace, or NAMESPACE/--cluster-name)");
  AddBool(trust, "--session-tags", c.session_tags,
          "imds, controller: the agent or controller runs with --session-tags (the role must "
          "allow sts:TagSession)");
  AddBool(trust, "--check", c.check,
          "Read the role's trust policy with IAM GetRole (podiam's own AWS credentials) and "
          "compare");
  AddFlag(trust, "--iam-endpoint", c.iam_endpoint,
          "IAM endpoint URL override (default $AWS_ENDPOINT_URL_IAM, else the partition's)");
  AddFlag(trust, "--partition", c.partition, "AWS partition of the IAM endpoint")
      ->check(CLI::IsMember({"aws", "aws-cn", "aws-us-gov"}))
      ->capture_default_str();
}

}  // namespace

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
  auto* trust = explain.add_subcommand(
      "trust",
      "The trust policy ROLE needs for a podiam path; with --check compares it with the role's "
      "(IAM GetRole). Exit code 0 no findings, 1 findings");
  for (auto* sub : {policy, pod}) {
    AddRoleFlags(*sub, c.roles);
  }
  for (auto* sub : {policy, pod, trust}) {
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

  AddTrustFlags(*trust, c);

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
  AddFlag(*pod, "--cluster-name", c.cluster_name,
          "As the controller's flag: part of the ExternalId (NAMESPACE/CLUSTER)");
  AddBool(*pod, "--allow-no-external-id", c.allow_no_external_id,
          "As the controller's flag: honour an AWSIAMRole's externalIdPolicy None");
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
