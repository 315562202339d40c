#include "podiam/k8s/http_kube_api.hpp"

#include <fmt/format.h>

#include <utility>

#include "podiam/k8s/watch_decoder.hpp"

namespace podiam::k8s {
namespace {

constexpr std::string_view kJson = "application/json";
constexpr std::string_view kMergePatch = "application/merge-patch+json";
// JSON is YAML, and server-side apply accepts it under this type.
constexpr std::string_view kApplyPatch = "application/apply-patch+yaml";

class Query {
 public:
  void Add(std::string_view key, std::string_view value) {
    if (value.empty()) {
      return;
    }
    text_ += text_.empty() ? '?' : '&';
    text_ += key;
    text_ += '=';
    text_ += UrlEncode(value);
  }
  [[nodiscard]] const std::string& text() const { return text_; }

 private:
  std::string text_;
};

void AddSelectors(Query& q, const std::string& label_selector, const std::string& field_selector) {
  q.Add("labelSelector", label_selector);
  q.Add("fieldSelector", field_selector);
}

Json DeleteBody(const DeleteOptions& options) {
  Json body = {{"kind", "DeleteOptions"}, {"apiVersion", "v1"}};
  if (options.grace_period_seconds) {
    body["gracePeriodSeconds"] = *options.grace_period_seconds;
  }
  if (!options.precondition_uid.empty()) {
    body["preconditions"]["uid"] = options.precondition_uid;
  }
  if (!options.precondition_resource_version.empty()) {
    body["preconditions"]["resourceVersion"] = options.precondition_resource_version;
  }
  if (!options.propagation_policy.empty()) {
    body["propagationPolicy"] = options.propagation_policy;
  }
  return body;
}

Result<Json> ParseBody(const std::string& body) {
  Json parsed = Json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) {
    return MakeError(ErrorCode::kUpstreamInvalid,
                     fmt::format("apiserver answered {} bytes that are not JSON", body.size()));
  }
  return parsed;
}

}  // namespace

std::string ObjectNamespace(const Resource& resource, std::string_view namespace_name,
                            const Json& object) {
  if (!resource.namespaced) {
    return {};
  }
  if (!namespace_name.empty()) {
    return std::string(namespace_name);
  }
  return MetadataString(object, "namespace");
}

HttpKubeApi::HttpKubeApi(http::HttpClient& http, std::string server,
                         std::shared_ptr<TokenSource> token, K8sMetrics& metrics,
                         const Clock& clock, HttpKubeApiOptions options)
    : http_(http),
      server_(std::move(server)),
      token_(std::move(token)),
      metrics_(metrics),
      clock_(clock),
      options_(std::move(options)) {
  while (!server_.empty() && server_.back() == '/') {
    server_.pop_back();
  }
}

void HttpKubeApi::Count(const Call& call, std::string_view code, double seconds) {
  metrics_.requests.WithLabels({call.verb, call.resource->plural, code}).Inc();
  metrics_.request_duration.WithLabels({call.verb, call.resource->plural}).Observe(seconds);
}

Result<http::ClientRequest> HttpKubeApi::Prepare(const Call& call,
                                                 std::chrono::milliseconds timeout) {
  http::ClientRequest request{
      .method = call.method, .url = server_ + call.target, .body = call.body, .timeout = timeout};
  request.headers.Set("Accept", kJson);
  request.headers.Set("User-Agent", options_.user_agent);
  if (!call.content_type.empty()) {
    request.headers.Set("Content-Type", call.content_type);
  }
  if (token_) {
    auto token = token_->Token();
    if (!token) {
      return tl::unexpected(Error(ErrorCode::kUnauthenticated,
                                  "reading the bearer token: " + token.error().message()));
    }
    request.headers.Set("Authorization", "Bearer " + *token);
  }
  return request;
}

Result<http::Response> HttpKubeApi::Do(const Call& call) {
  auto request = Prepare(call, options_.request_timeout);
  if (!request) {
    return tl::unexpected(request.error());
  }
  auto start = clock_.SteadyNow();
  auto response = http_.Send(*request);
  double seconds = std::chrono::duration<double>(clock_.SteadyNow() - start).count();
  if (!response) {
    Count(call, ErrorCodeName(response.error().code()), seconds);
    log_.Debug(
        "request failed",
        {{"verb", call.verb}, {"path", call.target}, {"error", response.error().ToString()}});
    return tl::unexpected(response.error().Wrap(fmt::format("{} {}", call.method, call.target)));
  }
  Count(call, std::to_string(response->status), seconds);
  if (response->status < 200 || response->status > 299) {
    Error error = StatusError(response->status, response->body);
    log_.Debug("request refused", {{"verb", call.verb},
                                   {"path", call.target},
                                   {"status", response->status},
                                   {"error", error.ToString()}});
    return tl::unexpected(error);
  }
  return response;
}

