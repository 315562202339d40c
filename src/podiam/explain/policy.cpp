#include "podiam/explain/policy.hpp"

#include <fmt/format.h>

namespace podiam::explain {
namespace {

using identity::Outcome;
using identity::RoleSource;

const std::string* Find(const identity::Annotations* a, const std::string& key) {
  if (a == nullptr) {
    return nullptr;
  }
  auto it = a->find(key);
  return it == a->end() || it->second.empty() ? nullptr : &it->second;
}

// The annotation value the decision used, and where it was.
struct Asked {
  const std::string* value = nullptr;
  std::string where;
};

Asked WhatWasAsked(const identity::RolePolicy& policy, const identity::PodSubject& pod,
                   const identity::Decision& d) {
  const auto& key = policy.options().keys.role;
  switch (d.source) {
    case RoleSource::kPod:
      return {Find(pod.pod_annotations, key), "pod annotation " + key};
    case RoleSource::kServiceAccount:
      return {Find(pod.service_account_annotations, key),
              fmt::format("service account {} annotation {}", pod.service_account, key)};
    case RoleSource::kDefault:
      return {&policy.options().default_role, "--default-role"};
    case RoleSource::kNone:
      break;
  }
  return {};
}

Step RoleStep(const identity::RolePolicy& policy, const identity::PodSubject& pod,
              const identity::Decision& d, const Asked& asked) {
  const auto& key = policy.options().keys.role;
  if (d.source == RoleSource::kNone) {
    return {"role-annotation", StepStatus::kInfo,
            fmt::format("neither the pod nor service account {} has {}, and there is no "
                        "--default-role",
                        pod.service_account.empty() ? "(none)" : std::string(pod.service_account),
                        key)};
  }
  std::string detail = fmt::format("{} = '{}'", asked.where, asked.value ? *asked.value : "");
  if (d.source == RoleSource::kServiceAccount) {
    detail = fmt::format("the pod has no {}; {}", key, detail);
  } else if (d.source == RoleSource::kDefault) {
    detail = fmt::format("no {} on the pod or its service account; {}", key, detail);
  }
  return {"role-annotation", StepStatus::kOk, detail};
}

Step ArnStep(const identity::RolePolicy& policy, const identity::Decision& d, const Asked& asked) {
  if (!d.role) {
    return {"role-arn", StepStatus::kRefused, d.reason};
  }
  std::string written = asked.value != nullptr ? *asked.value : std::string();
  std::string detail;
  if (written.starts_with("arn:")) {
    detail = fmt::format("'{}' is a full ARN, used as is", written);
  } else {
    detail = fmt::format("bare name '{}' joined to --base-role-arn {}", written,
                         policy.options().base ? policy.options().base->ToString() : "(none)");
  }
  detail += fmt::format(" -> {} (partition {}, account {}, path {}, name {})", d.role->ToString(),
                        d.role->partition, d.role->account, d.role->path, d.role->name);
  return {"role-arn", StepStatus::kOk, detail};
}

Step NamespaceAnnotationsStep(const identity::RolePolicy& policy, const identity::PodSubject& pod) {
  const auto& keys = policy.options().keys;
  if (!policy.options().namespace_restrictions) {
    return {"namespace-annotations", StepStatus::kInfo,
            "not read: namespace restrictions are off (--namespace-restrictions=false)"};
  }
  std::vector<std::string> parts;
  if (const auto* v = Find(pod.namespace_annotations, keys.allowed_roles)) {
    parts.push_back(fmt::format("{} = {} ({} entries)", keys.allowed_roles, *v,
                                policy.options().format == identity::RestrictionFormat::kGlob
                                    ? "glob"
                                    : "anchored regexp"));
  }
  if (const auto* v = Find(pod.namespace_annotations, keys.permitted)) {
    parts.push_back(fmt::format("{} = '{}' (anchored regexp)", keys.permitted, *v));
  }
  if (pod.namespace_annotations != nullptr) {
    for (const auto* key : {&keys.allowed_roles, &keys.permitted}) {
      auto it = pod.namespace_annotations->find(*key);
      if (it != pod.namespace_annotations->end() && it->second.empty()) {
        parts.push_back(fmt::format("{} is present but empty", *key));
      }
    }
  }
  std::string text;
  for (const auto& part : parts) {
    text += (text.empty() ? "" : "; ") + part;
  }
  return {"namespace-annotations", StepStatus::kInfo,
          fmt::format(
              "namespace {}: {}", pod.namespace_name,
              text.empty() ? "neither " + keys.allowed_roles + " nor " + keys.permitted : text)};
}

std::string Fix(const identity::RolePolicy& policy, const identity::PodSubject& pod,
                const identity::Decision& d, const Asked& asked) {
  const auto& keys = policy.options().keys;
  switch (d.outcome) {
    case Outcome::kAllowed:
      return "";
    case Outcome::kNoRole:
      return fmt::format(
          "annotate the pod or its service account with {}=<role name or ARN>, or set "
          "--default-role",
          keys.role);
    case Outcome::kPending:
      return fmt::format("namespace {} is not known yet: retry once it exists", pod.namespace_name);
    case Outcome::kInvalid:
      if (d.source == RoleSource::kDefault) {
        return "give --default-role a role ARN, or a role name together with --base-role-arn";
      }
      return fmt::format(
          "set {} to a role ARN (arn:PARTITION:iam::ACCOUNT:role/[PATH/]NAME), or to a role name "
          "with --base-role-arn set",
          asked.where);
    case Outcome::kDenied:
      break;
  }
  std::string entry = asked.value != nullptr ? *asked.value : d.role->ToString();
  const auto* allowed = Find(pod.namespace_annotations, keys.allowed_roles);
  const auto* permitted = Find(pod.namespace_annotations, keys.permitted);
  if (d.reason.find("misconfigured") != std::string::npos) {
    return fmt::format(
        "repair namespace {}'s annotation: {} must be a non-empty JSON list of role names or "
        "ARNs (e.g. [\"{}\"]), {} one valid regular expression",
        pod.namespace_name, keys.allowed_roles, entry, keys.permitted);
  }
  if (allowed == nullptr && permitted == nullptr) {
    return fmt::format("kubectl annotate namespace {} '{}=[\"{}\"]'", pod.namespace_name,
                       keys.allowed_roles, entry);
  }
  if (allowed != nullptr) {
    return fmt::format("add \"{}\" to namespace {}'s {} (or ask for a role the namespace allows)",
                       entry, pod.namespace_name, keys.allowed_roles);
  }
  return fmt::format("widen namespace {}'s {} to match {}, or list the role in {}",
                     pod.namespace_name, keys.permitted, d.role->ToString(), keys.allowed_roles);
}

}  // namespace

PathExplanation ExplainRoleDecision(const identity::RolePolicy& policy,
                                    const identity::PodSubject& pod, std::string path) {
  PathExplanation out{.path = std::move(path)};
  // The decision itself: exactly what the agent computes for this pod.
  identity::PodRequest request = identity::DecidePod(policy, pod, {});
  const identity::Decision& d = request.decision;
  out.verdict = std::string(identity::OutcomeName(d.outcome));
  out.role = d.role ? d.role->ToString() : std::string();
  out.reason = d.reason;

  if (d.outcome == Outcome::kPending) {
    out.steps.push_back({"namespace", StepStatus::kRefused, d.reason});
    out.fix = Fix(policy, pod, d, {});
    return out;
  }
  Asked asked = WhatWasAsked(policy, pod, d);
  out.steps.push_back(RoleStep(policy, pod, d, asked));
  if (d.source == RoleSource::kNone) {
    out.fix = Fix(policy, pod, d, asked);
    return out;
  }
  out.steps.push_back(ArnStep(policy, d, asked));
  if (d.role) {
    if (!d.external_id.empty()) {
      out.steps.push_back({"external-id", StepStatus::kInfo,
                           fmt::format("pod annotation {} is set; STS gets it as ExternalId",
                                       policy.options().keys.external_id)});
    }
    out.steps.push_back(NamespaceAnnotationsStep(policy, pod));
    std::string why;
    bool allows = policy.NamespaceAllows(*d.role, pod.namespace_annotations, &why);
    out.steps.push_back({"namespace-policy", allows ? StepStatus::kOk : StepStatus::kRefused, why});
  }
  out.fix = Fix(policy, pod, d, asked);
  return out;
}

Explanation ExplainPolicy(const identity::RolePolicy& policy, const PolicyQuestion& question) {
  identity::Annotations pod_annotations;
  if (!question.role.empty()) {
    pod_annotations.emplace(policy.options().keys.role, question.role);
  }
  identity::Annotations none;
  identity::PodSubject pod{
      .namespace_name = question.namespace_name,
      .pod_name = "explain",
      .pod_uid = "explain",
      .service_account = "default",
      .pod_annotations = &pod_annotations,
      .namespace_annotations =
          question.namespace_annotations != nullptr ? question.namespace_annotations : &none,
  };
  Explanation out{.kind = "policy", .namespace_name = question.namespace_name};
  out.paths.push_back(ExplainRoleDecision(policy, pod, "policy"));
  return out;
}

}  // namespace podiam::explain
