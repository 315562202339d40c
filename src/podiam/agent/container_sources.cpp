#include "podiam/agent/container_sources.hpp"

#include <fmt/format.h>

#include "podiam/aws/arn.hpp"
#include "podiam/identity/session_name.hpp"

namespace podiam::agent {

std::size_t AssociationView::MemoryBytes() const {
  return sizeof(*this) + namespace_name.capacity() + name.capacity() + uid.capacity() +
         resource_version.capacity() + service_account.capacity() + role_arn.capacity() +
         target_role_arn.capacity() + external_id.capacity() + policy.capacity() +
         conditions.size() * sizeof(StoredCondition);
}

k8s::Resource PodIdentityAssociations() {
  return k8s::Resource{.group = "podiam.io",
                       .version = "v1alpha1",
                       .plural = "podidentityassociations",
                       .namespaced = true,
                       .kind = "PodIdentityAssociation"};
}

Result<AssociationView> AssociationFromJson(const k8s::Json& object) {
  AssociationView v;
  v.namespace_name = k8s::StringAt(object, "metadata", "namespace");
  v.name = k8s::StringAt(object, "metadata", "name");
  if (v.namespace_name.empty() || v.name.empty()) {
    return MakeError(ErrorCode::kUpstreamInvalid,
                     "PodIdentityAssociation without metadata.name or metadata.namespace");
  }
  v.uid = k8s::StringAt(object, "metadata", "uid");
  v.resource_version = k8s::StringAt(object, "metadata", "resourceVersion");
  const k8s::Json* spec = k8s::Find(object, "spec");
  if (spec == nullptr || !spec->is_object()) {
    return MakeError(ErrorCode::kUpstreamInvalid, "PodIdentityAssociation without spec");
  }
  v.service_account = k8s::StringAt(*spec, "serviceAccount");
  v.role_arn = k8s::StringAt(*spec, "roleArn");
  v.target_role_arn = k8s::StringAt(*spec, "targetRoleArn");
  v.external_id = k8s::StringAt(*spec, "externalId");
  v.policy = k8s::StringAt(*spec, "policy");
  if (const k8s::Json* d = k8s::Find(*spec, "disableSessionTags");
      d != nullptr && d->is_boolean()) {
    v.disable_session_tags = d->get<bool>();
  }
  if (const k8s::Json* m = k8s::Find(object, "metadata"); m != nullptr && m->is_object()) {
    if (const k8s::Json* g = k8s::Find(*m, "generation"); g != nullptr && g->is_number_integer()) {
      v.generation = g->get<std::int64_t>();
    }
  }
  if (const k8s::Json* status = k8s::Find(object, "status");
      status != nullptr && status->is_object()) {
    if (const k8s::Json* g = k8s::Find(*status, "observedGeneration");
        g != nullptr && g->is_number_integer()) {
      v.observed_generation = g->get<std::int64_t>();
    }
    if (const k8s::Json* cs = k8s::Find(*status, "conditions"); cs != nullptr && cs->is_array()) {
      for (const auto& c : *cs) {
        if (!c.is_object()) {
          continue;
        }
        StoredCondition& sc = v.conditions.emplace_back();
        sc.type = k8s::StringAt(c, "type");
        sc.status = k8s::StringAt(c, "status");
        sc.reason = k8s::StringAt(c, "reason");
        sc.message = k8s::StringAt(c, "message");
        sc.last_transition_time = k8s::StringAt(c, "lastTransitionTime");
        if (const k8s::Json* g = k8s::Find(c, "observedGeneration");
            g != nullptr && g->is_number_integer()) {
          sc.observed_generation = g->get<std::int64_t>();
        }
      }
    }
  }
  if (v.service_account.empty() || v.role_arn.empty()) {
    return MakeError(ErrorCode::kUpstreamInvalid,
                     "PodIdentityAssociation without spec.serviceAccount or spec.roleArn");
  }
  return v;
}

AssociationCheck CheckAssociation(const AssociationView& association,
                                  const identity::RolePolicy& policy,
                                  const k8s::Annotations* namespace_annotations) {
  using identity::Outcome;
  AssociationCheck out;
  auto parsed = aws::ParseRoleArn(association.role_arn);
  if (!parsed) {
    out.outcome = Outcome::kInvalid;
    out.reason = "InvalidRoleArn";
    out.message =
        fmt::format("PodIdentityAssociation {}: {}", association.name, parsed.error().message());
    return out;
  }
  out.role = *parsed;
  if (!association.target_role_arn.empty()) {
    auto target = aws::ParseRoleArn(association.target_role_arn);
    if (!target) {
      out.outcome = Outcome::kInvalid;
      out.reason = "InvalidRoleArn";
      out.message = fmt::format("PodIdentityAssociation {}: targetRoleArn: {}", association.name,
                                target.error().message());
      return out;
    }
    out.target = *target;
  }
  // Both roles of a chain act for the pod: the namespace must allow each.
  for (const aws::RoleArn* r : {&*out.role, out.target ? &*out.target : nullptr}) {
    std::string why;
    if (r != nullptr && !policy.NamespaceAllows(*r, namespace_annotations, &why)) {
      out.outcome = Outcome::kDenied;
      out.reason = "DeniedByNamespacePolicy";
      out.message = why;
      return out;
    }
  }
  out.reason = "Accepted";
  out.message = out.target ? fmt::format("pods of ServiceAccount {} get role {} through {}",
                                         association.service_account, out.target->ToString(),
                                         out.role->ToString())
                           : fmt::format("pods of ServiceAccount {} get role {}",
                                         association.service_account, out.role->ToString());
  return out;
}

Result<containercreds::TokenIdentity> KubeTokenAuthenticator::Review(std::string_view token) {
  auto reviewed = reviewer_.Review(token, audiences_);
  if (!reviewed) {
    return tl::unexpected(reviewed.error());
  }
  return containercreds::TokenIdentity{
      .username = std::move(reviewed->username),
      .service_account_namespace = std::move(reviewed->service_account_namespace),
      .service_account_name = std::move(reviewed->service_account_name),
      .audiences = std::move(reviewed->audiences),
      .pod_name = std::move(reviewed->pod_name),
      .pod_uid = std::move(reviewed->pod_uid),
      .node_name = std::move(reviewed->node_name)};
}

containercreds::PodInfo PodCacheResolver::Info(const k8s::PodView& pod) {
  return containercreds::PodInfo{.namespace_name = pod.namespace_name,
                                 .name = pod.name,
                                 .uid = pod.uid,
                                 .node_name = pod.node_name,
                                 .service_account = pod.service_account_name.empty()
                                                        ? std::string("default")
                                                        : pod.service_account_name,
                                 .ips = pod.pod_ips,
                                 .host_network = pod.host_network,
                                 .finished = pod.Terminal()};
}

std::shared_ptr<const containercreds::PodInfo> PodCacheResolver::Find(
    std::string_view namespace_name, std::string_view name) {
  auto pod = pods_.Pod(namespace_name, name);
  if (!pod) {
    return nullptr;
  }
  {
    std::lock_guard lock(made_mu_);
    auto it = made_.find(pod.get());
    if (it != made_.end() && it->second.view.lock() == pod) {
      return it->second.info;
    }
  }
  auto info = std::make_shared<const containercreds::PodInfo>(Info(*pod));
  std::lock_guard lock(made_mu_);
  std::erase_if(made_, [](const auto& item) { return item.second.view.expired(); });
  made_.insert_or_assign(pod.get(), Made{.view = pod, .info = info});
  return info;
}

bool PodCacheResolver::Ready() {
  if (ready_.load(std::memory_order_relaxed)) {
    return true;
  }
  if (!synced_ || synced_()) {
    ready_ = true;
    return true;
  }
  return false;
}

AssociationRoles::AssociationRoles(AssociationCache& associations, k8s::PodCache& pods,
                                   k8s::NamespaceCache& namespaces,
                                   k8s::ServiceAccountCache& service_accounts,
                                   const identity::RolePolicy& policy,
                                   creds::CredentialBroker& broker, AssociationRolesOptions options)
    : associations_(associations),
      pods_(pods),
      namespaces_(namespaces),
      service_accounts_(service_accounts),
      policy_(policy),
      broker_(broker),
      options_(std::move(options)) {
  // Any change a decision depends on: forget every memo, and re-decide what to prefetch for the
  // pods it concerns (this node's pods in that namespace).
  auto in_namespace = [this](const std::string& ns) {
    Changed();
    for (const auto& pod : pods_.PodsInNamespace(ns)) {
      Reconsider(*pod);
    }
  };
  associations_.AddHandlers(
      {.on_add = [in_namespace](const auto& a) { in_namespace(a->namespace_name); },
       .on_update = [in_namespace](const auto&, const auto& a) { in_namespace(a->namespace_name); },
       .on_delete = [in_namespace](const auto& a) { in_namespace(a->namespace_name); }});
  namespaces_.AddHandlers(
      {.on_add = [in_namespace](const auto& n) { in_namespace(n->name); },
       .on_update = [in_namespace](const auto&, const auto& n) { in_namespace(n->name); },
       .on_delete = [in_namespace](const auto& n) { in_namespace(n->name); }});
  service_accounts_.AddHandlers(
      {.on_add = [in_namespace](const auto& a) { in_namespace(a->namespace_name); },
       .on_update = [in_namespace](const auto&, const auto& a) { in_namespace(a->namespace_name); },
       .on_delete = [in_namespace](const auto& a) { in_namespace(a->namespace_name); }});
  pods_.AddHandlers({.on_add = [this](const k8s::PodCache::Ptr& pod) { Reconsider(*pod); },
                     .on_update = [this](const k8s::PodCache::Ptr&,
                                         const k8s::PodCache::Ptr& pod) { Reconsider(*pod); },
                     .on_delete =
                         [this](const k8s::PodCache::Ptr& pod) {
                           Forget(pod->Key());
                           if (options_.on_pod_gone) {
                             options_.on_pod_gone(pod->uid);
                           }
                         }});
}

AssociationRoles::~AssociationRoles() {
  std::lock_guard lock(prefetch_mu_);
  for (const auto& [pod, key] : retained_) {
    broker_.Release(key);
  }
}

void AssociationRoles::SetOnPodGone(std::function<void(const std::string&)> f) {
  options_.on_pod_gone = std::move(f);
}

void AssociationRoles::Changed() {
  generation_.fetch_add(1);
  std::lock_guard lock(mu_);
  memo_.clear();
}

void AssociationRoles::Reconsider(const k8s::PodView& pod) {
  {
    std::lock_guard lock(mu_);
    memo_.erase(pod.Key());
  }
  std::optional<creds::CredentialKey> want;
  if (!pod.Terminal()) {
    auto info = PodCacheResolver::Info(pod);
    auto choice = Decide(info);
    if (choice.outcome == identity::Outcome::kAllowed && choice.source == "association") {
      want = choice.spec->key;
      std::lock_guard lock(prefetch_mu_);
      auto it = retained_.find(pod.Key());
      if (it != retained_.end() && it->second == *want) {
        return;
      }
      broker_.Retain(*choice.spec);
      if (it != retained_.end()) {
        broker_.Release(it->second);
        it->second = *want;
      } else {
        retained_.emplace(pod.Key(), *want);
      }
      return;
    }
  }
  Forget(pod.Key());
}

void AssociationRoles::Forget(const std::string& pod_key) {
  {
    std::lock_guard lock(mu_);
    memo_.erase(pod_key);
  }
  std::lock_guard lock(prefetch_mu_);
  auto it = retained_.find(pod_key);
  if (it != retained_.end()) {
    broker_.Release(it->second);
    retained_.erase(it);
  }
}

std::shared_ptr<const containercreds::RoleChoice> AssociationRoles::Resolve(
    const containercreds::PodInfo& pod) {
  std::string key = pod.namespace_name + "/" + pod.name;
  std::uint64_t generation = generation_.load();
  {
    std::lock_guard lock(mu_);
    auto it = memo_.find(key);
    if (it != memo_.end() && it->second.generation == generation && it->second.pod_uid == pod.uid) {
      return it->second.choice;
    }
  }
  auto choice = std::make_shared<const containercreds::RoleChoice>(Decide(pod));
  std::lock_guard lock(mu_);
  if (generation_.load() == generation) {
    memo_[key] = Memo{generation, pod.uid, choice};
  }
  return choice;
}

containercreds::RoleChoice AssociationRoles::Decide(const containercreds::PodInfo& pod) const {
  using identity::Outcome;
  containercreds::RoleChoice out;
  auto ns = namespaces_.Get(pod.namespace_name);
  if (!ns) {
    out.outcome = Outcome::kPending;
    out.reason = fmt::format("namespace {} is not known yet; retry", pod.namespace_name);
    return out;
  }
  // The association for this ServiceAccount; with several, the oldest name wins (deterministic).
  std::shared_ptr<const AssociationView> association;
  for (const auto& a : associations_.List()) {
    if (a->namespace_name == pod.namespace_name && a->service_account == pod.service_account &&
        (!association || a->name < association->name)) {
      association = a;
    }
  }
  std::optional<aws::RoleArn> role;
  std::optional<aws::RoleArn> target;  // role chaining (docs/container-credentials.md)
  std::string external_id;
  std::string session_policy;
  bool tags = true;
  if (association) {
    out.source = "association";
    AssociationCheck check = CheckAssociation(*association, policy_, &ns->annotations);
    if (check.outcome != Outcome::kAllowed) {
      out.outcome = check.outcome;
      out.reason = std::move(check.message);
      return out;
    }
    role = std::move(check.role);
    target = std::move(check.target);
    external_id = association->external_id;
    session_policy = association->policy;
    tags = !association->disable_session_tags;
  } else if (options_.from_annotations) {
    auto sa = service_accounts_.Get(pod.namespace_name + "/" + pod.service_account);
    identity::Subject subject{.namespace_name = pod.namespace_name,
                              .pod_name = pod.name,
                              .service_account = pod.service_account,
                              .pod_annotations = nullptr,
                              .service_account_annotations = sa ? &sa->annotations : nullptr,
                              .namespace_annotations = &ns->annotations};
    auto d = policy_.Decide(subject);
    if (d.source != identity::RoleSource::kServiceAccount) {
      out.outcome = Outcome::kNoRole;
      out.reason = " and no role annotation on the ServiceAccount";
      return out;
    }
    out.source = "annotation";
    if (d.outcome != Outcome::kAllowed) {
      out.outcome = d.outcome;
      out.reason = d.reason;
      return out;
    }
    role = *d.role;
  } else {
    out.outcome = Outcome::kNoRole;
    out.reason =
        " (ServiceAccount annotations are not used: "
        "--container-credentials-from-annotations=false)";
    return out;
  }

  auto spec = std::make_shared<creds::CredentialSpec>();
  creds::CredentialKey& key = spec->key;
  key.role_arn = role->ToString();
  if (target) {
    key.target_role_arn = target->ToString();
  }
  key.external_id = std::move(external_id);
  key.session_policy = std::move(session_policy);
  key.session_name = identity::SessionName(pod.namespace_name, pod.name);
  key.owner = "pod/" + pod.uid;
  key.duration_seconds = options_.duration_seconds;
  spec->pod = creds::PodRef{.namespace_name = pod.namespace_name, .name = pod.name, .uid = pod.uid};
  if (tags) {
    // The six tags EKS Pod Identity sets (docs/container-credentials.md); cluster ones when known.
    if (!options_.cluster_arn.empty()) {
      key.tags.push_back({.key = "eks-cluster-arn", .value = options_.cluster_arn});
    }
    if (!options_.cluster_name.empty()) {
      key.tags.push_back({.key = "eks-cluster-name", .value = options_.cluster_name});
    }
    key.tags.push_back({.key = "kubernetes-namespace", .value = pod.namespace_name});
    key.tags.push_back({.key = "kubernetes-service-account", .value = pod.service_account});
    key.tags.push_back({.key = "kubernetes-pod-name", .value = pod.name});
    key.tags.push_back({.key = "kubernetes-pod-uid", .value = pod.uid});
  }
  out.outcome = Outcome::kAllowed;
  out.account = target ? target->account : role->account;
  out.spec = std::move(spec);
  return out;
}

}  // namespace podiam::agent
