// Resource descriptors: which REST collection an object lives in. Every KubeApi call names its
// resource this way, built-in or custom, so one code path serves Pods and CRDs alike.
//
// Thread-safety: plain values.
//
//   k8s::Resource roles{.group = "rbac.authorization.k8s.io", .version = "v1", .plural = "roles",
//                       .kind = "Role"};
//   std::string path = k8s::ResourcePath(roles, "team-a", "reader");
//   // "/apis/rbac.authorization.k8s.io/v1/namespaces/team-a/roles/reader"
#pragma once

#include <string>
#include <string_view>

namespace podiam::k8s {

struct Resource {
  std::string group;  // "" for the core API ("/api/v1")
  std::string version = "v1";
  std::string plural;  // "pods"
  bool namespaced = true;
  std::string kind;  // "Pod": written into bodies that need it (apply, TokenReview)

  // "v1" or "coordination.k8s.io/v1".
  [[nodiscard]] std::string ApiVersion() const;
};

// The resources podiam itself uses.
namespace resources {
Resource Pods();
Resource Namespaces();
Resource Nodes();
Resource ServiceAccounts();
Resource Secrets();
Resource ConfigMaps();
Resource Events();      // events.k8s.io/v1 (what EventRecorder writes)
Resource CoreEvents();  // core v1 Events (same objects, older schema)
Resource Leases();
Resource TokenReviews();
Resource Roles();
Resource RoleBindings();
Resource CustomResourceDefinitions();
Resource EndpointSlices();  // discovery.k8s.io/v1
}  // namespace resources

// The URL path of a collection (name empty) or an object, optionally a subresource of it.
// `namespace_name` is ignored for cluster-scoped resources and, when empty, selects all
// namespaces for a collection. Names are percent-encoded.
std::string ResourcePath(const Resource& resource, std::string_view namespace_name,
                         std::string_view name = {}, std::string_view subresource = {});

// Percent-encodes everything but RFC 3986 unreserved characters (for query values and names).
std::string UrlEncode(std::string_view text);

}  // namespace podiam::k8s
