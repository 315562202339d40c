#include "podiam/controller/role_object.hpp"

#include "podiam/identity/session_name.hpp"

namespace podiam::controller {
namespace {

Error Invalid(std::string message) {
  return Error(ErrorCode::kInvalidArgument, std::move(message));
}

// A string field or "" when absent; an error when present with another type.
Result<std::string> OptionalString(const k8s::Json& parent, std::string_view key,
                                   std::string_view path) {
  const k8s::Json* value = k8s::Find(parent, key);
  if (value == nullptr || value->is_null()) {
    return std::string();
  }
  if (!value->is_string()) {
    return tl::unexpected(Invalid(std::string(path) + " must be a string"));
  }
  return value->get<std::string>();
}

Result<void> ReadStatus(const k8s::Json& object, RoleObject& role) {
  const k8s::Json* status = k8s::Find(object, "status");
  if (status == nullptr || !status->is_object()) {
    return {};
  }
  role.status_role_arn = k8s::StringAt(*status, "roleARN");
  role.status_expiration = k8s::StringAt(*status, "expiration");
  role.status_secret_name = k8s::StringAt(*status, "secretName");
  if (const k8s::Json* g = k8s::Find(*status, "observedGeneration");
      g != nullptr && g->is_number_integer()) {
    role.status_observed_generation = g->get<std::int64_t>();
  }
  const k8s::Json* conditions = k8s::Find(*status, "conditions");
  if (conditions == nullptr || !conditions->is_array()) {
    return {};
  }
  for (const auto& c : *conditions) {
    if (c.is_object() && k8s::StringAt(c, "type") == "Ready") {
      role.ready_status = k8s::StringAt(c, "status");
      role.ready_reason = k8s::StringAt(c, "reason");
      role.ready_message = k8s::StringAt(c, "message");
      role.ready_transition_time = k8s::StringAt(c, "lastTransitionTime");
    }
  }
  return {};
}

}  // namespace

std::size_t RoleObject::MemoryBytes() const {
  std::size_t n = sizeof(RoleObject);
  for (const std::string* s :
       {&api_version, &namespace_name, &name, &uid, &resource_version, &role_reference,
        &secret_name, &session_policy, &status_role_arn, &status_expiration, &status_secret_name,
        &ready_status, &ready_reason, &ready_message, &ready_transition_time}) {
    n += s->capacity();
  }
  return n;
}

k8s::Resource PodiamRoles() {
  return {.group = "podiam.io", .version = "v1", .plural = "awsiamroles", .kind = "AWSIAMRole"};
}

k8s::Resource ZalandoRoles() {
  return {.group = "zalando.org", .version = "v1", .plural = "awsiamroles", .kind = "AWSIAMRole"};
}

Result<RoleObject> ParseRoleObject(const k8s::Json& object) {
  if (!object.is_object()) {
    return tl::unexpected(Invalid("an AWSIAMRole must be a JSON object"));
  }
  RoleObject role;
  role.api_version = k8s::StringAt(object, "apiVersion");
  role.namespace_name = k8s::MetadataString(object, "namespace");
  role.name = k8s::MetadataString(object, "name");
  role.uid = k8s::MetadataString(object, "uid");
  role.resource_version = k8s::MetadataString(object, "resourceVersion");
  if (role.namespace_name.empty() || role.name.empty()) {
    return tl::unexpected(Invalid("metadata.namespace and metadata.name are required"));
  }
  if (const k8s::Json* meta = k8s::Find(object, "metadata"); meta != nullptr) {
    if (const k8s::Json* g = k8s::Find(*meta, "generation");
        g != nullptr && g->is_number_integer()) {
      role.generation = g->get<std::int64_t>();
    }
  }
  const k8s::Json* spec = k8s::Find(object, "spec");
  if (spec == nullptr || !spec->is_object()) {
    return tl::unexpected(Invalid("spec is required"));
  }
  auto reference = OptionalString(*spec, "roleReference", "spec.roleReference");
  if (!reference) {
    return tl::unexpected(reference.error());
  }
  if (reference->empty()) {
    return tl::unexpected(Invalid("spec.roleReference is required"));
  }
  role.role_reference = std::move(*reference);
  if (const k8s::Json* d = k8s::Find(*spec, "roleSessionDuration"); d != nullptr && !d->is_null()) {
    if (!d->is_number_integer() || d->get<std::int64_t>() < 900 || d->get<std::int64_t>() > 43200) {
      return tl::unexpected(Invalid("spec.roleSessionDuration must be 900..43200 seconds"));
    }
    role.duration_seconds = static_cast<int>(d->get<std::int64_t>());
  }
  auto policy = OptionalString(*spec, "externalIdPolicy", "spec.externalIdPolicy");
  if (!policy) {
    return tl::unexpected(policy.error());
  }
  if (*policy == "None") {
    role.external_id_policy = ExternalIdPolicy::kNone;
  } else if (!policy->empty() && *policy != "Namespace") {
    return tl::unexpected(Invalid("spec.externalIdPolicy must be Namespace or None"));
  }
  auto secret = OptionalString(*spec, "secretName", "spec.secretName");
  auto session_policy = OptionalString(*spec, "sessionPolicy", "spec.sessionPolicy");
  if (!secret || !session_policy) {
    return tl::unexpected(!secret ? secret.error() : session_policy.error());
  }
  role.secret_name = secret->empty() ? role.name : std::move(*secret);
  role.session_policy = std::move(*session_policy);
  if (auto ok = ReadStatus(object, role); !ok) {
    return tl::unexpected(ok.error());
  }
  return role;
}

Result<aws::RoleArn> ResolveRoleReference(std::string_view reference,
                                          const std::optional<aws::BaseRoleArn>& base) {
  if (reference.starts_with("arn:") || !base) {
    auto arn = aws::ResolveRoleArn(reference);
    if (!arn) {
      return tl::unexpected(arn.error().Wrap("spec.roleReference"));
    }
    return arn;
  }
  auto arn = aws::ResolveRoleArn(reference, *base);
  if (!arn) {
    return tl::unexpected(arn.error().Wrap("spec.roleReference"));
  }
  return arn;
}

std::string ExternalIdFor(const RoleObject& role, std::string_view cluster_name) {
  if (role.external_id_policy == ExternalIdPolicy::kNone) {
    return "";
  }
  std::string id = role.namespace_name;
  if (!cluster_name.empty()) {
    id += '/';
    id += cluster_name;
  }
  return id;
}

std::string SessionNameFor(const RoleObject& role) {
  return identity::SessionName(role.namespace_name, role.name);
}

std::vector<aws::Tag> SessionTagsFor(const RoleObject& role, bool tags,
                                     std::string_view cluster_name) {
  return identity::ObjectSessionTags(role.namespace_name, kAwsIamRoleTag, role.name,
                                     {.tags = tags, .cluster_name = std::string(cluster_name)});
}

}  // namespace podiam::controller
