#include "podiam/explain/pod.hpp"

#include <fmt/format.h>

#include "podiam/agent/container_sources.hpp"
#include "podiam/base/clock.hpp"
#include "podiam/creds/credential_broker.hpp"
#include "podiam/explain/controller_path.hpp"
#include "podiam/explain/policy.hpp"
#include "podiam/identity/pod_request.hpp"
#include "podiam/k8s/pod_cache.hpp"
#include "podiam/metrics/registry.hpp"

namespace podiam::explain {
namespace {

using identity::Outcome;

// Keeps every annotation (a prefix "" matches all keys).
const k8s::AnnotationFilter& KeepAll() {
  static const k8s::AnnotationFilter kKeep({"*"});
  return kKeep;
}

// The resolver needs a broker; explain never fetches credentials, so its STS refuses.
class NoSts final : public aws::StsClient {
 public:
  Result<aws::AssumeRoleResult> AssumeRole(const aws::AssumeRoleRequest& /*r*/) override {
    return Refuse();
  }
  Result<aws::AssumeRoleResult> AssumeRoleAs(const aws::Credentials& /*caller*/,
                                             const aws::AssumeRoleRequest& /*r*/) override {
    return Refuse();
  }
  Result<aws::AssumeRoleWithWebIdentityResult> AssumeRoleWithWebIdentity(
      const aws::AssumeRoleWithWebIdentityRequest& /*r*/) override {
    return Refuse();
  }
  Result<aws::CallerIdentity> GetCallerIdentity() override { return Refuse(); }

