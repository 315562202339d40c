#include "podiam/webhook/mutation.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace podiam::webhook {
namespace {

constexpr std::string_view kRoleArn = "AWS_ROLE_ARN";
constexpr std::string_view kTokenFile = "AWS_WEB_IDENTITY_TOKEN_FILE";
constexpr std::string_view kFullUri = "AWS_CONTAINER_CREDENTIALS_FULL_URI";
constexpr std::string_view kAuthTokenFile = "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE";
constexpr std::string_view kRegion = "AWS_REGION";
constexpr std::string_view kDefaultRegion = "AWS_DEFAULT_REGION";
constexpr std::string_view kRegionalSts = "AWS_STS_REGIONAL_ENDPOINTS";
constexpr std::string_view kPodIdentityLabel = "eks.amazonaws.com/pod-identity";

Error Malformed(const std::string& what) {
  return {ErrorCode::kInvalidArgument, "the pod cannot be decoded: " + what};
}

// The effective settings of one mutation (the reference's podPatchConfig).
struct PatchConfig {
  Mode mode = Mode::kNone;
  std::set<std::string, std::less<>> skip;
  std::int64_t token_expiration = kDefaultTokenExpiration;
  bool regional_sts = false;
  std::string audience;
  std::string mount_path;
  std::string volume_name;
  std::string token_path;
  std::string role_arn;  // web identity
  std::string full_uri;  // container credentials
};

// null or an object; anything else is a decoding error.
Result<const OJson*> ObjectOrNull(const OJson& parent, const char* key, const std::string& where) {
  auto it = parent.find(key);
  if (it == parent.end() || it->is_null()) {
    return nullptr;
  }
  if (!it->is_object()) {
    return tl::unexpected(Malformed(where + "." + key + " is not an object"));
  }
  return &*it;
}

Result<const OJson*> ArrayOrNull(const OJson& parent, const char* key, const std::string& where) {
  auto it = parent.find(key);
  if (it == parent.end() || it->is_null()) {
    return nullptr;
  }
  if (!it->is_array()) {
    return tl::unexpected(Malformed(where + "." + key + " is not a list"));
  }
  return &*it;
}

// A string-valued field of an object (absent or null: ""); other types are decoding errors.
Result<std::string> StringField(const OJson& object, const char* key, const std::string& where) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) {
    return std::string();
  }
  if (!it->is_string()) {
    return tl::unexpected(Malformed(where + "." + key + " is not a string"));
  }
  return it->get<std::string>();
}

// A map[string]string (labels, annotations, nodeSelector).
Result<std::optional<k8s::Annotations>> StringMap(const OJson& parent, const char* key,
                                                  const std::string& where) {
  auto object = ObjectOrNull(parent, key, where);
  if (!object) {
    return tl::unexpected(object.error());
  }
  if (*object == nullptr) {
    return std::optional<k8s::Annotations>();
  }
  k8s::Annotations out;
  for (const auto& [k, v] : (*object)->items()) {
    if (v.is_null()) {
      out.emplace(k, "");
      continue;
    }
    if (!v.is_string()) {
      std::string what = where;
      what.append(".").append(key).append("[").append(k).append("] is not a string");
      return tl::unexpected(Malformed(what));
    }
    out.emplace(k, v.get<std::string>());
  }
  return std::optional<k8s::Annotations>(std::move(out));
}

const std::string* Lookup(const k8s::Annotations& map, const std::string& key) {
  auto it = map.find(key);
  return it == map.end() ? nullptr : &it->second;
}

std::int64_t AtLeastMinimum(std::int64_t seconds) { return std::max(seconds, kMinTokenExpiration); }

// Checks the shape of one container the way decoding into corev1.Container would.
Result<void> CheckContainer(const OJson& container, const std::string& where) {
  if (!container.is_object()) {
    return tl::unexpected(Malformed(where + " is not an object"));
  }
  if (auto name = StringField(container, "name", where); !name) {
    return tl::unexpected(name.error());
  }
  for (const char* list : {"env", "volumeMounts"}) {
    auto items = ArrayOrNull(container, list, where);
    if (!items) {
      return tl::unexpected(items.error());
    }
    if (*items == nullptr) {
      continue;
    }
    for (const auto& item : **items) {
      if (!item.is_object()) {
        return tl::unexpected(Malformed(where + "." + list + " has an item that is not an object"));
      }
      if (auto name = StringField(item, "name", where + "." + list); !name) {
        return tl::unexpected(name.error());
      }
    }
  }
  return Ok();
}

