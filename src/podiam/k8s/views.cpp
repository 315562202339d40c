#include "podiam/k8s/views.hpp"

#include <arpa/inet.h>

#include <array>

namespace podiam::k8s {
namespace {

// Empirically 15 in libstdc++: strings up to this length live inside the object.
constexpr std::size_t kSsoCapacity = 15;
// A red-black tree node: colour, parent, left, right.
constexpr std::size_t kMapNodeOverhead = 32;

Result<const Json*> Metadata(const Json& object, bool namespaced) {
  const Json* meta = Find(object, "metadata");
  if (meta == nullptr || StringAt(*meta, "name").empty() ||
      (namespaced && StringAt(*meta, "namespace").empty())) {
    return MakeError(ErrorCode::kUpstreamInvalid, "object without metadata.name/namespace");
  }
  return meta;
}

}  // namespace

AnnotationFilter::AnnotationFilter(std::vector<std::string> patterns) {
  for (auto& p : patterns) {
    if (!p.empty() && p.back() == '*') {
      p.pop_back();
      prefixes_.push_back(std::move(p));
    } else {
      exact_.push_back(std::move(p));
    }
  }
}

bool AnnotationFilter::Keeps(std::string_view key) const {
  for (const auto& e : exact_) {
    if (e == key) {
      return true;
    }
  }
  for (const auto& p : prefixes_) {
    if (key.substr(0, p.size()) == p) {
      return true;
    }
  }
  return false;
}

Annotations AnnotationFilter::Extract(const Json& metadata) const {
  Annotations out;
  const Json* annotations = Find(metadata, "annotations");
  if (annotations == nullptr || !annotations->is_object() ||
      (exact_.empty() && prefixes_.empty())) {
    return out;
  }
  for (const auto& [key, value] : annotations->items()) {
    if (value.is_string() && Keeps(key)) {
      out.emplace(key, value.get<std::string>());
    }
  }
  return out;
}

PodPhase ParsePodPhase(std::string_view text) {
  if (text == "Pending") {
    return PodPhase::kPending;
  }
  if (text == "Running") {
    return PodPhase::kRunning;
  }
  if (text == "Succeeded") {
    return PodPhase::kSucceeded;
  }
  if (text == "Failed") {
    return PodPhase::kFailed;
  }
  return PodPhase::kUnknown;
}

std::string_view PodPhaseName(PodPhase phase) {
  switch (phase) {
    case PodPhase::kPending:
      return "Pending";
    case PodPhase::kRunning:
      return "Running";
    case PodPhase::kSucceeded:
      return "Succeeded";
    case PodPhase::kFailed:
      return "Failed";
    case PodPhase::kUnknown:
      break;
  }
  return "Unknown";
}

std::optional<std::string> CanonicalIp(std::string_view text) {
  if (text.empty() || text.size() > INET6_ADDRSTRLEN) {
    return std::nullopt;
  }
  std::string copy(text);
  std::array<unsigned char, 16> bytes{};
  std::array<char, INET6_ADDRSTRLEN> out{};
  if (inet_pton(AF_INET, copy.c_str(), bytes.data()) == 1) {
    inet_ntop(AF_INET, bytes.data(), out.data(), out.size());
    return std::string(out.data());
  }
  if (inet_pton(AF_INET6, copy.c_str(), bytes.data()) == 1) {
    inet_ntop(AF_INET6, bytes.data(), out.data(), out.size());
    return std::string(out.data());
  }
  return std::nullopt;
}

std::string ObjectKey(const Json& object) {
  const Json* meta = Find(object, "metadata");
  if (meta == nullptr) {
    return {};
  }
  const std::string& ns = StringAt(*meta, "namespace");
  const std::string& name = StringAt(*meta, "name");
  return ns.empty() ? name : ns + "/" + name;
}

std::size_t StringHeapBytes(const std::string& s) {
  return s.capacity() > kSsoCapacity ? s.capacity() + 1 : 0;
}

std::size_t AnnotationsBytes(const Annotations& annotations) {
  std::size_t n = 0;
  for (const auto& [k, v] : annotations) {
    n += kMapNodeOverhead + sizeof(std::string) * 2 + StringHeapBytes(k) + StringHeapBytes(v);
  }
  return n;
}

std::size_t PodView::MemoryBytes() const {
  std::size_t n = sizeof(PodView);
  for (const std::string* s :
       {&namespace_name, &name, &uid, &resource_version, &node_name, &service_account_name}) {
    n += StringHeapBytes(*s);
  }
  n += pod_ips.capacity() * sizeof(std::string);
  for (const auto& ip : pod_ips) {
    n += StringHeapBytes(ip);
  }
  return n + AnnotationsBytes(annotations);
}

std::size_t NamespaceView::MemoryBytes() const {
  return sizeof(NamespaceView) + StringHeapBytes(name) + StringHeapBytes(uid) +
         StringHeapBytes(resource_version) + AnnotationsBytes(annotations);
}

std::size_t ServiceAccountView::MemoryBytes() const {
  return sizeof(ServiceAccountView) + StringHeapBytes(namespace_name) + StringHeapBytes(name) +
         StringHeapBytes(uid) + StringHeapBytes(resource_version) + AnnotationsBytes(annotations);
}

Result<PodView> PodFromJson(const Json& object, const AnnotationFilter& keep) {
  auto meta = Metadata(object, true);
  if (!meta) {
    return tl::unexpected(meta.error());
  }
  const Json& m = **meta;
  PodView pod;
  pod.namespace_name = StringAt(m, "namespace");
  pod.name = StringAt(m, "name");
  pod.uid = StringAt(m, "uid");
  pod.resource_version = StringAt(m, "resourceVersion");
  if (auto created = ParseTime(StringAt(m, "creationTimestamp"))) {
    pod.creation_timestamp = *created;
  }
  pod.deleting =
      Find(m, "deletionTimestamp") != nullptr && !Find(m, "deletionTimestamp")->is_null();
  pod.annotations = keep.Extract(m);
  if (const Json* spec = Find(object, "spec")) {
    pod.node_name = StringAt(*spec, "nodeName");
    pod.service_account_name = StringAt(*spec, "serviceAccountName");
    if (pod.service_account_name.empty()) {
      pod.service_account_name = StringAt(*spec, "serviceAccount");  // deprecated alias
    }
    const Json* host = Find(*spec, "hostNetwork");
    pod.host_network = host != nullptr && host->is_boolean() && host->get<bool>();
  }
  if (const Json* status = Find(object, "status")) {
    pod.phase = ParsePodPhase(StringAt(*status, "phase"));
    if (const Json* ips = Find(*status, "podIPs"); ips != nullptr && ips->is_array()) {
      for (const auto& entry : *ips) {
        if (auto ip = CanonicalIp(StringAt(entry, "ip"))) {
          pod.pod_ips.push_back(std::move(*ip));
        }
      }
    }
    if (pod.pod_ips.empty()) {
      if (auto ip = CanonicalIp(StringAt(*status, "podIP"))) {
        pod.pod_ips.push_back(std::move(*ip));
      }
    }
    pod.pod_ips.shrink_to_fit();
  }
  return pod;
}

Result<NamespaceView> NamespaceFromJson(const Json& object, const AnnotationFilter& keep) {
  auto meta = Metadata(object, false);
  if (!meta) {
    return tl::unexpected(meta.error());
  }
  const Json& m = **meta;
  return NamespaceView{.name = StringAt(m, "name"),
                       .uid = StringAt(m, "uid"),
                       .resource_version = StringAt(m, "resourceVersion"),
                       .annotations = keep.Extract(m)};
}

Result<ServiceAccountView> ServiceAccountFromJson(const Json& object,
                                                  const AnnotationFilter& keep) {
  auto meta = Metadata(object, true);
  if (!meta) {
    return tl::unexpected(meta.error());
  }
  const Json& m = **meta;
  return ServiceAccountView{.namespace_name = StringAt(m, "namespace"),
                            .name = StringAt(m, "name"),
                            .uid = StringAt(m, "uid"),
                            .resource_version = StringAt(m, "resourceVersion"),
                            .annotations = keep.Extract(m)};
}

}  // namespace podiam::k8s
