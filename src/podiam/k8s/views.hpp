// Compact views of the objects podiam caches: only the fields it uses, so that a node's pods or a
// cluster's namespaces cost a few hundred bytes each instead of the 4-20 KB of their JSON.
//
//   PodView:            namespace, name, uid, resourceVersion, creationTimestamp, nodeName,
//                       serviceAccountName, hostNetwork, phase, podIPs, deletionTimestamp set?,
//                       and the annotations named in ViewOptions.
//   NamespaceView:      name, uid, resourceVersion, kept annotations.
//   ServiceAccountView: namespace, name, uid, resourceVersion, kept annotations.
//
// Thread-safety: plain values; caches share them as shared_ptr<const View>.
//
//   k8s::AnnotationFilter keep({"iam.amazonaws.com/role", "iam.amazonaws.com/*"});
//   Result<k8s::PodView> pod = k8s::PodFromJson(object, keep);
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "podiam/base/error.hpp"
#include "podiam/k8s/kube_api.hpp"
#include "podiam/k8s/timestamps.hpp"

namespace podiam::k8s {

// Same type as identity::Annotations, so views plug straight into the role policy.
using Annotations = std::map<std::string, std::string, std::less<>>;

// Which annotation keys a view keeps: exact keys, or prefixes written with a trailing '*'.
class AnnotationFilter {
 public:
  AnnotationFilter() = default;
  explicit AnnotationFilter(std::vector<std::string> patterns);
  [[nodiscard]] bool Keeps(std::string_view key) const;
  [[nodiscard]] Annotations Extract(const Json& metadata) const;

 private:
  std::vector<std::string> exact_;
  std::vector<std::string> prefixes_;
};

enum class PodPhase { kUnknown, kPending, kRunning, kSucceeded, kFailed };
PodPhase ParsePodPhase(std::string_view text);
std::string_view PodPhaseName(PodPhase phase);

struct PodView {
  std::string namespace_name;
  std::string name;
  std::string uid;
  std::string resource_version;
  WallTime creation_timestamp{};
  std::string node_name;
  std::string service_account_name;
  bool host_network = false;
  PodPhase phase = PodPhase::kUnknown;
  std::vector<std::string> pod_ips;  // canonical text form; status.podIPs, else status.podIP
  bool deleting = false;             // metadata.deletionTimestamp is set
  Annotations annotations;           // only the kept keys

  // Succeeded or Failed: the pod's IP may already belong to another pod.
  [[nodiscard]] bool Terminal() const {
    return phase == PodPhase::kSucceeded || phase == PodPhase::kFailed;
  }
  [[nodiscard]] std::string Key() const { return namespace_name + "/" + name; }
  // Approximate heap and inline bytes of this view.
  [[nodiscard]] std::size_t MemoryBytes() const;
  bool operator==(const PodView&) const = default;
};

struct NamespaceView {
  std::string name;
  std::string uid;
  std::string resource_version;
  Annotations annotations;

  [[nodiscard]] std::string Key() const { return name; }
  [[nodiscard]] std::size_t MemoryBytes() const;
  bool operator==(const NamespaceView&) const = default;
};

struct ServiceAccountView {
  std::string namespace_name;
  std::string name;
  std::string uid;
  std::string resource_version;
  Annotations annotations;

  [[nodiscard]] std::string Key() const { return namespace_name + "/" + name; }
  [[nodiscard]] std::size_t MemoryBytes() const;
  bool operator==(const ServiceAccountView&) const = default;
};

// kUpstreamInvalid when metadata.name (or, for namespaced kinds, metadata.namespace) is missing.
Result<PodView> PodFromJson(const Json& object, const AnnotationFilter& keep);
Result<NamespaceView> NamespaceFromJson(const Json& object, const AnnotationFilter& keep);
Result<ServiceAccountView> ServiceAccountFromJson(const Json& object, const AnnotationFilter& keep);

// "namespace/name" (or "name" for cluster-scoped objects) from an object's metadata.
std::string ObjectKey(const Json& object);

// The canonical text of an IPv4 or IPv6 address ("fd00:0::5" -> "fd00::5"); nullopt if invalid.
std::optional<std::string> CanonicalIp(std::string_view text);

// Heap bytes a std::string owns beyond its inline buffer (0 for short strings).
std::size_t StringHeapBytes(const std::string& s);
std::size_t AnnotationsBytes(const Annotations& annotations);

}  // namespace podiam::k8s