std::string NameOf(const OJson& object) {
  auto it = object.find("name");
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

bool HasNamed(const OJson& object, const char* list, std::string_view name) {
  auto it = object.find(list);
  if (it == object.end() || !it->is_array()) {
    return false;
  }
  return std::any_of(it->begin(), it->end(),
                     [&](const OJson& item) { return NameOf(item) == name; });
}

OJson EnvVar(std::string_view name, std::string_view value) {
  OJson e = OJson::object();
  e["name"] = name;
  e["value"] = value;
  return e;
}

// The reference's addEnvToContainer (R7..R10): true when the container changed.
bool MutateContainer(OJson& container, const std::string& token_file, const PatchConfig& config,
                     const MutationSettings& settings) {
  bool identity_defined = false;
  bool region_defined = false;
  bool sts_defined = false;
  const bool container_credentials = config.mode == Mode::kContainerCredentials;
  if (auto it = container.find("env"); it != container.end() && it->is_array()) {
    for (const auto& e : *it) {
      std::string name = NameOf(e);
      if (container_credentials ? (name == kFullUri || name == kAuthTokenFile)
                                : (name == kRoleArn || name == kTokenFile)) {
        identity_defined = true;
      }
      region_defined = region_defined || name == kRegion || name == kDefaultRegion;
      sts_defined = sts_defined || name == kRegionalSts;
    }
  }
  // R9: with the identity, region and STS variables all present the container is left alone,
  // volume mount included.
  if (identity_defined && region_defined && sts_defined) {
    return false;
  }
  OJson added = OJson::array();
  if (!sts_defined && config.regional_sts) {
    added.push_back(EnvVar(kRegionalSts, "regional"));
  }
  if (!region_defined && !settings.region.empty()) {
    added.push_back(EnvVar(kDefaultRegion, settings.region));
    added.push_back(EnvVar(kRegion, settings.region));
  }
  if (!identity_defined) {
    if (container_credentials) {
      added.push_back(EnvVar(kFullUri, config.full_uri));
      added.push_back(EnvVar(kAuthTokenFile, token_file));
    } else {
      added.push_back(EnvVar(kRoleArn, config.role_arn));
      added.push_back(EnvVar(kTokenFile, token_file));
    }
  }
  bool changed = !added.empty();
  if (changed) {
    auto& env = container["env"];
    if (!env.is_array()) {
      env = OJson::array();
    }
    for (auto& e : added) {
      env.push_back(std::move(e));
    }
  }
  if (!HasNamed(container, "volumeMounts", config.volume_name)) {
    auto& mounts = container["volumeMounts"];
    if (!mounts.is_array()) {
      mounts = OJson::array();
    }
    OJson mount = OJson::object();
    mount["name"] = config.volume_name;
    mount["readOnly"] = true;
    mount["mountPath"] = config.mount_path;
    mounts.push_back(std::move(mount));
    changed = true;
  }
  return changed;
}

OJson OpAdd(std::string path, OJson value) {
  OJson op = OJson::object();
  op["op"] = "add";
  op["path"] = std::move(path);
  op["value"] = std::move(value);
  return op;
}

}  // namespace

std::string_view ModeName(Mode mode) {
  switch (mode) {
    case Mode::kNone:
      return "none";
    case Mode::kWebIdentity:
      return "web_identity";
    case Mode::kContainerCredentials:
      return "container_credentials";
  }
  return "none";
}

bool SelectsContainerCredentials(const MutationInput& input, const MutationSettings& settings) {
  if (input.container_credentials) {
    return true;
  }
  const std::string& key = settings.container_credentials.role_annotation;
  if (key.empty() || input.service_account == nullptr) {
    return false;
  }
  const auto* role = Lookup(*input.service_account, key);
  return role != nullptr && !role->empty();
}

