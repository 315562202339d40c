// Tells people about role decisions: every decision is counted and logged once per change (not
// per request), and every denial or invalid annotation is also a Warning Event on the pod, where
// `kubectl describe pod` shows it. A pending decision (namespace not known yet) is only a debug
// line: it is not an answer yet.
//
// Thread-safety: Report() from any thread (the EventRecorder and metrics are thread-safe).
//
//   callers::DecisionReport report(&events, metrics);
//   report.Report(pod, caller.decision, previous ? &previous->decision : nullptr);
#pragma once

#include "podiam/base/log.hpp"
#include "podiam/callers/metrics.hpp"
#include "podiam/identity/policy.hpp"
#include "podiam/k8s/event_recorder.hpp"
#include "podiam/k8s/views.hpp"

namespace podiam::callers {

class DecisionReport {
 public:
  // `events` may be null (no Events).
  DecisionReport(k8s::EventRecorder* events, CallerMetrics& metrics)
      : events_(events), metrics_(metrics) {}

  // `previous`: the decision this pod had before, null when none; nothing is said when the
  // outcome and reason are unchanged.
  void Report(const k8s::PodView& pod, const identity::Decision& decision,
              const identity::Decision* previous);

 private:
  k8s::EventRecorder* events_;
  CallerMetrics& metrics_;
  log::Logger log_{"agent"};
};

}  // namespace podiam::callers
