#include "podiam/k8s/resource.hpp"

namespace podiam::k8s {

std::string Resource::ApiVersion() const { return group.empty() ? version : group + "/" + version; }

namespace resources {
Resource Pods() { return {.plural = "pods", .kind = "Pod"}; }
Resource Namespaces() { return {.plural = "namespaces", .namespaced = false, .kind = "Namespace"}; }
Resource Nodes() { return {.plural = "nodes", .namespaced = false, .kind = "Node"}; }
Resource ServiceAccounts() { return {.plural = "serviceaccounts", .kind = "ServiceAccount"}; }
Resource Secrets() { return {.plural = "secrets", .kind = "Secret"}; }
Resource ConfigMaps() { return {.plural = "configmaps", .kind = "ConfigMap"}; }
Resource Events() {
  return {.group = "events.k8s.io", .version = "v1", .plural = "events", .kind = "Event"};
}
Resource CoreEvents() { return {.plural = "events", .kind = "Event"}; }
Resource Leases() {
  return {.group = "coordination.k8s.io", .version = "v1", .plural = "leases", .kind = "Lease"};
}
Resource TokenReviews() {
  return {.group = "authentication.k8s.io",
          .version = "v1",
          .plural = "tokenreviews",
          .namespaced = false,
          .kind = "TokenReview"};
}
Resource EndpointSlices() {
  return {.group = "discovery.k8s.io",
          .version = "v1",
          .plural = "endpointslices",
          .kind = "EndpointSlice"};
}
Resource Roles() {
  return {.group = "rbac.authorization.k8s.io", .version = "v1", .plural = "roles", .kind = "Role"};
}
Resource RoleBindings() {
  return {.group = "rbac.authorization.k8s.io",
          .version = "v1",
          .plural = "rolebindings",
          .kind = "RoleBinding"};
}
Resource CustomResourceDefinitions() {
  return {.group = "apiextensions.k8s.io",
          .version = "v1",
          .plural = "customresourcedefinitions",
          .namespaced = false,
          .kind = "CustomResourceDefinition"};
}
}  // namespace resources

std::string UrlEncode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    bool unreserved = (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9') ||
                      u == '-' || u == '.' || u == '_' || u == '~';
    if (unreserved) {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 0x0F]);
    }
  }
  return out;
}

std::string ResourcePath(const Resource& resource, std::string_view namespace_name,
                         std::string_view name, std::string_view subresource) {
  std::string path = resource.group.empty() ? "/api/" + resource.version
                                            : "/apis/" + resource.group + "/" + resource.version;
  if (resource.namespaced && !namespace_name.empty()) {
    path += "/namespaces/";
    path += UrlEncode(namespace_name);
  }
  path += "/";
  path += resource.plural;
  if (!name.empty()) {
    path += "/";
    path += UrlEncode(name);
    if (!subresource.empty()) {
      path += "/";
      path += subresource;
    }
  }
  return path;
}

}  // namespace podiam::k8s