ServiceAccountSettings ReadServiceAccount(const k8s::Annotations& annotations,
                                          const MutationSettings& settings) {
  const std::string prefix = settings.annotation_prefix + "/";
  ServiceAccountSettings out{.audience = settings.audience,
                             .regional_sts = settings.regional_sts,
                             .token_expiration = settings.token_expiration};
  if (const auto* arn = Lookup(annotations, prefix + "role-arn")) {
    out.role_arn = *arn;
  }
  if (const auto* audience = Lookup(annotations, prefix + "audience")) {
    out.audience = *audience;
  }
  if (const auto* regional = Lookup(annotations, prefix + "sts-regional-endpoints")) {
    if (auto value = ParseGoBool(*regional)) {
      out.regional_sts = *value;
    }
  }
  if (const auto* expiration = Lookup(annotations, prefix + "token-expiration")) {
    if (auto value = ParseGoInt64(*expiration)) {
      out.token_expiration = AtLeastMinimum(*value);
    }
  }
  return out;
}

Result<Mutation> Mutate(const OJson& pod, const MutationInput& input,
                        const MutationSettings& settings, Random& random) {
  if (!pod.is_object()) {
    return tl::unexpected(Malformed("the object is not a JSON object"));
  }
  auto metadata = ObjectOrNull(pod, "metadata", "pod");
  auto spec = ObjectOrNull(pod, "spec", "pod");
  if (!metadata || !spec) {
    return tl::unexpected(!metadata ? metadata.error() : spec.error());
  }
  if (*metadata == nullptr || *spec == nullptr) {
    return tl::unexpected(Malformed("the pod has no metadata or no spec"));
  }
  auto annotations = StringMap(**metadata, "annotations", "metadata");
  auto labels = StringMap(**metadata, "labels", "metadata");
  auto node_selector = StringMap(**spec, "nodeSelector", "spec");
  auto service_account_name = StringField(**spec, "serviceAccountName", "spec");
  auto containers = ArrayOrNull(**spec, "containers", "spec");
  auto init_containers = ArrayOrNull(**spec, "initContainers", "spec");
  auto volumes = ArrayOrNull(**spec, "volumes", "spec");
  for (const auto* failed :
       {annotations ? nullptr : &annotations.error(), labels ? nullptr : &labels.error(),
        node_selector ? nullptr : &node_selector.error(),
        service_account_name ? nullptr : &service_account_name.error(),
        containers ? nullptr : &containers.error(),
        init_containers ? nullptr : &init_containers.error(),
        volumes ? nullptr : &volumes.error()}) {
    if (failed != nullptr) {
      return tl::unexpected(*failed);
    }
  }
  for (const auto* list : {*containers, *init_containers}) {
    if (list == nullptr) {
      continue;
    }
    for (const auto& c : *list) {
      if (auto ok = CheckContainer(c, "container"); !ok) {
        return tl::unexpected(ok.error());
      }
    }
  }
  if (*volumes != nullptr) {
    for (const auto& v : **volumes) {
      if (!v.is_object()) {
        return tl::unexpected(Malformed("spec.volumes has an item that is not an object"));
      }
      if (auto name = StringField(v, "name", "spec.volumes"); !name) {
        return tl::unexpected(name.error());
      }
    }
  }

  // ---- which mode, and the effective settings (R1..R5, R14..R16)
  const std::string prefix = settings.annotation_prefix + "/";
  ServiceAccountSettings account;
  if (input.service_account != nullptr) {
    account = ReadServiceAccount(*input.service_account, settings);
  }
  PatchConfig config;
  const k8s::Annotations no_annotations;
  const k8s::Annotations& pod_annotations =
      annotations->has_value() ? **annotations : no_annotations;
  auto pod_expiration = [&](std::int64_t fallback) {
    if (const auto* text = Lookup(pod_annotations, prefix + "token-expiration")) {
      if (auto value = ParseGoInt64(*text)) {
        return AtLeastMinimum(*value);
      }
    }
    return fallback;
  };
  if (SelectsContainerCredentials(input, settings)) {
    const auto& cc = settings.container_credentials;
    // The reference reads only regional STS and expiration from the SA here, and falls back to
    // false / 86400 (not the flags) when the SA is unknown.
    bool regional = input.service_account != nullptr && account.regional_sts;
    std::int64_t expiration = pod_expiration(
        input.service_account != nullptr ? account.token_expiration : kDefaultTokenExpiration);
    if (expiration == kDefaultTokenExpiration) {  // R16
      const std::int64_t span = kDefaultTokenExpiration - kMinJitteredExpiration + 1;
      auto offset = static_cast<std::int64_t>(std::floor(random.Uniform01() * span));
      expiration = kMinJitteredExpiration + std::clamp<std::int64_t>(offset, 0, span - 1);
    }
    config = {.mode = Mode::kContainerCredentials,
              .token_expiration = expiration,
              .regional_sts = regional,
              .audience = cc.audience,
              .mount_path = cc.mount_path,
              .volume_name = cc.volume_name,
              .token_path = cc.token_path,
              .full_uri = cc.full_uri};
  } else if (!account.role_arn.empty()) {
    config = {.mode = Mode::kWebIdentity,
              .token_expiration = pod_expiration(account.token_expiration),
              .regional_sts = account.regional_sts,
              .audience = account.audience,
              .mount_path = settings.mount_path,
              .volume_name = "aws-iam-token",
              .token_path = "token",
              .role_arn = account.role_arn};
  } else {
    return Mutation{};
  }
  if (const auto* skip = Lookup(pod_annotations, prefix + "skip-containers")) {  // R6
    if (auto names = ParseCsvRecord(*skip)) {
      config.skip.insert(names->begin(), names->end());
    }
  }

  // ---- containers (R7..R11, R13, R18)
  std::string token_file = JoinPath(config.mount_path, config.token_path);
  if (node_selector->has_value()) {
    const auto* os = Lookup(**node_selector, "kubernetes.io/os");
    const auto* beta_os = Lookup(**node_selector, "beta.kubernetes.io/os");
    if ((os != nullptr && *os == "windows") || (beta_os != nullptr && *beta_os == "windows")) {
      std::replace(token_file.begin(), token_file.end(), '/', '\\');
      token_file = "C:" + token_file;
    }
  }
  Mutation out{.mode = config.mode, .token_expiration = config.token_expiration};
  auto mutate_all = [&](const OJson* list) {
    OJson result = OJson::array();
    if (list == nullptr) {
      return result;
    }
    for (const auto& original : *list) {
      OJson container = original;
      if (config.skip.count(NameOf(container)) == 0 &&
          MutateContainer(container, token_file, config, settings)) {
        out.changed = true;
      }
      result.push_back(std::move(container));
    }
    return result;
  };
  OJson new_init = mutate_all(*init_containers);
  OJson new_containers = mutate_all(*containers);

  // ---- pod level (R12, R17)
  if (config.mode == Mode::kContainerCredentials) {
    if (!labels->has_value()) {
      OJson value = OJson::object();
      value[std::string(kPodIdentityLabel)] = "enabled";
      out.patch.push_back(OpAdd("/metadata/labels", std::move(value)));
    } else {
      out.patch.push_back(
          OpAdd("/metadata/labels/" + EscapeJsonPointer(kPodIdentityLabel), "enabled"));
    }
    const auto* current =
        labels->has_value() ? Lookup(**labels, std::string(kPodIdentityLabel)) : nullptr;
    if (current == nullptr || *current != "enabled") {
      out.changed = true;
    }
  }
  bool volume_exists = *volumes != nullptr &&
                       std::any_of((*volumes)->begin(), (*volumes)->end(),
                                   [&](const OJson& v) { return NameOf(v) == config.volume_name; });
  if (!volume_exists) {
    OJson token = OJson::object();
    if (!config.audience.empty()) {
      token["audience"] = config.audience;
    }
    token["expirationSeconds"] = config.token_expiration;
    token["path"] = config.token_path;
    OJson source = OJson::object();
    source["serviceAccountToken"] = std::move(token);
    OJson projected = OJson::object();
    projected["sources"] = OJson::array({std::move(source)});
    OJson volume = OJson::object();
    volume["name"] = config.volume_name;
    volume["projected"] = std::move(projected);
    if (*volumes == nullptr) {
      out.patch.push_back(OpAdd("/spec/volumes", OJson::array({std::move(volume)})));
    } else {
      out.patch.push_back(OpAdd("/spec/volumes/0", std::move(volume)));
    }
    out.changed = true;
  }
  out.patch.push_back(OpAdd("/spec/containers", std::move(new_containers)));
  if (!new_init.empty()) {
    out.patch.push_back(OpAdd("/spec/initContainers", std::move(new_init)));
  }
  return out;
}

}  // namespace podiam::webhook
