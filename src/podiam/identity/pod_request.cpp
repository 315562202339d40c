#include "podiam/identity/pod_request.hpp"

#include <fmt/format.h>

namespace podiam::identity {

PodRequest DecidePod(const RolePolicy& policy, const PodSubject& pod,
                     const PodRequestOptions& options) {
  PodRequest out;
  if (pod.namespace_annotations == nullptr && policy.options().namespace_restrictions) {
    out.decision = {.outcome = Outcome::kPending,
                    .reason = fmt::format("namespace {} is not known to the agent yet; retry",
                                          pod.namespace_name)};
    return out;
  }
  out.decision = policy.Decide({
      .namespace_name = std::string(pod.namespace_name),
      .pod_name = std::string(pod.pod_name),
      .service_account = std::string(pod.service_account),
      .pod_annotations = pod.pod_annotations,
      .service_account_annotations = pod.service_account_annotations,
      .namespace_annotations = pod.namespace_annotations,
  });
  if (out.decision.outcome != Outcome::kAllowed) {
    return out;
  }
  std::string_view annotation;
  if (pod.pod_annotations != nullptr) {
    if (auto it = pod.pod_annotations->find(policy.options().keys.session_name);
        it != pod.pod_annotations->end()) {
      annotation = it->second;
    }
  }
  Session session = DeriveSession({.namespace_name = pod.namespace_name,
                                   .pod_name = pod.pod_name,
                                   .pod_uid = pod.pod_uid,
                                   .service_account = pod.service_account,
                                   .annotation = annotation},
                                  options.session);
  out.spec =
      creds::CredentialSpec{.key = {.role_arn = out.decision.role->ToString(),
                                    .external_id = out.decision.external_id,
                                    .session_name = std::move(session.name),
                                    .owner = std::move(session.owner),
                                    .tags = std::move(session.tags),
                                    .source_identity = std::move(session.source_identity),
                                    .duration_seconds = options.duration_seconds},
                            .pod = creds::PodRef{.namespace_name = std::string(pod.namespace_name),
                                                 .name = std::string(pod.pod_name),
                                                 .uid = std::string(pod.pod_uid)}};
  return out;
}

}  // namespace podiam::identity
