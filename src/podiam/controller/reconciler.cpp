#include "podiam/controller/reconciler.hpp"

#include <algorithm>

#include "podiam/k8s/resource.hpp"
#include "podiam/k8s/timestamps.hpp"

namespace podiam::controller {
namespace {

constexpr std::chrono::seconds kMinLook{15};
constexpr std::chrono::seconds kPendingLook{5};
// The longest wait between retries of a transient failure. A retry makes no STS call of its own
// while the broker backs off (it returns the last error), so a short cap costs nothing and lets
// the Secret follow within a minute once STS answers again.
constexpr std::chrono::seconds kMaxRetry{60};

bool IsStsReason(std::string_view reason) {
  return reason == reasons::kGetCredentialsFailed || reason == reasons::kRefreshFailing;
}

std::string Describe(const Error& e) {
  return (e.upstream_code().empty() ? "" : e.upstream_code() + ": ") + e.message();
}

}  // namespace

k8s::ObjectReference ReferenceTo(const RoleObject& role) {
  return {.api_version = role.api_version,
          .kind = "AWSIAMRole",
          .namespace_name = role.namespace_name,
          .name = role.name,
          .uid = role.uid};
}

Reconciler::Reconciler(k8s::KubeApi& api, const identity::RolePolicy& policy,
                       const k8s::NamespaceCache& namespaces, CredentialSource& credentials,
                       EventSink& events, const Clock& clock, ControllerMetrics& metrics,
                       ReconcilerOptions options)
    : api_(api),
      policy_(policy),
      namespaces_(namespaces),
      credentials_(credentials),
      events_(events),
      clock_(clock),
      metrics_(metrics),
      options_(std::move(options)) {}

RoleDecision DecideRole(const identity::RolePolicy& policy, const RoleObject& role,
                        const identity::Annotations* namespace_annotations,
                        bool allow_no_external_id) {
  RoleDecision out;
  auto arn = ResolveRoleReference(role.role_reference, policy.options().base);
  if (!arn) {
    out.reason = reasons::kInvalidRole;
    out.message = arn.error().message();
    return out;
  }
  out.arn = *arn;
  std::string why;
  if (role.external_id_policy == ExternalIdPolicy::kNone && !allow_no_external_id) {
    why = "externalIdPolicy None is not allowed by this controller (--allow-no-external-id)";
  } else if (!policy.NamespaceAllows(*arn, namespace_annotations, &why)) {
    if (why.empty()) {
      why = "namespace " + role.namespace_name + " does not allow role " + arn->ToString();
    }
  } else {
    why.clear();
  }
  if (!why.empty()) {
    out.reason = reasons::kDenied;
    out.message = std::move(why);
  }
  return out;
}

ReconcileResult Reconciler::Reconcile(const RoleObject& role) {
  // An unknown namespace (not yet in the cache) is looked at again soon.
  auto ns = namespaces_.Namespace(role.namespace_name);
  if (ns == nullptr &&
      ResolveRoleReference(role.role_reference, policy_.options().base).has_value()) {
    ReconcileResult r{.result = "pending", .requeue_after = kPendingLook};
    metrics_.reconciles.WithLabels({r.result}).Inc();
    return r;
  }
  // 1. and 2.: which role, and may this namespace have it.
  RoleDecision decision = DecideRole(policy_, role, ns == nullptr ? nullptr : &ns->annotations,
                                     options_.allow_no_external_id);
  if (decision.reason == reasons::kInvalidRole) {
    credentials_.Forget(role.uid);
    return Fail(role, reasons::kInvalidRole, decision.message, "invalid", false);
  }
  const std::string role_arn = decision.arn->ToString();
  if (decision.reason == reasons::kDenied) {
    credentials_.Forget(role.uid);
    DeleteOwnedSecret(role);
    return Fail(role, reasons::kDenied, decision.message, "denied", false, role_arn);
  }

  // 3. Credentials (cached and refreshed by the broker).
  creds::CredentialSpec spec{
      .key = {.role_arn = role_arn,
              .external_id = ExternalIdFor(role, options_.cluster_name),
              .session_name = SessionNameFor(role),
              .session_policy = role.session_policy,
              .owner = "awsiamrole/" + role.uid,
              .tags = SessionTagsFor(role, options_.session_tags, options_.cluster_name),
              .duration_seconds = role.duration_seconds}};
  auto credentials = credentials_.Get(role.uid, spec);
  if (!credentials) {
    const Error& e = credentials.error();
    std::string message = "AssumeRole " + role_arn + " failed: " + Describe(e);
    if (!role.status_expiration.empty()) {
      message +=
          "; the Secret keeps its last credentials, which expire at " + role.status_expiration;
    }
    return Fail(role, reasons::kGetCredentialsFailed, message, "sts_error", true, role_arn);
  }
  if (credentials->expiration) {
    metrics_.remaining.Observe(
        std::chrono::duration<double>(*credentials->expiration - clock_.Now()).count());
  }

  // 4. The Secret.
  FileMap files = SecretFiles(*credentials, role_arn, options_.process_command);
  auto written = WriteSecret(role, files);
  if (!written) {
    bool conflict = written.error().code() == ErrorCode::kFailedPrecondition;
    if (conflict) {
      return Fail(role, reasons::kSecretConflict, written.error().message(), "secret_conflict",
                  false, role_arn);
    }
    return Fail(role, reasons::kSecretWriteFailed, written.error().ToString(), "kube_error", true,
                role_arn);
  }

  // 5. Status. The credentials are valid; if their refresh is failing, say so (still Ready).
  std::string expiration = files["expiration"];
  std::string message = "Secret " + role.secret_name + " holds credentials for " + role_arn +
                        ", expiring at " + expiration;
  std::string_view reason = reasons::kReady;
  std::string_view result = "ok";
  if (auto refresh_error = credentials_.RefreshError(role.uid)) {
    reason = reasons::kRefreshFailing;
    result = "refresh_failing";
    message += "; refreshing them fails (" + Describe(*refresh_error) +
               "), retried with backoff; the Secret keeps them until a refresh succeeds";
    if (role.ready_reason != reasons::kRefreshFailing) {
      log_.Warn("AWSIAMRole credentials refresh failing",
                {{"namespace", role.namespace_name}, {"name", role.name}, {"message", message}});
    }
  }
  WriteStatus(role, {.status = "True",
                     .reason = reason,
                     .message = std::move(message),
                     .role_arn = role_arn,
                     .expiration = expiration,
                     .secret_name = role.secret_name});
  // While the refresh fails, look often (no STS call: the broker retries), to follow it.
  ReconcileResult r{.result = std::string(result),
                    .requeue_after = reason == reasons::kRefreshFailing
                                         ? std::chrono::nanoseconds(kMinLook)
                                         : NextLook(*credentials)};
  metrics_.reconciles.WithLabels({r.result}).Inc();
  return r;
}

void Reconciler::Deleted(const RoleObject& role) {
  credentials_.Forget(role.uid);
  metrics_.reconciles.WithLabels({"deleted"}).Inc();
}

ReconcileResult Reconciler::Fail(const RoleObject& role, std::string_view reason,
                                 std::string message, std::string_view result, bool retry,
                                 const std::string& role_arn) {
  log_.Warn("AWSIAMRole not ready", {{"namespace", role.namespace_name},
                                     {"name", role.name},
                                     {"reason", std::string(reason)},
                                     {"message", message}});
  // Keep what the status said about the last good credentials: they are still in the Secret.
  WriteStatus(
      role,
      {.status = "False",
       .reason = reason,
       .message = std::move(message),
       .role_arn = role_arn.empty() ? role.status_role_arn : role_arn,
       .expiration = reason == reasons::kGetCredentialsFailed ? role.status_expiration : "",
       .secret_name = reason == reasons::kGetCredentialsFailed ? role.status_secret_name : ""});
  ReconcileResult r{.result = std::string(result), .retry = retry};
  r.requeue_after = retry ? std::chrono::nanoseconds(kMaxRetry) : options_.resync;
  metrics_.reconciles.WithLabels({r.result}).Inc();
  return r;
}

void Reconciler::WriteStatus(const RoleObject& role, const Ready& ready) {
  bool transition = role.ready_status != ready.status || role.ready_reason != ready.reason;
  bool same = !transition && role.ready_message == ready.message &&
              role.status_role_arn == ready.role_arn &&
              role.status_expiration == ready.expiration &&
              role.status_secret_name == ready.secret_name &&
              role.status_observed_generation == role.generation;
  if (same) {
    return;
  }
  // Events: every failure (aggregated by the recorder), and becoming Ready. STS failures only
  // when the condition changes: their message may differ per retry (docs/controller.md).
  bool warning = ready.status != "True" || ready.reason == reasons::kRefreshFailing;
  if (warning && (transition || !IsStsReason(ready.reason))) {
    events_.Record(ReferenceTo(role), k8s::EventType::kWarning, ready.reason, ready.message);
  } else if (!warning && transition) {
    events_.Record(ReferenceTo(role), k8s::EventType::kNormal, ready.reason, ready.message);
  }
  std::string since = transition || role.ready_transition_time.empty()
                          ? k8s::FormatTime(clock_.Now())
                          : role.ready_transition_time;
  k8s::Json status = {{"observedGeneration", role.generation},
                      {"conditions", k8s::Json::array({{{"type", "Ready"},
                                                        {"status", ready.status},
                                                        {"reason", std::string(ready.reason)},
                                                        {"message", ready.message},
                                                        {"observedGeneration", role.generation},
                                                        {"lastTransitionTime", since}}})}};
  // null removes a field in a merge patch.
  status["roleARN"] = ready.role_arn.empty() ? k8s::Json(nullptr) : k8s::Json(ready.role_arn);
  status["expiration"] =
      ready.expiration.empty() ? k8s::Json(nullptr) : k8s::Json(ready.expiration);
  status["secretName"] =
      ready.secret_name.empty() ? k8s::Json(nullptr) : k8s::Json(ready.secret_name);
  k8s::Resource resource = role.api_version == "zalando.org/v1" ? ZalandoRoles() : PodiamRoles();
  auto ok =
      api_.MergePatch(resource, role.namespace_name, role.name, {{"status", status}}, "status");
  if (!ok && ok.error().code() != ErrorCode::kNotFound) {
    log_.Warn("cannot write the AWSIAMRole's status", {{"namespace", role.namespace_name},
                                                       {"name", role.name},
                                                       {"error", ok.error().ToString()}});
  }
}

Result<std::string> Reconciler::WriteSecret(const RoleObject& role, const FileMap& files) {
  const k8s::Resource secrets = k8s::resources::Secrets();
  auto existing = api_.Get(secrets, role.namespace_name, role.secret_name);
  if (!existing && existing.error().code() != ErrorCode::kNotFound) {
    return tl::unexpected(existing.error());
  }
  if (!existing) {
    auto created = api_.Create(secrets, role.namespace_name, SecretObject(role, files));
    metrics_.secret_writes.WithLabels({created ? "create" : "error"}).Inc();
    if (!created) {
      // Someone else made it in between: the next reconcile sees it and decides.
      return tl::unexpected(created.error().code() == ErrorCode::kConflict
                                ? Error(ErrorCode::kUnavailable, created.error().message())
                                : created.error());
    }
    log_.Info("Secret created", {{"namespace", role.namespace_name},
                                 {"secret", role.secret_name},
                                 {"expiration", files.at("expiration")}});
    return std::string("create");
  }
  bool owned = OwnedBy(*existing, role);
  if (!owned && !Adoptable(*existing)) {
    return tl::unexpected(
        Error(ErrorCode::kFailedPrecondition,
              "Secret " + role.secret_name +
                  " exists and is not managed by this AWSIAMRole; annotate it podiam.io/adopt: "
                  "\"true\" to let the controller take it over, or set spec.secretName"));
  }
  if (owned && DecodedSecretData(*existing) == files) {
    return std::string("unchanged");
  }
  k8s::Json desired = SecretObject(role, files);
  k8s::Json updated = *existing;
  updated["data"] = k8s::Json::object();  // stringData replaces every key
  updated["stringData"] = desired["stringData"];
  updated["type"] = existing->value("type", "Opaque");
  auto& meta = updated["metadata"];
  meta["labels"][std::string(kManagedByLabel)] = std::string(kManagedByValue);
  if (!owned) {
    k8s::Json owners = meta.value("ownerReferences", k8s::Json::array());
    for (auto& o : owners) {  // one controller only
      if (o.is_object()) {
        o.erase("controller");
      }
    }
    owners.push_back(desired["metadata"]["ownerReferences"][0]);
    meta["ownerReferences"] = owners;
  }
  auto ok = api_.Update(secrets, role.namespace_name, updated);
  const char* op = owned ? "update" : "adopt";
  metrics_.secret_writes.WithLabels({ok ? op : "error"}).Inc();
  if (!ok) {
    return tl::unexpected(ok.error());
  }
  if (!owned) {
    events_.Record(ReferenceTo(role), k8s::EventType::kNormal, reasons::kSecretAdopted,
                   "adopted the existing Secret " + role.secret_name + " (podiam.io/adopt)");
  }
  log_.Info(owned ? "Secret updated" : "Secret adopted", {{"namespace", role.namespace_name},
                                                          {"secret", role.secret_name},
                                                          {"expiration", files.at("expiration")}});
  return std::string(op);
}

void Reconciler::DeleteOwnedSecret(const RoleObject& role) {
  const k8s::Resource secrets = k8s::resources::Secrets();
  auto existing = api_.Get(secrets, role.namespace_name, role.secret_name);
  if (!existing || !OwnedBy(*existing, role)) {
    return;
  }
  auto ok = api_.Delete(secrets, role.namespace_name, role.secret_name,
                        {.precondition_uid = k8s::MetadataString(*existing, "uid")});
  metrics_.secret_writes.WithLabels({ok ? "delete" : "error"}).Inc();
}

std::chrono::nanoseconds Reconciler::NextLook(const aws::Credentials& credentials) const {
  std::chrono::nanoseconds look = options_.resync;
  if (credentials.expiration) {
    // The broker refreshes (with jitter) before expiration - refresh_before; look just after.
    auto due =
        *credentials.expiration - options_.refresh_before + std::chrono::seconds(30) - clock_.Now();
    look = std::min(look, std::chrono::duration_cast<std::chrono::nanoseconds>(due));
  }
  return std::max<std::chrono::nanoseconds>(look, kMinLook);
}

}  // namespace podiam::controller
