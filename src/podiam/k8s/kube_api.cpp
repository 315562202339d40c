#include "podiam/k8s/kube_api.hpp"

#include <fmt/format.h>

#include <utility>

namespace podiam::k8s {
namespace {

Error FromCode(int code, const std::string& reason, std::string message) {
  std::string upstream = reason.empty() ? fmt::format("HTTP {}", code) : reason;
  if (message.empty()) {
    message = fmt::format("apiserver answered HTTP {}", code);
  }
  switch (code) {
    case 400:
    case 405:
    case 413:
    case 415:
    case 422:
      return {ErrorCode::kInvalidArgument, std::move(message), std::move(upstream)};
    case 401:
      return {ErrorCode::kUnauthenticated, std::move(message), std::move(upstream)};
    case 403:
      return {ErrorCode::kPermissionDenied, std::move(message), std::move(upstream)};
    case 404:
      return {ErrorCode::kNotFound, std::move(message), std::move(upstream)};
    case 409:
      return {ErrorCode::kConflict, std::move(message), std::move(upstream)};
    case 410:
      // Distinguishable from other preconditions: IsGone() looks for these two reasons.
      return {ErrorCode::kFailedPrecondition, std::move(message),
              reason == "Expired" ? "Expired" : "Gone"};
    case 429:
      return {ErrorCode::kResourceExhausted, std::move(message), std::move(upstream), true};
    default:
      break;
  }
  if (code >= 500 && code <= 599) {
    return {ErrorCode::kUnavailable, std::move(message), std::move(upstream), true};
  }
  return {ErrorCode::kUpstreamInvalid, std::move(message), std::move(upstream)};
}

}  // namespace

std::string_view WatchEventTypeName(WatchEventType type) {
  switch (type) {
    case WatchEventType::kAdded:
      return "ADDED";
    case WatchEventType::kModified:
      return "MODIFIED";
    case WatchEventType::kDeleted:
      return "DELETED";
    case WatchEventType::kBookmark:
      return "BOOKMARK";
    case WatchEventType::kError:
      return "ERROR";
  }
  return "UNKNOWN";
}

const Json* Find(const Json& object, std::string_view key) {
  if (!object.is_object()) {
    return nullptr;
  }
  auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

const std::string& StringAt(const Json& object, std::string_view key1, std::string_view key2) {
  static const std::string kEmpty;
  const Json* v = Find(object, key1);
  if (v != nullptr && !key2.empty()) {
    v = Find(*v, key2);
  }
  return v != nullptr && v->is_string() ? v->get_ref<const std::string&>() : kEmpty;
}

const std::string& MetadataString(const Json& object, std::string_view key) {
  static const std::string kEmpty;
  const Json* meta = Find(object, "metadata");
  return meta != nullptr ? StringAt(*meta, key) : kEmpty;
}

Error StatusObjectError(const Json& status, int fallback_code) {
  int code = fallback_code;
  if (const Json* c = Find(status, "code"); c != nullptr && c->is_number_integer()) {
    code = c->get<int>();
  }
  return FromCode(code, StringAt(status, "reason"), StringAt(status, "message"));
}

Error StatusError(int http_status, std::string_view body) {
  Json parsed = Json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_object() && StringAt(parsed, "kind") == "Status") {
    // The HTTP status is authoritative; the object's code normally agrees.
    Json copy = parsed;
    copy["code"] = http_status;
    return StatusObjectError(copy, http_status);
  }
  std::string snippet(body.substr(0, 200));
  return FromCode(http_status, "",
                  snippet.empty()
                      ? std::string()
                      : fmt::format("apiserver answered HTTP {}: {}", http_status, snippet));
}

bool IsGone(const Error& error) {
  return error.code() == ErrorCode::kFailedPrecondition &&
         (error.upstream_code() == "Expired" || error.upstream_code() == "Gone");
}

Result<std::string> ListAll(KubeApi& api, const Resource& resource, std::string_view namespace_name,
                            ListOptions options, const std::function<void(Json&& item)>& on_item,
                            const std::function<void()>& on_restart) {
  bool restarted = false;
  while (true) {
    auto page = api.List(resource, namespace_name, options);
    if (!page) {
      if (IsGone(page.error()) && !options.continue_token.empty() && on_restart && !restarted) {
        restarted = true;
        on_restart();
        options.continue_token.clear();
        options.limit = 0;
        continue;
      }
      return tl::unexpected(page.error());
    }
    for (auto& item : page->items) {
      on_item(std::move(item));
    }
    if (page->continue_token.empty()) {
      return std::move(page->resource_version);
    }
    options.continue_token = std::move(page->continue_token);
  }
}

}  // namespace podiam::k8s
