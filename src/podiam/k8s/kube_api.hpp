// KubeApi: the port through which podiam talks to the Kubernetes API — get, paginated list,
// streaming watch, create, update (PUT with optimistic concurrency), JSON merge patch, server-side
// apply and delete, on any resource (built-in or custom) named by a Resource descriptor. Objects
// are unstructured JSON; informers turn them into compact views (views.hpp).
//
// Error contract (HttpKubeApi maps the apiserver's Status objects; FakeKubeApi does the same):
//   404 -> kNotFound, 409 -> kConflict (AlreadyExists or a stale resourceVersion),
//   403 -> kPermissionDenied with the apiserver's message, 401 -> kUnauthenticated,
//   400/422 -> kInvalidArgument, 410 -> kFailedPrecondition with upstream code "Expired" or
//   "Gone" (test with IsGone()), 429 -> kResourceExhausted and 5xx -> kUnavailable (both
//   retryable). upstream_code() is the Status `reason` ("NotFound", "Forbidden", ...) or "HTTP
//   <n>".
//
// Thread-safety: implementations allow concurrent calls from any thread.
//
//   k8s::HttpKubeApi api(http, config, k8s_metrics);
//   auto pod = api.Get(k8s::resources::Pods(), "team-a", "web-1");
//   if (!pod && pod.error().code() == ErrorCode::kNotFound) { ... }
//   auto page = api.List(k8s::resources::Pods(), "", {.field_selector = "spec.nodeName=n1",
//                                                      .limit = 500});
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "podiam/base/error.hpp"
#include "podiam/k8s/resource.hpp"

namespace podiam::k8s {

using Json = nlohmann::json;

struct ListOptions {
  std::string label_selector;          // "app=web,tier!=db"
  std::string field_selector;          // "spec.nodeName=node-1"
  int limit = 0;                       // page size; 0 = everything at once
  std::string continue_token;          // from the previous page
  std::string resource_version;        // "" = most recent (quorum read); "0" = any (cache)
  std::string resource_version_match;  // "", "NotOlderThan" or "Exact"
};

struct ObjectList {
  std::vector<Json> items;
  std::string resource_version;  // of the whole list: where a watch starts
  std::string continue_token;    // empty on the last page
};

enum class WatchEventType { kAdded, kModified, kDeleted, kBookmark, kError };

struct WatchEvent {
  WatchEventType type = WatchEventType::kAdded;
  Json object;
};

std::string_view WatchEventTypeName(WatchEventType type);

struct WatchOptions {
  std::string resource_version;  // start after this version ("" = now)
  std::string label_selector;
  std::string field_selector;
  bool allow_bookmarks = true;
  std::chrono::seconds timeout{0};  // server-side timeoutSeconds; 0 = the server's default
  // Ends the watch (returning Ok()) as soon as it is requested: fakes wake at once, and the HTTP
  // adapter hands it to the transport (ClientRequest::stop), which cancels a blocked read.
  std::stop_token stop;
};

// Called for each event; return false to end the watch.
using WatchHandler = std::function<bool(WatchEvent&& event)>;

struct DeleteOptions {
  std::optional<std::int64_t> grace_period_seconds;
  std::string precondition_uid;               // delete only this incarnation
  std::string precondition_resource_version;  // delete only this version
  std::string propagation_policy;             // "", "Background", "Foreground", "Orphan"
};

struct ApplyOptions {
  std::string field_manager;  // required by the apiserver
  bool force = false;         // take fields owned by other managers instead of a 409
};

class KubeApi {
 public:
  virtual ~KubeApi() = default;

  virtual Result<Json> Get(const Resource& resource, std::string_view namespace_name,
                           std::string_view name, std::string_view subresource = {}) = 0;
  // One page; loop on continue_token (or use ListAll()).
  virtual Result<ObjectList> List(const Resource& resource, std::string_view namespace_name,
                                  const ListOptions& options) = 0;
  // Blocks for the life of the stream. Returns Ok() when the server ends it, the handler returns
  // false or options.stop is requested. An in-stream ERROR event ends the watch with the error it
  // carries (410 -> IsGone()), so handlers never see kError events.
  virtual Result<void> Watch(const Resource& resource, std::string_view namespace_name,
                             const WatchOptions& options, const WatchHandler& handler) = 0;
  virtual Result<Json> Create(const Resource& resource, std::string_view namespace_name,
                              const Json& object) = 0;
  // POST to a subresource of a named object: serviceaccounts/<sa>/token, pods/<p>/eviction.
  virtual Result<Json> CreateSubresource(const Resource& resource, std::string_view namespace_name,
                                         std::string_view name, std::string_view subresource,
                                         const Json& body) = 0;
  // PUT of the whole object (name from metadata.name). With metadata.resourceVersion set, a
  // concurrent change makes it fail with kConflict.
  virtual Result<Json> Update(const Resource& resource, std::string_view namespace_name,
                              const Json& object, std::string_view subresource = {}) = 0;
  // RFC 7386 JSON merge patch.
  virtual Result<Json> MergePatch(const Resource& resource, std::string_view namespace_name,
                                  std::string_view name, const Json& patch,
                                  std::string_view subresource = {}) = 0;
  // Server-side apply: creates or updates the fields `object` sets, owned by field_manager.
  virtual Result<Json> Apply(const Resource& resource, std::string_view namespace_name,
                             std::string_view name, const Json& object, const ApplyOptions& options,
                             std::string_view subresource = {}) = 0;
  virtual Result<void> Delete(const Resource& resource, std::string_view namespace_name,
                              std::string_view name, const DeleteOptions& options = {}) = 0;
  // Deletes every object the selectors match (the namespace's whole collection when empty).
  virtual Result<void> DeleteCollection(const Resource& resource, std::string_view namespace_name,
                                        const ListOptions& selector,
                                        const DeleteOptions& options = {}) = 0;
};

// Walks all pages of a list (options.limit per page), calling on_item for each object, and
// returns the list's resourceVersion. When a continue token has expired (410 between pages) and
// on_restart is set, it is called (forget the items seen so far) and the list starts again
// without pagination, as the apiserver's message recommends; without on_restart the 410 is
// returned.
Result<std::string> ListAll(KubeApi& api, const Resource& resource, std::string_view namespace_name,
                            ListOptions options, const std::function<void(Json&& item)>& on_item,
                            const std::function<void()>& on_restart = {});

// Error mapping shared by every KubeApi implementation.
// From an HTTP status and the response body (a Status object, or anything else).
Error StatusError(int http_status, std::string_view body);
// From a Status object (an in-stream ERROR event, or a parsed body).
Error StatusObjectError(const Json& status, int fallback_code = 0);
// A 410: the resourceVersion or continue token is older than the apiserver still has.
bool IsGone(const Error& error);

// Small accessors for unstructured objects: "" / nullptr when absent or of another type.
const std::string& StringAt(const Json& object, std::string_view key1, std::string_view key2 = {});
const Json* Find(const Json& object, std::string_view key);
// metadata.<key> of an object ("name", "namespace", "uid", "resourceVersion").
const std::string& MetadataString(const Json& object, std::string_view key);

}  // namespace podiam::k8s
