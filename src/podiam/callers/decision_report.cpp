#include "podiam/callers/decision_report.hpp"

namespace podiam::callers {

void DecisionReport::Report(const k8s::PodView& pod, const identity::Decision& d,
                            const identity::Decision* previous) {
  if (previous != nullptr && previous->outcome == d.outcome && previous->reason == d.reason) {
    return;  // nothing new to say
  }
  if (d.outcome == identity::Outcome::kPending) {
    log_.Debug("role decision pending", {{"namespace", pod.namespace_name}, {"pod", pod.name}});
    return;
  }
  metrics_.decisions.WithLabels({identity::OutcomeName(d.outcome)}).Inc();
  log::Level level =
      (d.outcome == identity::Outcome::kDenied || d.outcome == identity::Outcome::kInvalid)
          ? log::Level::kWarn
          : log::Level::kInfo;
  log_.Log(level, "role decision",
           {{"namespace", pod.namespace_name},
            {"pod", pod.name},
            {"outcome", std::string(identity::OutcomeName(d.outcome))},
            {"source", std::string(identity::RoleSourceName(d.source))},
            {"role", d.role ? d.role->ToString() : std::string()},
            {"reason", d.reason}});
  if (events_ != nullptr && level == log::Level::kWarn) {
    events_->Record({.api_version = "v1",
                     .kind = "Pod",
                     .namespace_name = pod.namespace_name,
                     .name = pod.name,
                     .uid = pod.uid},
                    k8s::EventType::kWarning,
                    d.outcome == identity::Outcome::kDenied ? "IAMRoleDenied" : "IAMRoleInvalid",
                    "AssumeRole", d.reason);
  }
}

}  // namespace podiam::callers