 private:
  static tl::unexpected<Error> Refuse() {
    return MakeError(ErrorCode::kFailedPrecondition, "podiam explain never calls STS");
  }
};

// What the webhook would do to this pod now; changed == false: it already carries everything.
Result<webhook::Mutation> MutationOf(const k8s::Json& pod, const std::string& namespace_name,
                                     const k8s::Annotations* service_account,
                                     bool container_credentials, const PodSettings& settings,
                                     Random& random) {
  webhook::OJson ordered = webhook::OJson::parse(pod.dump());
  return webhook::Mutate(ordered,
                         {.namespace_name = namespace_name,
                          .service_account = service_account,
                          .container_credentials = container_credentials},
                         settings.webhook, random);
}

PathExplanation ImdsPath(const identity::RolePolicy& policy, const k8s::PodView& pod,
                         const identity::PodSubject& subject) {
  if (!k8s::PodCache::OwnsIps(pod)) {
    PathExplanation out{.path = "imds", .verdict = std::string(kNotApplicable)};
    if (pod.host_network) {
      out.steps.push_back({"host-network", StepStatus::kRefused,
                           "the pod uses the node's network: its requests come from the node's "
                           "own address, which the agent answers as no pod"});
      out.reason = "hostNetwork pods cannot be told apart from the node on the IMDS path";
      out.fix = "use IRSA or container credentials (token-based) for this pod, or drop hostNetwork";
    } else {
      out.steps.push_back({"pod-phase", StepStatus::kRefused,
                           fmt::format("the pod is {}: it owns no address any more",
                                       k8s::PodPhaseName(pod.phase))});
      out.reason = "finished pods are served nothing";
    }
    return out;
  }
  PathExplanation out = ExplainRoleDecision(policy, subject, "imds");
  out.steps.insert(out.steps.begin(),
                   {"host-network", StepStatus::kOk, "the pod has its own network namespace"});
  if (pod.pod_ips.empty()) {
    out.steps.insert(out.steps.begin() + 1,
                     {"pod-ip", StepStatus::kRefused,
                      "the pod has no IP address yet: no request can come from it"});
    out.reason = "no IP address yet; once it has one: " + out.reason;
    out.verdict = std::string(identity::OutcomeName(Outcome::kPending));
    out.fix =
        "wait for the pod's IP (kubectl get pod -o wide); if none comes, the CNI has not "
        "set the pod up";
  } else {
    std::string ips;
    for (const auto& ip : pod.pod_ips) {
      ips += (ips.empty() ? "" : ", ") + ip;
    }
    out.steps.insert(out.steps.begin() + 1,
                     {"pod-ip", StepStatus::kOk, "requests from " + ips + " are this pod's"});
  }
  return out;
}

PathExplanation ContainerCredentialsPath(const identity::RolePolicy& policy, const PodFacts& facts,
                                         const k8s::PodView& pod, const PodSettings& settings,
                                         Random& random, bool& associated) {
  PathExplanation out{.path = "container-credentials"};
  // The agent's resolver over caches holding just what was read.
  agent::AssociationCache associations;
  k8s::PodCache pods;
  k8s::NamespaceCache namespaces({.annotation_keys = {"*"}});
  k8s::ServiceAccountCache service_accounts({.annotation_keys = {"*"}});
  std::vector<std::string> mine;
  for (const auto& object : facts.associations) {
    if (auto view = agent::AssociationFromJson(object)) {
      if (view->namespace_name == pod.namespace_name &&
          view->service_account == pod.service_account_name) {
        mine.push_back(view->name + " -> " + view->role_arn);
      }
      associations.Upsert(std::move(*view));
    }
  }
  if (facts.namespace_object) {
    if (auto view = k8s::NamespaceFromJson(*facts.namespace_object, KeepAll())) {
      namespaces.Upsert(std::move(*view));
    }
  }
  const k8s::Annotations* sa_annotations = nullptr;
  std::optional<k8s::ServiceAccountView> sa;
  if (facts.service_account) {
    if (auto view = k8s::ServiceAccountFromJson(*facts.service_account, KeepAll())) {
      sa = *view;
      sa_annotations = &sa->annotations;
      service_accounts.Upsert(std::move(*view));
    }
  }
  SystemClock clock;
  metrics::Registry registry;
  NoSts sts;
  creds::CredentialBroker broker(sts, clock, random, registry, {.max_concurrent_sts = 1});
  agent::AssociationRoles roles(
      associations, pods, namespaces, service_accounts, policy, broker,
      {.from_annotations = settings.container_credentials_from_annotations});
  containercreds::RoleChoice choice = roles.Decide(agent::PodCacheResolver::Info(pod));
  associated = !mine.empty();

  if (!facts.associations_error.empty()) {
    out.steps.push_back({"associations", StepStatus::kInfo,
                         "PodIdentityAssociations could not be read (" + facts.associations_error +
                             "); decided as if there were none"});
  } else if (mine.empty()) {
    out.steps.push_back({"association", StepStatus::kInfo,
                         fmt::format("no PodIdentityAssociation for service account {}/{}",
                                     pod.namespace_name, pod.service_account_name)});
  } else {
    std::string list;
    for (const auto& m : mine) {
      list += (list.empty() ? "" : "; ") + m;
    }
    out.steps.push_back({"association", StepStatus::kOk,
                         fmt::format("service account {} is associated: {} (with several, the "
                                     "first name wins)",
                                     pod.service_account_name, list)});
  }
  out.verdict = std::string(identity::OutcomeName(choice.outcome));
  out.role = choice.spec ? choice.spec->key.role_arn : std::string();
  out.reason = choice.reason;
  if (choice.outcome == Outcome::kNoRole) {
    out.reason = fmt::format("no PodIdentityAssociation for service account {}{}",
                             pod.service_account_name, choice.reason);
  }
  out.steps.push_back(
      {"role", choice.outcome == Outcome::kAllowed ? StepStatus::kOk : StepStatus::kRefused,
       choice.outcome == Outcome::kAllowed
           ? fmt::format("{} from the {}; the namespace policy allows it", out.role, choice.source)
           : out.reason});
  auto mutation =
      MutationOf(facts.pod, pod.namespace_name, sa_annotations, associated, settings, random);
  bool injected =
      mutation && mutation->mode == webhook::Mode::kContainerCredentials && !mutation->changed;
  out.steps.push_back(
      {"token-injected", injected ? StepStatus::kOk : StepStatus::kInfo,
       injected ? fmt::format("the pod has the projected token (audience {}) and "
                              "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                              settings.webhook.container_credentials.audience)
                : fmt::format("the pod lacks the projected token (audience {}) or "
                              "AWS_CONTAINER_CREDENTIALS_FULL_URI: the webhook did not inject "
                              "them (it does for pods created while an association exists)",
                              settings.webhook.container_credentials.audience)});
  switch (choice.outcome) {
    case Outcome::kAllowed:
      if (!injected) {
        out.fix = "recreate the pod so that the webhook injects the container-credentials token";
      }
      break;
    case Outcome::kNoRole:
      out.fix = fmt::format(
          "create a PodIdentityAssociation for service account {}/{} (or annotate it with the "
          "role when --container-credentials-from-annotations is on)",
          pod.namespace_name, pod.service_account_name);
      break;
    case Outcome::kDenied:
      out.fix =
          "allow the role in the namespace's iam.amazonaws.com/allowed-roles or "
          "iam.amazonaws.com/permitted (podiam explain policy shows how)";
      break;
    case Outcome::kInvalid:
      out.fix = "correct the PodIdentityAssociation's roleArn (or the ServiceAccount annotation)";
      break;
    case Outcome::kPending:
      out.fix = "retry once the namespace is readable";
      break;
  }
  return out;
}

PathExplanation IrsaPath(const PodFacts& facts, const k8s::PodView& pod,
                         const k8s::Annotations* sa_annotations, bool associated,
                         const PodSettings& settings, Random& random) {
  PathExplanation out{.path = "irsa"};
  std::string key = settings.webhook.annotation_prefix + "/role-arn";
  if (sa_annotations == nullptr) {
    out.steps.push_back(
        {"service-account", StepStatus::kRefused,
         fmt::format("service account {} does not exist", pod.service_account_name)});
    out.verdict = std::string(identity::OutcomeName(Outcome::kNoRole));
    out.reason = "the webhook injects nothing for a pod whose service account does not exist";
    out.fix =
        fmt::format("create service account {}/{}", pod.namespace_name, pod.service_account_name);
    return out;
  }
  webhook::ServiceAccountSettings sa =
      webhook::ReadServiceAccount(*sa_annotations, settings.webhook);
  if (sa.role_arn.empty()) {
    out.steps.push_back(
        {"role-arn-annotation", StepStatus::kInfo,
         fmt::format("service account {} has no {}", pod.service_account_name, key)});
    out.verdict = std::string(identity::OutcomeName(Outcome::kNoRole));
    out.reason = fmt::format("service account {} has no {}", pod.service_account_name, key);
    out.fix = fmt::format(
        "kubectl annotate serviceaccount -n {} {} {}=<role ARN>, then recreate "
        "the pod",
        pod.namespace_name, pod.service_account_name, key);
    return out;
  }
  out.role = sa.role_arn;
  out.steps.push_back({"role-arn-annotation", StepStatus::kOk,
                       fmt::format("service account {} has {} = {} (token audience {})",
                                   pod.service_account_name, key, sa.role_arn, sa.audience)});
  auto mutation =
      MutationOf(facts.pod, pod.namespace_name, sa_annotations, associated, settings, random);
  if (!mutation) {
    out.steps.push_back({"mutation", StepStatus::kRefused, mutation.error().message()});
    out.verdict = std::string(identity::OutcomeName(Outcome::kInvalid));
    out.reason = "the webhook cannot mutate this pod: " + mutation.error().message();
    return out;
  }
  if (mutation->mode == webhook::Mode::kContainerCredentials) {
    out.steps.push_back({"mutation", StepStatus::kInfo,
                         "a PodIdentityAssociation selects container credentials for this "
                         "service account, which the webhook injects instead"});
    out.verdict = std::string(kNotApplicable);
    out.reason = "container credentials take precedence over IRSA for this service account";
    return out;
  }
  if (mutation->changed) {
    out.steps.push_back({"mutation", StepStatus::kRefused,
                         "the pod lacks AWS_ROLE_ARN / AWS_WEB_IDENTITY_TOKEN_FILE or the "
                         "aws-iam-token volume: it was not mutated"});
    out.verdict = "not_mutated";
    out.reason =
        "the service account asks for IRSA but the pod was created without the "
        "webhook's injection";
    out.fix = fmt::format(
        "recreate the pod (the webhook mutates pods at creation only); check that the "
        "MutatingWebhookConfiguration of podiam webhook covers namespace {}",
        pod.namespace_name);
    return out;
  }
  out.steps.push_back({"mutation", StepStatus::kOk,
                       "the pod carries AWS_ROLE_ARN, AWS_WEB_IDENTITY_TOKEN_FILE and the "
                       "projected token volume"});
  out.verdict = std::string(identity::OutcomeName(Outcome::kAllowed));
  out.reason =
      "the SDK calls STS AssumeRoleWithWebIdentity itself; the role's trust policy "
      "decides (podiam doctor --path irsa)";
  return out;
}

}  // namespace

Result<Explanation> ExplainPod(const identity::RolePolicy& policy, const PodFacts& facts,
                               const PodSettings& settings, Random& random) {
  auto pod = k8s::PodFromJson(facts.pod, KeepAll());
  if (!pod) {
    return MakeError(ErrorCode::kInvalidArgument, "not a pod: " + pod.error().message());
  }
  Explanation out{.kind = "pod", .namespace_name = pod->namespace_name, .name = pod->name};
  std::optional<k8s::ServiceAccountView> sa;
  if (facts.service_account) {
    if (auto view = k8s::ServiceAccountFromJson(*facts.service_account, KeepAll())) {
      sa = std::move(*view);
    }
  }
  std::optional<k8s::NamespaceView> ns;
  if (facts.namespace_object) {
    if (auto view = k8s::NamespaceFromJson(*facts.namespace_object, KeepAll())) {
      ns = std::move(*view);
    }
  }
  identity::PodSubject subject{
      .namespace_name = pod->namespace_name,
      .pod_name = pod->name,
      .pod_uid = pod->uid,
      .service_account = pod->service_account_name,
      .pod_annotations = &pod->annotations,
      .service_account_annotations = sa ? &sa->annotations : nullptr,
      .namespace_annotations = ns ? &ns->annotations : nullptr,
  };
  out.paths.push_back(ImdsPath(policy, *pod, subject));
  bool associated = false;
  out.paths.push_back(ContainerCredentialsPath(policy, facts, *pod, settings, random, associated));
  out.paths.push_back(
      IrsaPath(facts, *pod, sa ? &sa->annotations : nullptr, associated, settings, random));
  out.paths.push_back(ExplainControllerPath(policy, facts, settings.controller));
  return out;
}

}  // namespace podiam::explain
