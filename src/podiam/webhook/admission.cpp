#include "podiam/webhook/admission.hpp"

#include <array>

namespace podiam::webhook {
namespace {

Error Bad(const std::string& what) {
  return {ErrorCode::kInvalidArgument, "the AdmissionReview cannot be decoded: " + what};
}

Result<std::string> OptionalString(const OJson& object, const char* key, const std::string& where) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) {
    return std::string();
  }
  if (!it->is_string()) {
    return tl::unexpected(Bad(where + key + " is not a string"));
  }
  return it->get<std::string>();
}

}  // namespace

std::size_t NestingDepth(std::string_view text, std::size_t limit) {
  std::size_t depth = 0;
  std::size_t deepest = 0;
  bool in_string = false;
  bool escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
      if (deepest > limit) {
        return deepest;
      }
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return deepest;
}

Result<AdmissionReview> DecodeAdmissionReview(std::string_view body, AdmissionReview* partial) {
  AdmissionReview scratch;
  AdmissionReview& out = partial != nullptr ? *partial : scratch;
  out = AdmissionReview{};
  if (NestingDepth(body, kMaxNestingDepth) > kMaxNestingDepth) {
    return tl::unexpected(
        Bad("JSON nested deeper than " + std::to_string(kMaxNestingDepth) + " levels"));
  }
  OJson root = OJson::parse(body, nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded()) {
    return tl::unexpected(Bad("the body is not JSON"));
  }
  if (!root.is_object()) {
    return tl::unexpected(Bad("the body is not a JSON object"));
  }
  auto api_version = OptionalString(root, "apiVersion", "");
  auto kind = OptionalString(root, "kind", "");
  if (!api_version || !kind) {
    return tl::unexpected(!api_version ? api_version.error() : kind.error());
  }
  if (*api_version != "admission.k8s.io/v1" && *api_version != "admission.k8s.io/v1beta1") {
    return tl::unexpected(Bad("apiVersion '" + *api_version +
                              "' is not admission.k8s.io/v1 or admission.k8s.io/v1beta1"));
  }
  out.api_version = *api_version;
  if (!kind->empty() && *kind != "AdmissionReview") {
    return tl::unexpected(Bad("kind '" + *kind + "' is not AdmissionReview"));
  }
  auto request_it = root.find("request");
  if (request_it == root.end() || request_it->is_null()) {
    return tl::unexpected(Bad("it has no request"));
  }
  if (!request_it->is_object()) {
    return tl::unexpected(Bad("request is not an object"));
  }
  OJson& request = *request_it;
  auto uid = OptionalString(request, "uid", "request.");
  if (!uid) {
    return tl::unexpected(uid.error());
  }
  out.uid = *uid;
  for (auto [key, target] :
       std::array<std::pair<const char*, std::string*>, 3>{{{"namespace", &out.namespace_name},
                                                            {"operation", &out.operation},
                                                            {"subResource", &out.sub_resource}}}) {
    auto value = OptionalString(request, key, "request.");
    if (!value) {
      return tl::unexpected(value.error());
    }
    *target = std::move(*value);
  }
  for (auto [key, field, target] :
       std::array<std::tuple<const char*, const char*, std::string*>, 3>{
           {{"resource", "resource", &out.resource},
            {"resource", "group", &out.resource_group},
            {"kind", "kind", &out.kind_name}}}) {
    auto it = request.find(key);
    if (it == request.end() || it->is_null()) {
      continue;
    }
    if (!it->is_object()) {
      return tl::unexpected(Bad(std::string("request.") + key + " is not an object"));
    }
    auto value = OptionalString(*it, field, std::string("request.") + key + ".");
    if (!value) {
      return tl::unexpected(value.error());
    }
    *target = std::move(*value);
  }
  if (auto it = request.find("dryRun"); it != request.end() && !it->is_null()) {
    if (!it->is_boolean()) {
      return tl::unexpected(Bad("request.dryRun is not a boolean"));
    }
    out.dry_run = it->get<bool>();
  }
  if (auto it = request.find("object"); it != request.end()) {
    out.object = std::move(*it);
  }
  if (partial != nullptr) {
    return *partial;
  }
  return scratch;
}

std::string EncodeAdmissionReview(const AdmissionReview& review, const AdmissionVerdict& verdict) {
  OJson response = OJson::object();
  response["uid"] = review.uid;
  response["allowed"] = verdict.allowed;
  if (!verdict.allowed) {
    OJson status = OJson::object();
    status["metadata"] = OJson::object();
    status["status"] = "Failure";
    status["message"] = verdict.message;
    if (!verdict.reason.empty()) {
      status["reason"] = verdict.reason;
    }
    if (verdict.code != 0) {
      status["code"] = verdict.code;
    }
    response["status"] = std::move(status);
  }
  if (verdict.allowed && verdict.patch) {
    response["patch"] = Base64Encode(*verdict.patch);
    response["patchType"] = "JSONPatch";
  }
  OJson out = OJson::object();
  out["kind"] = review.kind;
  out["apiVersion"] = review.api_version;
  out["response"] = std::move(response);
  return out.dump(-1, ' ', false, OJson::error_handler_t::replace);
}

std::string Base64Encode(std::string_view bytes) {
  static constexpr std::string_view kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    auto n = (static_cast<unsigned>(static_cast<unsigned char>(bytes[i])) << 16U) |
             (static_cast<unsigned>(static_cast<unsigned char>(bytes[i + 1])) << 8U) |
             static_cast<unsigned>(static_cast<unsigned char>(bytes[i + 2]));
    out += kAlphabet[(n >> 18U) & 63U];
    out += kAlphabet[(n >> 12U) & 63U];
    out += kAlphabet[(n >> 6U) & 63U];
    out += kAlphabet[n & 63U];
  }
  if (std::size_t rest = bytes.size() - i; rest > 0) {
    auto n = static_cast<unsigned>(static_cast<unsigned char>(bytes[i])) << 16U;
    if (rest == 2) {
      n |= static_cast<unsigned>(static_cast<unsigned char>(bytes[i + 1])) << 8U;
    }
    out += kAlphabet[(n >> 18U) & 63U];
    out += kAlphabet[(n >> 12U) & 63U];
    out += rest == 2 ? kAlphabet[(n >> 6U) & 63U] : '=';
    out += '=';
  }
  return out;
}

}  // namespace podiam::webhook
