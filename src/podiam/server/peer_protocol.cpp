#include "podiam/server/peer_protocol.hpp"

#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <tuple>

namespace podiam::server {
namespace {

// STS's limits (AWS STS API Reference, AssumeRole parameters), and Kubernetes' for names.
constexpr std::size_t kMaxArn = 2048;
constexpr std::size_t kMaxExternalId = 1224;
constexpr std::size_t kMaxSessionName = 64;
constexpr std::size_t kMaxPolicy = 10240;
constexpr std::size_t kMaxOwner = 600;
constexpr std::size_t kMaxSourceIdentity = 64;
constexpr std::size_t kMaxTags = 50;
constexpr std::size_t kMaxTagKey = 128;
constexpr std::size_t kMaxTagValue = 256;
constexpr std::size_t kMaxName = 253;
constexpr int kMinDuration = 900;
constexpr int kMaxDuration = 43200;

Error Bad(std::string message) { return {ErrorCode::kInvalidArgument, std::move(message)}; }

Result<void> String(const nlohmann::json& value, std::string_view name, std::size_t max,
                    bool required, std::string* out) {
  if (!value.is_string()) {
    return tl::unexpected(Bad(fmt::format("\"{}\" is not a string", name)));
  }
  const auto& s = value.get_ref<const std::string&>();
  if (s.size() > max || (required && s.empty())) {
    return tl::unexpected(Bad(fmt::format("\"{}\" is {} (at most {} bytes)", name,
                                          s.empty() ? "empty" : "too long", max)));
  }
  *out = s;
  return {};
}

Result<void> Tags(const nlohmann::json& value, std::vector<aws::Tag>* out) {
  if (!value.is_array() || value.size() > kMaxTags) {
    return tl::unexpected(Bad(fmt::format("\"tags\" is not an array of at most {}", kMaxTags)));
  }
  for (const auto& tag : value) {
    if (!tag.is_object() || tag.size() != 2 || !tag.contains("key") || !tag.contains("value")) {
      return tl::unexpected(Bad("a tag is not an object with exactly \"key\" and \"value\""));
    }
    aws::Tag t;
    if (auto ok = String(tag["key"], "tags[].key", kMaxTagKey, true, &t.key); !ok) {
      return ok;
    }
    if (auto ok = String(tag["value"], "tags[].value", kMaxTagValue, false, &t.value); !ok) {
      return ok;
    }
    out->push_back(std::move(t));
  }
  return {};
}

Result<void> Pod(const nlohmann::json& value, std::optional<creds::PodRef>* out) {
  if (value.is_null()) {
    return {};
  }
  if (!value.is_object() || value.size() != 3) {
    return tl::unexpected(Bad("\"pod\" is not an object with namespace, name and uid"));
  }
  creds::PodRef pod;
  for (auto [name, target] : {std::pair{"namespace", &pod.namespace_name},
                              std::pair{"name", &pod.name}, std::pair{"uid", &pod.uid}}) {
    auto it = value.find(name);
    if (it == value.end()) {
      return tl::unexpected(Bad(fmt::format("\"pod\" has no \"{}\"", name)));
    }
    if (auto ok = String(*it, std::string("pod.") + name, kMaxName, true, target); !ok) {
      return ok;
    }
  }
  *out = std::move(pod);
  return {};
}

}  // namespace

std::string EncodePeerRequest(const creds::CredentialSpec& spec) {
  const creds::CredentialKey& k = spec.key;
  nlohmann::json tags = nlohmann::json::array();
  for (const auto& t : k.tags) {
    tags.push_back({{"key", t.key}, {"value", t.value}});
  }
  nlohmann::json body = {{"roleArn", k.role_arn},
                         {"targetRoleArn", k.target_role_arn},
                         {"externalId", k.external_id},
                         {"sessionName", k.session_name},
                         {"sessionPolicy", k.session_policy},
                         {"owner", k.owner},
                         {"tags", std::move(tags)},
                         {"sourceIdentity", k.source_identity},
                         {"durationSeconds", nullptr},
                         {"pod", nullptr}};
  if (k.duration_seconds) {
    body["durationSeconds"] = *k.duration_seconds;
  }
  if (spec.pod) {
    body["pod"] = {
        {"namespace", spec.pod->namespace_name}, {"name", spec.pod->name}, {"uid", spec.pod->uid}};
  }
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Result<creds::CredentialSpec> ParsePeerRequest(std::string_view body) {
  if (body.size() > kMaxPeerBodyBytes) {
    return tl::unexpected(Bad(fmt::format("the body is larger than {} bytes", kMaxPeerBodyBytes)));
  }
  auto json = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object()) {
    return tl::unexpected(Bad("the body is not a JSON object"));
  }
  creds::CredentialSpec spec;
  creds::CredentialKey& k = spec.key;
  bool role = false;
  bool session = false;
  for (const auto& [name, value] : json.items()) {
    Result<void> ok;
    if (name == "roleArn") {
      ok = String(value, name, kMaxArn, true, &k.role_arn);
      role = true;
    } else if (name == "targetRoleArn") {
      ok = String(value, name, kMaxArn, false, &k.target_role_arn);
    } else if (name == "externalId") {
      ok = String(value, name, kMaxExternalId, false, &k.external_id);
    } else if (name == "sessionName") {
      ok = String(value, name, kMaxSessionName, true, &k.session_name);
      session = true;
    } else if (name == "sessionPolicy") {
      ok = String(value, name, kMaxPolicy, false, &k.session_policy);
    } else if (name == "owner") {
      ok = String(value, name, kMaxOwner, false, &k.owner);
    } else if (name == "sourceIdentity") {
      ok = String(value, name, kMaxSourceIdentity, false, &k.source_identity);
    } else if (name == "tags") {
      ok = Tags(value, &k.tags);
    } else if (name == "pod") {
      ok = Pod(value, &spec.pod);
    } else if (name == "durationSeconds") {
      if (!value.is_null()) {
        if (!value.is_number_integer() || value.get<std::int64_t>() < kMinDuration ||
            value.get<std::int64_t>() > kMaxDuration) {
          return tl::unexpected(
              Bad(fmt::format("\"durationSeconds\" is not null or an integer from {} to {}",
                              kMinDuration, kMaxDuration)));
        }
        k.duration_seconds = value.get<int>();
      }
    } else {
      return tl::unexpected(Bad("the body has an unknown member (the peer protocol is strict)"));
    }
    if (!ok) {
      return tl::unexpected(ok.error());
    }
  }
  if (!role || !session) {
    return tl::unexpected(Bad("the body needs \"roleArn\" and \"sessionName\""));
  }
  return spec;
}

}  // namespace podiam::server
