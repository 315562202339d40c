#include "podiam/controller/secret_format.hpp"

#include "podiam/k8s/cluster_config.hpp"

namespace podiam::controller {
namespace {

Error Invalid(std::string message) {
  return Error(ErrorCode::kInvalidArgument, "credentials.json: " + std::move(message));
}

}  // namespace

std::string ProcessCredentialsJson(const aws::Credentials& c) {
  k8s::Json doc = {
      {"Version", 1}, {"AccessKeyId", c.access_key_id}, {"SecretAccessKey", c.secret_access_key}};
  if (!c.session_token.empty()) {
    doc["SessionToken"] = c.session_token;
  }
  if (c.expiration) {
    doc["Expiration"] = aws::FormatTimestamp(*c.expiration);
  }
  return doc.dump() + "\n";
}

FileMap SecretFiles(const aws::Credentials& c, std::string_view role_arn,
                    std::string_view process_command) {
  FileMap files;
  std::string shared = "[default]\naws_access_key_id = " + c.access_key_id +
                       "\naws_secret_access_key = " + c.secret_access_key + "\n";
  if (!c.session_token.empty()) {
    shared += "aws_session_token = " + c.session_token + "\n";
  }
  files["credentials"] = std::move(shared);
  files["credentials.json"] = ProcessCredentialsJson(c);
  files["credentials.process"] =
      "[default]\ncredential_process = " + std::string(process_command) + "\n";
  files["role-arn"] = std::string(role_arn);
  files["expiration"] = c.expiration ? aws::FormatTimestamp(*c.expiration) : "";
  return files;
}

k8s::Json SecretObject(const RoleObject& role, const FileMap& files) {
  k8s::Json data = k8s::Json::object();
  for (const auto& [key, value] : files) {
    data[key] = value;
  }
  return {{"apiVersion", "v1"},
          {"kind", "Secret"},
          {"type", "Opaque"},
          {"metadata",
           {{"name", role.secret_name},
            {"namespace", role.namespace_name},
            {"labels", {{std::string(kManagedByLabel), std::string(kManagedByValue)}}},
            {"ownerReferences", k8s::Json::array({{{"apiVersion", role.api_version},
                                                   {"kind", "AWSIAMRole"},
                                                   {"name", role.name},
                                                   {"uid", role.uid},
                                                   {"controller", true}}})}}},
          {"stringData", std::move(data)}};
}

FileMap DecodedSecretData(const k8s::Json& secret) {
  FileMap out;
  const k8s::Json* data = k8s::Find(secret, "data");
  if (data == nullptr || !data->is_object()) {
    return out;
  }
  for (const auto& [key, value] : data->items()) {
    if (value.is_string()) {
      if (auto decoded = k8s::DecodeBase64(value.get<std::string>())) {
        out[key] = std::move(*decoded);
      }
    }
  }
  return out;
}

bool OwnedBy(const k8s::Json& secret, const RoleObject& role) {
  const k8s::Json* meta = k8s::Find(secret, "metadata");
  const k8s::Json* owners = meta != nullptr ? k8s::Find(*meta, "ownerReferences") : nullptr;
  if (owners == nullptr || !owners->is_array()) {
    return false;
  }
  for (const auto& owner : *owners) {
    if (owner.is_object() && k8s::StringAt(owner, "uid") == role.uid && !role.uid.empty()) {
      return true;
    }
  }
  return false;
}

bool Adoptable(const k8s::Json& secret) {
  const k8s::Json* meta = k8s::Find(secret, "metadata");
  const k8s::Json* annotations = meta != nullptr ? k8s::Find(*meta, "annotations") : nullptr;
  return annotations != nullptr && annotations->is_object() &&
         k8s::StringAt(*annotations, kAdoptAnnotation) == "true";
}

Result<aws::Credentials> ParseProcessCredentials(std::string_view text) {
  k8s::Json doc = k8s::Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) {
    return tl::unexpected(Invalid("not a JSON object"));
  }
  const k8s::Json* version = k8s::Find(doc, "Version");
  if (version == nullptr || !version->is_number_integer() || version->get<std::int64_t>() != 1) {
    return tl::unexpected(Invalid("Version must be 1"));
  }
  aws::Credentials c;
  for (auto [key, field] : {std::pair{"AccessKeyId", &c.access_key_id},
                            std::pair{"SecretAccessKey", &c.secret_access_key},
                            std::pair{"SessionToken", &c.session_token}}) {
    const k8s::Json* value = k8s::Find(doc, key);
    if (value != nullptr && !value->is_string()) {
      return tl::unexpected(Invalid(std::string(key) + " must be a string"));
    }
    if (value != nullptr) {
      *field = value->get<std::string>();
    }
  }
  if (c.access_key_id.empty() || c.secret_access_key.empty()) {
    return tl::unexpected(Invalid("AccessKeyId and SecretAccessKey are required"));
  }
  if (const k8s::Json* e = k8s::Find(doc, "Expiration"); e != nullptr) {
    if (!e->is_string()) {
      return tl::unexpected(Invalid("Expiration must be a string"));
    }
    auto when = aws::ParseTimestamp(e->get<std::string>());
    if (!when) {
      return tl::unexpected(Invalid("Expiration is not an RFC 3339 time"));
    }
    c.expiration = *when;
  }
  c.source = "credentials.json";
  return c;
}

}  // namespace podiam::controller
