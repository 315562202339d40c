// Reconciler: one AWSIAMRole -> its Secret and status (docs/controller.md, "Reconcile"). Level
// triggered: it reads what is (the role, its namespace's annotations, the Secret, the cached
// credentials) and writes only what differs, so running it again changes nothing.
//
//   1. role: spec.roleReference resolved (name, name with path, full ARN) -> else InvalidRole;
//   2. policy: the namespace's annotations must allow the role (identity::RolePolicy, the same
//      rules as the agent), and ExternalId policy None needs --allow-no-external-id -> else
//      Denied, and a Secret this role owns is deleted (a denied role keeps no credentials);
//   3. credentials: AssumeRole with ExternalId = namespace[/cluster] and RoleSessionName =
//      namespace.name (CredentialSource: the broker refreshes them before expiry, with jitter,
//      one call per role) -> else GetCredentialsFailed with STS's error code; an existing Secret
//      keeps its last good credentials until they expire (docs/controller.md, "When STS fails");
//      while the broker still serves valid credentials but their refresh fails, Ready stays True
//      with reason RefreshFailing and the STS error;
//   4. Secret: created, owned by the role; an existing one is updated when owned, adopted when
//      annotated podiam.io/adopt: "true", else SecretConflict;
//   5. status: Ready (reason, message), observedGeneration, roleARN, expiration, secretName,
//      written only when changed; Events for every failure and for becoming Ready (STS failures:
//      one Event when the condition changes, not one per retry).
//
// Thread-safety: Reconcile() may run on several threads for different roles.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "podiam/aws/arn.hpp"
#include "podiam/base/clock.hpp"
#include "podiam/base/log.hpp"
#include "podiam/controller/metrics.hpp"
#include "podiam/controller/ports.hpp"
#include "podiam/controller/role_object.hpp"
#include "podiam/controller/secret_format.hpp"
#include "podiam/identity/policy.hpp"
#include "podiam/k8s/cache.hpp"
#include "podiam/k8s/kube_api.hpp"

namespace podiam::controller {

struct ReconcilerOptions {
  std::string cluster_name;           // --cluster-name: part of the default ExternalId
  bool session_tags = false;          // --session-tags: tag sessions (SessionTagsFor)
  bool allow_no_external_id = false;  // --allow-no-external-id
  std::string process_command = "podiam credential-process";  // --credential-process-command
  std::chrono::seconds refresh_before{1800};  // the broker's: when the next Secret update is due
  std::chrono::seconds resync{600};           // every role is looked at again this often
};

// Reasons of the Ready condition and of Events.
namespace reasons {
inline constexpr std::string_view kReady = "CredentialsReady";
inline constexpr std::string_view kInvalidRole = "InvalidRole";
inline constexpr std::string_view kDenied = "Denied";
inline constexpr std::string_view kNamespacePending = "NamespacePending";
inline constexpr std::string_view kGetCredentialsFailed = "GetCredentialsFailed";
inline constexpr std::string_view kRefreshFailing = "RefreshFailing";
inline constexpr std::string_view kSecretConflict = "SecretConflict";
inline constexpr std::string_view kSecretWriteFailed = "SecretWriteFailed";
inline constexpr std::string_view kSecretAdopted = "SecretAdopted";
}  // namespace reasons

// Steps 1 and 2 of a reconcile, alone and pure: which role the AWSIAMRole names and whether this
// controller may get it for the namespace. `podiam explain pod` calls this very function for its
// controller path (docs/explain.md), so both always agree.
struct RoleDecision {
  std::optional<aws::RoleArn> arn;  // set unless the reference does not resolve
  std::string_view reason;          // "" (allowed), reasons::kInvalidRole or reasons::kDenied
  std::string message;              // why, for a refusal (the status message and Event)
};
// `namespace_annotations` null: the namespace has none (the caller handles an unknown namespace).
RoleDecision DecideRole(const identity::RolePolicy& policy, const RoleObject& role,
                        const identity::Annotations* namespace_annotations,
                        bool allow_no_external_id);

struct ReconcileResult {
  std::string result;  // the metric's label
  bool retry = false;  // rate-limited retry (transient failure)
  // Look again after this; with `retry`, a cap on the backoff (the earlier wins).
  std::optional<std::chrono::nanoseconds> requeue_after;
};

class Reconciler {
 public:
  Reconciler(k8s::KubeApi& api, const identity::RolePolicy& policy,
             const k8s::NamespaceCache& namespaces, CredentialSource& credentials,
             EventSink& events, const Clock& clock, ControllerMetrics& metrics,
             ReconcilerOptions options);

  ReconcileResult Reconcile(const RoleObject& role);
  // The role was deleted: its Secret goes with it (garbage collection); forget its credentials.
  void Deleted(const RoleObject& role);

  [[nodiscard]] const ReconcilerOptions& options() const { return options_; }

 private:
  struct Ready {
    std::string status;  // "True" / "False" / "Unknown"
    std::string_view reason;
    std::string message;
    std::string role_arn;
    std::string expiration;
    std::string secret_name;
  };
  ReconcileResult Fail(const RoleObject& role, std::string_view reason, std::string message,
                       std::string_view result, bool retry, const std::string& role_arn = "");
  // Writes the status when it differs from what the role carries; Events on transitions.
  void WriteStatus(const RoleObject& role, const Ready& ready);
  // Creates, updates or adopts the Secret; returns the result label, or an error.
  Result<std::string> WriteSecret(const RoleObject& role, const FileMap& files);
  void DeleteOwnedSecret(const RoleObject& role);
  [[nodiscard]] std::chrono::nanoseconds NextLook(const aws::Credentials& credentials) const;

  k8s::KubeApi& api_;
  const identity::RolePolicy& policy_;
  const k8s::NamespaceCache& namespaces_;
  CredentialSource& credentials_;
  EventSink& events_;
  const Clock& clock_;
  ControllerMetrics& metrics_;
  ReconcilerOptions options_;
  log::Logger log_{"controller"};
};

// The Event's subject for a role.
k8s::ObjectReference ReferenceTo(const RoleObject& role);

}  // namespace podiam::controller
