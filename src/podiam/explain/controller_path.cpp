#include "podiam/explain/controller_path.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <optional>

#include "podiam/controller/reconciler.hpp"
#include "podiam/controller/role_object.hpp"
#include "podiam/identity/pod_request.hpp"
#include "podiam/k8s/views.hpp"

namespace podiam::explain {
namespace {

using controller::RoleObject;
using identity::Outcome;

constexpr std::string_view kConfigKey = "credentials.process";
constexpr std::string_view kSharedKey = "credentials";
constexpr std::string_view kNotMounted = "not_mounted";
constexpr std::string_view kNotReady = "not_ready";

const k8s::Json& Array(const k8s::Json& parent, std::string_view key) {
  static const k8s::Json kEmpty = k8s::Json::array();
  const k8s::Json* value = k8s::Find(parent, key);
  return value != nullptr && value->is_array() ? *value : kEmpty;
}

// The Secret keys a volume source projects, each with its path inside the volume; nullopt: all
// keys under their own names (no `items`).
using KeyPaths = std::optional<std::vector<std::pair<std::string, std::string>>>;

KeyPaths ItemsOf(const k8s::Json& source) {
  const k8s::Json* items = k8s::Find(source, "items");
  if (items == nullptr || !items->is_array()) {
    return std::nullopt;
  }
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& item : *items) {
    if (item.is_object()) {
      out.emplace_back(k8s::StringAt(item, "key"), k8s::StringAt(item, "path"));
    }
  }
  return out;
}

std::string Join(std::string_view dir, std::string_view file) {
  std::string out(dir);
  while (out.size() > 1 && out.back() == '/') {
    out.pop_back();
  }
  return out + (out == "/" ? "" : "/") + std::string(file);
}

// The volumes of the pod that carry the Secret, each with its key paths (several projected
// sources may name it).
std::vector<std::pair<std::string, KeyPaths>> SecretVolumes(const k8s::Json& spec,
                                                            std::string_view secret_name) {
  std::vector<std::pair<std::string, KeyPaths>> out;
  for (const auto& volume : Array(spec, "volumes")) {
    if (!volume.is_object()) {
      continue;
    }
    const std::string& name = k8s::StringAt(volume, "name");
    if (const k8s::Json* secret = k8s::Find(volume, "secret");
        secret != nullptr && k8s::StringAt(*secret, "secretName") == secret_name) {
      out.emplace_back(name, ItemsOf(*secret));
    }
    if (const k8s::Json* projected = k8s::Find(volume, "projected"); projected != nullptr) {
      for (const auto& source : Array(*projected, "sources")) {
        const k8s::Json* secret = source.is_object() ? k8s::Find(source, "secret") : nullptr;
        if (secret != nullptr && k8s::StringAt(*secret, "name") == secret_name) {
          out.emplace_back(name, ItemsOf(*secret));
        }
      }
    }
  }
  return out;
}

// The literal value of an environment variable of a container ("" when absent or not literal).
std::string EnvValue(const k8s::Json& container, std::string_view name) {
  for (const auto& env : Array(container, "env")) {
    if (env.is_object() && k8s::StringAt(env, "name") == name) {
      return k8s::StringAt(env, "value");
    }
  }
  return "";
}

const k8s::Json* ContainerNamed(const k8s::Json& spec, std::string_view name) {
  for (const char* list : {"containers", "initContainers"}) {
    for (const auto& c : Array(spec, list)) {
      if (c.is_object() && k8s::StringAt(c, "name") == name) {
        return &c;
      }
    }
  }
  return nullptr;
}

std::string DescribeUse(const SecretUse& use) {
  if (use.volume.empty()) {
    return fmt::format("container {} takes it as environment variables (envFrom/secretKeyRef)",
                       use.container);
  }
  return fmt::format("container {} mounts it (volume {}) at {}", use.container, use.volume,
                     use.mount_path);
}

// What the SDKs in the pod will read: AWS_CONFIG_FILE at credentials.process (refreshing) or
// AWS_SHARED_CREDENTIALS_FILE at credentials (static), in a container that mounts them.
Step SdkEnvironment(const k8s::Json& spec, const std::vector<SecretUse>& uses,
                    std::string& suggestion) {
  for (const auto& use : uses) {
    const k8s::Json* container = ContainerNamed(spec, use.container);
    if (container == nullptr || use.volume.empty()) {
      continue;
    }
    std::string config = use.FileOf(kConfigKey);
    std::string shared = use.FileOf(kSharedKey);
    if (!config.empty() && EnvValue(*container, "AWS_CONFIG_FILE") == config) {
      return {"sdk-environment", StepStatus::kOk,
              fmt::format("container {} sets AWS_CONFIG_FILE={}: the SDK runs credential_process "
                          "and follows every refresh",
                          use.container, config)};
    }
    if (!shared.empty() && EnvValue(*container, "AWS_SHARED_CREDENTIALS_FILE") == shared) {
      return {"sdk-environment", StepStatus::kOk,
              fmt::format("container {} sets AWS_SHARED_CREDENTIALS_FILE={}: static file, read "
                          "once per client (AWS_CONFIG_FILE={} follows refreshes)",
                          use.container, shared,
                          config.empty() ? Join(use.mount_path, kConfigKey) : config)};
    }
    if (suggestion.empty() && !config.empty()) {
      suggestion =
          fmt::format("set AWS_CONFIG_FILE={} in container {}'s env", config, use.container);
    }
  }
  if (suggestion.empty()) {
    suggestion =
        "mount the Secret as a volume and set AWS_CONFIG_FILE=<mount path>/credentials.process "
        "in the container's env";
  }
  return {"sdk-environment", StepStatus::kInfo,
          "no container that mounts the Secret sets AWS_CONFIG_FILE=<mount>/credentials.process "
          "or AWS_SHARED_CREDENTIALS_FILE=<mount>/credentials: SDKs will not find the files"};
}

std::string FixFor(const RoleObject& role, const std::string& arn, const std::string& external_id) {
  const std::string& reason = role.ready_reason;
  if (reason == controller::reasons::kGetCredentialsFailed) {
    return fmt::format(
        "check the role's trust policy: podiam explain trust --role {} --path controller "
        "--external-id '{}' --principal-arn <the controller's identity> --check",
        arn, external_id);
  }
  if (reason == controller::reasons::kSecretConflict) {
    return fmt::format(
        "kubectl annotate secret -n {} {} podiam.io/adopt=true (let the controller take it "
        "over), or set spec.secretName of AWSIAMRole {} to another name",
        role.namespace_name, role.secret_name, role.name);
  }
  if (reason == controller::reasons::kDenied || reason == controller::reasons::kInvalidRole) {
    return "the controller decided differently from these flags: give explain the controller's "
           "--base-role-arn, --namespace-* and --allow-no-external-id flags, then follow its fix";
  }
  return fmt::format("see the AWSIAMRole's Events: kubectl describe awsiamrole -n {} {}",
                     role.namespace_name, role.name);
}

}  // namespace