Result<Json> HttpKubeApi::DoJson(const Call& call) {
  auto response = Do(call);
  if (!response) {
    return tl::unexpected(response.error());
  }
  return ParseBody(response->body);
}

Result<Json> HttpKubeApi::Get(const Resource& resource, std::string_view namespace_name,
                              std::string_view name, std::string_view subresource) {
  return DoJson({.verb = "get",
                 .resource = &resource,
                 .method = "GET",
                 .target = ResourcePath(resource, namespace_name, name, subresource)});
}

Result<ObjectList> HttpKubeApi::List(const Resource& resource, std::string_view namespace_name,
                                     const ListOptions& options) {
  Query q;
  AddSelectors(q, options.label_selector, options.field_selector);
  if (options.limit > 0) {
    q.Add("limit", std::to_string(options.limit));
  }
  q.Add("continue", options.continue_token);
  q.Add("resourceVersion", options.resource_version);
  q.Add("resourceVersionMatch", options.resource_version_match);
  auto body = DoJson({.verb = "list",
                      .resource = &resource,
                      .method = "GET",
                      .target = ResourcePath(resource, namespace_name) + q.text()});
  if (!body) {
    return tl::unexpected(body.error());
  }
  ObjectList list;
  if (const Json* meta = Find(*body, "metadata")) {
    list.resource_version = StringAt(*meta, "resourceVersion");
    list.continue_token = StringAt(*meta, "continue");
  }
  auto items = body->find("items");
  if (items != body->end() && items->is_array()) {
    list.items.reserve(items->size());
    for (auto& item : *items) {
      list.items.push_back(std::move(item));
    }
  } else if (items != body->end() && !items->is_null()) {
    return MakeError(ErrorCode::kUpstreamInvalid, "list answer without an items array");
  }
  return list;
}

Result<void> HttpKubeApi::Watch(const Resource& resource, std::string_view namespace_name,
                                const WatchOptions& options, const WatchHandler& handler) {
  Query q;
  q.Add("watch", "1");
  if (options.allow_bookmarks) {
    q.Add("allowWatchBookmarks", "true");
  }
  q.Add("resourceVersion", options.resource_version);
  AddSelectors(q, options.label_selector, options.field_selector);
  if (options.timeout.count() > 0) {
    q.Add("timeoutSeconds", std::to_string(options.timeout.count()));
  }
  Call call{.verb = "watch",
            .resource = &resource,
            .method = "GET",
            .target = ResourcePath(resource, namespace_name) + q.text()};
  auto request = Prepare(call, options_.watch_idle_timeout);
  if (!request) {
    return tl::unexpected(request.error());
  }
  // The transport cancels a blocked read when this fires, so Stop() need not wait for a byte.
  request->stop = options.stop;
  WatchDecoder decoder;
  std::optional<Error> stream_error;
  const std::stop_token& stop = options.stop;
  auto start = clock_.SteadyNow();
  bool counted = false;
  auto on_chunk = [&](std::string_view chunk) {
    if (!counted) {
      counted = true;
      Count(call, "200", std::chrono::duration<double>(clock_.SteadyNow() - start).count());
    }
    if (stop.stop_requested()) {
      return false;
    }
    auto more = decoder.Feed(chunk, [&](WatchEvent&& event) {
      if (event.type == WatchEventType::kError) {
        stream_error = StatusObjectError(event.object, 500);
        return false;
      }
      return handler(std::move(event)) && !stop.stop_requested();
    });
    if (!more) {
      stream_error = more.error();
      return false;
    }
    return *more;
  };
  auto response = http_.Stream(*request, on_chunk);
  if (stream_error) {
    return tl::unexpected(*stream_error);
  }
  if (!response) {
    if (stop.stop_requested()) {
      return Ok();
    }
    if (!counted) {
      Count(call, ErrorCodeName(response.error().code()),
            std::chrono::duration<double>(clock_.SteadyNow() - start).count());
    }
    return tl::unexpected(response.error().Wrap("watch " + resource.plural));
  }
  if (response->status < 200 || response->status > 299) {
    Count(call, std::to_string(response->status),
          std::chrono::duration<double>(clock_.SteadyNow() - start).count());
    return tl::unexpected(StatusError(response->status, response->body));
  }
  if (!counted) {  // an empty stream: the server had nothing to say before timeoutSeconds
    Count(call, std::to_string(response->status),
          std::chrono::duration<double>(clock_.SteadyNow() - start).count());
  }
  return Ok();
}

