// What `podiam explain` says, as data: for each podiam path (the namespace policy alone, the IMDS
// path, container credentials, IRSA) the checks made in order, each with its outcome, then one
// verdict, the role, the reason and, for a refusal, the fix. Rendered as JSON (the schema in
// docs/explain.md) or as text, coloured only when asked to (app/ asks when stdout is a terminal).
//
// The verdict of every path is the outcome of the decision code the running components use
// (explain/policy.hpp, explain/pod.hpp); the steps only say how it was reached.
//
// Thread-safety: plain values and pure functions.
//
//   explain::Explanation e = explain::ExplainPolicy(policy, {.role = "app", .namespace_name =
//   "a"}); std::fputs(explain::RenderText(e, isatty(1)).c_str(), stdout); return
//   explain::ExitCode(e);
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace podiam::explain {

enum class StepStatus {
  kOk,       // this check passed
  kInfo,     // a fact that decides nothing on its own
  kRefused,  // this check is why the path gives no role
};
std::string_view StepStatusName(StepStatus status);  // "ok", "info", "refused"

struct Step {
  std::string check;  // short name: "role", "namespace-policy", "host-network", ...
  StepStatus status = StepStatus::kInfo;
  std::string detail;
};

// identity::OutcomeName() of the decision ("allowed", "no_role", "denied", "invalid", "pending"),
// or "not_applicable" when the path does not serve this pod at all (e.g. hostNetwork on IMDS).
inline constexpr std::string_view kNotApplicable = "not_applicable";

struct PathExplanation {
  std::string path;  // "policy", "imds", "container-credentials", "irsa"
  std::vector<Step> steps;
  std::string verdict;
  std::string role;    // the role ARN the path would use (allowed) or refuses (denied); else ""
  std::string reason;  // the decision's own reason text
  std::string fix;     // what to change, for a refusal; "" when allowed or nothing to fix
};

struct Explanation {
  std::string kind;  // "policy" or "pod"
  std::string namespace_name;
  std::string name;  // the pod's name; "" for a policy explanation
  std::vector<PathExplanation> paths;
};

// 0 when some path's verdict is "allowed" (the pod, or the policy's one path, gets a role), else 1.
int ExitCode(const Explanation& explanation);

std::string RenderJson(const Explanation& explanation);
std::string RenderText(const Explanation& explanation, bool colour);

}  // namespace podiam::explain