std::string SecretUse::FileOf(std::string_view key) const {
  for (const auto& [k, path] : files) {
    if (k == key) {
      return path;
    }
  }
  return "";
}

std::vector<SecretUse> FindSecretUses(const k8s::Json& pod, std::string_view secret_name) {
  std::vector<SecretUse> out;
  const k8s::Json* spec = k8s::Find(pod, "spec");
  if (spec == nullptr || !spec->is_object() || secret_name.empty()) {
    return out;
  }
  auto volumes = SecretVolumes(*spec, secret_name);
  for (const char* list : {"containers", "initContainers"}) {
    for (const auto& container : Array(*spec, list)) {
      if (!container.is_object()) {
        continue;
      }
      const std::string& name = k8s::StringAt(container, "name");
      for (const auto& mount : Array(container, "volumeMounts")) {
        if (!mount.is_object()) {
          continue;
        }
        for (const auto& [volume, items] : volumes) {
          if (k8s::StringAt(mount, "name") != volume) {
            continue;
          }
          SecretUse use{
              .container = name, .volume = volume, .mount_path = k8s::StringAt(mount, "mountPath")};
          const std::string& sub_path = k8s::StringAt(mount, "subPath");
          std::vector<std::pair<std::string, std::string>> keys;
          if (items) {
            keys = *items;
          } else {
            for (std::string_view key : {"credentials", "credentials.json", "credentials.process",
                                         "role-arn", "expiration"}) {
              keys.emplace_back(std::string(key), std::string(key));
            }
          }
          for (const auto& [key, path] : keys) {
            if (sub_path.empty()) {
              use.files.emplace_back(key, Join(use.mount_path, path));
            } else if (sub_path == path) {
              use.files.emplace_back(key, use.mount_path);
            }
          }
          out.push_back(std::move(use));
        }
      }
      bool env = false;
      for (const auto& from : Array(container, "envFrom")) {
        const k8s::Json* ref = from.is_object() ? k8s::Find(from, "secretRef") : nullptr;
        env = env || (ref != nullptr && k8s::StringAt(*ref, "name") == secret_name);
      }
      for (const auto& e : Array(container, "env")) {
        const k8s::Json* from = e.is_object() ? k8s::Find(e, "valueFrom") : nullptr;
        const k8s::Json* ref =
            from != nullptr && from->is_object() ? k8s::Find(*from, "secretKeyRef") : nullptr;
        env = env ||
              (ref != nullptr && ref->is_object() && k8s::StringAt(*ref, "name") == secret_name);
      }
      if (env) {
        out.push_back({.container = name});
      }
    }
  }
  return out;
}