Result<Json> HttpKubeApi::Create(const Resource& resource, std::string_view namespace_name,
                                 const Json& object) {
  std::string ns = ObjectNamespace(resource, namespace_name, object);
  if (resource.namespaced && ns.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "create " + resource.plural + ": no namespace");
  }
  return DoJson({.verb = "create",
                 .resource = &resource,
                 .method = "POST",
                 .target = ResourcePath(resource, ns),
                 .body = object.dump(),
                 .content_type = std::string(kJson)});
}

Result<Json> HttpKubeApi::CreateSubresource(const Resource& resource,
                                            std::string_view namespace_name, std::string_view name,
                                            std::string_view subresource, const Json& body) {
  return DoJson({.verb = "create",
                 .resource = &resource,
                 .method = "POST",
                 .target = ResourcePath(resource, namespace_name, name, subresource),
                 .body = body.dump(),
                 .content_type = std::string(kJson)});
}

Result<Json> HttpKubeApi::Update(const Resource& resource, std::string_view namespace_name,
                                 const Json& object, std::string_view subresource) {
  const std::string& name = MetadataString(object, "name");
  if (name.empty()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "update " + resource.plural + ": object without metadata.name");
  }
  return DoJson({.verb = "update",
                 .resource = &resource,
                 .method = "PUT",
                 .target = ResourcePath(resource, ObjectNamespace(resource, namespace_name, object),
                                        name, subresource),
                 .body = object.dump(),
                 .content_type = std::string(kJson)});
}

Result<Json> HttpKubeApi::MergePatch(const Resource& resource, std::string_view namespace_name,
                                     std::string_view name, const Json& patch,
                                     std::string_view subresource) {
  return DoJson({.verb = "patch",
                 .resource = &resource,
                 .method = "PATCH",
                 .target = ResourcePath(resource, namespace_name, name, subresource),
                 .body = patch.dump(),
                 .content_type = std::string(kMergePatch)});
}

Result<Json> HttpKubeApi::Apply(const Resource& resource, std::string_view namespace_name,
                                std::string_view name, const Json& object,
                                const ApplyOptions& options, std::string_view subresource) {
  if (options.field_manager.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "server-side apply needs a field manager");
  }
  Query q;
  q.Add("fieldManager", options.field_manager);
  if (options.force) {
    q.Add("force", "true");
  }
  return DoJson({.verb = "apply",
                 .resource = &resource,
                 .method = "PATCH",
                 .target = ResourcePath(resource, namespace_name, name, subresource) + q.text(),
                 .body = object.dump(),
                 .content_type = std::string(kApplyPatch)});
}

Result<void> HttpKubeApi::Delete(const Resource& resource, std::string_view namespace_name,
                                 std::string_view name, const DeleteOptions& options) {
  auto response = Do({.verb = "delete",
                      .resource = &resource,
                      .method = "DELETE",
                      .target = ResourcePath(resource, namespace_name, name),
                      .body = DeleteBody(options).dump(),
                      .content_type = std::string(kJson)});
  if (!response) {
    return tl::unexpected(response.error());
  }
  return Ok();
}

Result<void> HttpKubeApi::DeleteCollection(const Resource& resource,
                                           std::string_view namespace_name,
                                           const ListOptions& selector,
                                           const DeleteOptions& options) {
  Query q;
  AddSelectors(q, selector.label_selector, selector.field_selector);
  auto response = Do({.verb = "deletecollection",
                      .resource = &resource,
                      .method = "DELETE",
                      .target = ResourcePath(resource, namespace_name) + q.text(),
                      .body = DeleteBody(options).dump(),
                      .content_type = std::string(kJson)});
  if (!response) {
    return tl::unexpected(response.error());
  }
  return Ok();
}

}  // namespace podiam::k8s