PathExplanation ExplainControllerPath(const identity::RolePolicy& policy, const PodFacts& facts,
                                      const ControllerSettings& settings) {
  PathExplanation out{.path = "controller"};
  const std::string& namespace_name = k8s::MetadataString(facts.pod, "namespace");
  std::vector<RoleObject> roles;
  std::vector<std::string> unreadable;
  for (const auto& object : facts.awsiamroles) {
    auto role = controller::ParseRoleObject(object);
    if (role) {
      roles.push_back(std::move(*role));
    } else {
      unreadable.push_back(k8s::MetadataString(object, "name") + ": " + role.error().message());
    }
  }
  std::sort(roles.begin(), roles.end(), [](const RoleObject& a, const RoleObject& b) {
    return std::tie(a.name, a.api_version) < std::tie(b.name, b.api_version);
  });
  if (!facts.awsiamroles_error.empty()) {
    out.steps.push_back({"awsiamroles", StepStatus::kInfo,
                         "AWSIAMRoles could not be read (" + facts.awsiamroles_error +
                             "); decided as if there were none"});
  }
  for (const auto& u : unreadable) {
    out.steps.push_back({"awsiamroles", StepStatus::kInfo, "AWSIAMRole " + u + " (ignored)"});
  }
  if (roles.empty()) {
    out.steps.push_back(
        {"awsiamrole", StepStatus::kRefused,
         "no AWSIAMRole (podiam.io/v1 or zalando.org/v1) in namespace " + namespace_name});
    out.verdict = std::string(identity::OutcomeName(Outcome::kNoRole));
    out.reason = "namespace " + namespace_name + " has no AWSIAMRole";
    out.fix = fmt::format(
        "create an AWSIAMRole in namespace {} (docs/controller.md), mount its Secret in the pod "
        "and set AWS_CONFIG_FILE=<mount path>/credentials.process",
        namespace_name);
    return out;
  }
  static const k8s::Json kNoSpec = k8s::Json::object();
  const k8s::Json* spec_object = k8s::Find(facts.pod, "spec");
  const k8s::Json& spec = spec_object != nullptr ? *spec_object : kNoSpec;
  const RoleObject* role = nullptr;
  std::vector<SecretUse> uses;
  std::string listed;
  for (const auto& r : roles) {
    listed += fmt::format("{}{} (Secret {})", listed.empty() ? "" : ", ", r.name, r.secret_name);
    if (role == nullptr) {
      uses = FindSecretUses(facts.pod, r.secret_name);
      if (!uses.empty()) {
        role = &r;
      }
    }
  }
  if (role == nullptr) {
    out.steps.push_back({"awsiamrole", StepStatus::kInfo,
                         fmt::format("AWSIAMRoles in namespace {}: {}", namespace_name, listed)});
    out.steps.push_back({"secret-mounted", StepStatus::kRefused,
                         "the pod uses none of their Secrets (no secret volume, projected source, "
                         "envFrom or secretKeyRef names one)"});
    out.verdict = std::string(kNotMounted);
    out.reason =
        "the pod does not mount the Secret of any AWSIAMRole of namespace " + namespace_name;
    out.fix = fmt::format(
        "add a volume {{secret: {{secretName: {}}}}} mounted e.g. at /var/run/aws, set "
        "AWS_CONFIG_FILE=/var/run/aws/credentials.process, and recreate the pod",
        roles.front().secret_name);
    return out;
  }
  bool zalando = role->api_version == "zalando.org/v1";
  out.steps.push_back(
      {"awsiamrole", StepStatus::kOk,
       fmt::format("AWSIAMRole {} ({}{}) names '{}', Secret {}", role->name, role->api_version,
                   zalando ? ", reconciled only with --zalando-awsiamroles" : "",
                   role->role_reference, role->secret_name)});
  std::string mounts;
  for (const auto& use : uses) {
    mounts += (mounts.empty() ? "" : "; ") + DescribeUse(use);
  }
  out.steps.push_back({"secret-mounted", StepStatus::kOk, mounts});

  // The controller's own decision (its reconcile's steps 1 and 2).
  std::optional<k8s::NamespaceView> ns;
  if (facts.namespace_object) {
    if (auto view = k8s::NamespaceFromJson(*facts.namespace_object, k8s::AnnotationFilter({"*"}))) {
      ns = std::move(*view);
    }
  }
  controller::RoleDecision decision = controller::DecideRole(
      policy, *role, ns ? &ns->annotations : nullptr, settings.allow_no_external_id);
  if (decision.reason == controller::reasons::kInvalidRole) {
    out.steps.push_back({"role-arn", StepStatus::kRefused, decision.message});
    out.verdict = std::string(identity::OutcomeName(Outcome::kInvalid));
    out.reason = decision.message;
    out.fix = fmt::format(
        "correct spec.roleReference of AWSIAMRole {}: a full role ARN, or a name when the "
        "controller runs with --base-role-arn",
        role->name);
    return out;
  }
  const std::string arn = decision.arn->ToString();
  out.role = arn;
  bool full = role->role_reference.starts_with("arn:");
  out.steps.push_back({"role-arn", StepStatus::kOk,
                       full || !policy.options().base
                           ? fmt::format("{} (partition {}, account {})", arn,
                                         decision.arn->partition, decision.arn->account)
                           : fmt::format("'{}' joined to --base-role-arn {} -> {} (partition {})",
                                         role->role_reference, policy.options().base->ToString(),
                                         arn, decision.arn->partition)});
  std::string external_id = controller::ExternalIdFor(*role, settings.cluster_name);
  out.steps.push_back({"session", StepStatus::kInfo,
                       fmt::format("AssumeRole with ExternalId {} and RoleSessionName {}",
                                   external_id.empty() ? "(none)" : "'" + external_id + "'",
                                   controller::SessionNameFor(*role))});
  if (!ns) {
    out.steps.push_back({"namespace-policy", StepStatus::kRefused,
                         "namespace " + namespace_name + " could not be read"});
    out.verdict = std::string(identity::OutcomeName(Outcome::kPending));
    out.reason = "the namespace's policy annotations are not known";
    out.fix = "retry once the namespace is readable";
    return out;
  }
  if (decision.reason == controller::reasons::kDenied) {
    out.steps.push_back({"namespace-policy", StepStatus::kRefused, decision.message});
    out.verdict = std::string(identity::OutcomeName(Outcome::kDenied));
    out.reason = decision.message;
    out.fix = role->external_id_policy == controller::ExternalIdPolicy::kNone &&
                      !settings.allow_no_external_id
                  ? "remove spec.externalIdPolicy: None (the default is Namespace), or run the "
                    "controller with --allow-no-external-id"
                  : fmt::format(
                        "allow the role in namespace {}'s iam.amazonaws.com/allowed-roles or "
                        "iam.amazonaws.com/permitted (podiam explain policy --namespace {} --role "
                        "{} shows how)",
                        namespace_name, namespace_name, arn);
    return out;
  }
  std::string why;
  (void)policy.NamespaceAllows(*decision.arn, &ns->annotations, &why);
  out.steps.push_back({"namespace-policy", StepStatus::kOk,
                       why.empty() ? "namespace " + namespace_name + " allows it" : why});

  // What the controller did: the object's status.
  std::string_view stale = role->status_observed_generation < role->generation
                               ? " (for an older generation of the object)"
                               : "";
  if (role->ready_status.empty()) {
    out.steps.push_back({"status", StepStatus::kRefused,
                         "no Ready condition: the controller has not reconciled it"});
    out.verdict = std::string(identity::OutcomeName(Outcome::kPending));
    out.reason = "AWSIAMRole " + role->name + " has not been reconciled yet";
    out.fix = std::string("check that podiam controller runs") +
              (zalando ? " with --zalando-awsiamroles" : "") +
              " and watches this namespace, and read its log";
    return out;
  }
  std::string condition = fmt::format("Ready={} reason {}: {}{}", role->ready_status,
                                      role->ready_reason, role->ready_message, stale);
  if (role->ready_status != "True") {
    out.steps.push_back({"status", StepStatus::kRefused, condition});
    out.verdict = std::string(kNotReady);
    out.reason = fmt::format("AWSIAMRole {} is not Ready ({}): {}", role->name, role->ready_reason,
                             role->ready_message);
    out.fix = FixFor(*role, arn, external_id);
    return out;
  }
  out.steps.push_back({"status", StepStatus::kOk,
                       condition + (role->status_expiration.empty()
                                        ? std::string()
                                        : "; credentials expire at " + role->status_expiration)});
  if (!role->status_role_arn.empty() && role->status_role_arn != arn) {
    out.steps.push_back({"status-role", StepStatus::kInfo,
                         "the controller resolved " + role->status_role_arn +
                             ": its --base-role-arn differs from the one given here"});
  }
  std::string suggestion;
  Step env = SdkEnvironment(spec, uses, suggestion);
  bool configured = env.status == StepStatus::kOk;
  out.steps.push_back(std::move(env));
  out.verdict = std::string(identity::OutcomeName(Outcome::kAllowed));
  out.reason = role->ready_message;
  if (!configured) {
    out.fix = suggestion + " (docs/controller.md, \"How each SDK picks it up\")";
  }
  return out;
}

}  // namespace podiam::explain
