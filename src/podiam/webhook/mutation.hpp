// The pod mutation of `podiam webhook`, as a pure function: pod + what is known about its
// ServiceAccount + settings -> RFC 6902 JSON Patch. It reproduces what
// amazon-eks-pod-identity-webhook injects (docs/webhook.md, "What is injected"; each rule there
// has a number, R1..R21, that the golden test names), with the differences listed in
// docs/webhook.md "Differences from the reference".
//
// Thread-safety: pure functions; `random` is the only state touched (the jittered expiration of
// container-credentials tokens).
//
//   auto m = webhook::Mutate(pod, {.namespace_name = "team-a", .service_account = &annotations},
//                            settings, random);
//   if (m && m->changed) { /* base64(m->patch.dump()) goes into the AdmissionResponse */ }
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "podiam/base/error.hpp"
#include "podiam/base/random.hpp"
#include "podiam/k8s/views.hpp"

namespace podiam::webhook {

// Insertion-ordered JSON: a container keeps its fields in the order the apiserver sent them.
using OJson = nlohmann::ordered_json;

inline constexpr std::int64_t kDefaultTokenExpiration = 86400;  // also the maximum EKS allows
inline constexpr std::int64_t kMinJitteredExpiration = 79200;   // container-credentials jitter
inline constexpr std::int64_t kMinTokenExpiration = 600;        // kube-apiserver's minimum

// The reference's --container-credentials-* flags (docs/webhook.md, R15).
struct ContainerCredentialsSettings {
  std::string audience = "pods.eks.amazonaws.com";
  std::string mount_path = "/var/run/secrets/pods.eks.amazonaws.com/serviceaccount";
  std::string volume_name = "eks-pod-identity-token";
  std::string token_path = "eks-pod-identity-token";
  std::string full_uri = "http://169.254.170.23/v1/credentials";
  // podiam (--container-credentials-from-annotations with --iam-role-key): a ServiceAccount
  // carrying this annotation with a non-empty value is selected for container credentials, as
  // by an association (R21). Empty: off, as in the reference.
  std::string role_annotation;
};

struct MutationSettings {
  std::string annotation_prefix = "eks.amazonaws.com";
  std::string audience = "sts.amazonaws.com";  // --token-audience
  std::string mount_path = "/var/run/secrets/eks.amazonaws.com/serviceaccount";
  std::int64_t token_expiration = kDefaultTokenExpiration;  // --token-expiration (>= 600)
  std::string region;                                       // --aws-default-region
  bool regional_sts = false;                                // --sts-regional-endpoint
  ContainerCredentialsSettings container_credentials;
};

enum class Mode { kNone, kWebIdentity, kContainerCredentials };
std::string_view ModeName(Mode mode);  // "none", "web_identity", "container_credentials"

// What the reference's ServiceAccount cache keeps of an SA (R2..R5): role ARN (empty: no IRSA),
// audience, regional STS and token expiration, annotations over flags.
struct ServiceAccountSettings {
  std::string role_arn;
  std::string audience;
  bool regional_sts = false;
  std::int64_t token_expiration = kDefaultTokenExpiration;
};
ServiceAccountSettings ReadServiceAccount(const k8s::Annotations& annotations,
                                          const MutationSettings& settings);

struct MutationInput {
  std::string namespace_name;  // request.namespace (the pod's own field is not trusted)
  // The pod's ServiceAccount's annotations; nullptr when the ServiceAccount does not exist.
  const k8s::Annotations* service_account = nullptr;
  // An association (or the identities file) selects this ServiceAccount for container
  // credentials (R14). Its role annotation may select it too (R21).
  bool container_credentials = false;
};

struct Mutation {
  Mode mode = Mode::kNone;
  OJson patch = OJson::array();
  // False when the pod already carries everything (reinvocation, or a pod created from an
  // already-mutated spec): the webhook then answers with no patch at all.
  bool changed = false;
  std::int64_t token_expiration = 0;  // of the injected projected token
};

// Whether the pod's ServiceAccount gets container credentials: an association selects it (R14),
// or it carries settings.container_credentials.role_annotation (R21).
bool SelectsContainerCredentials(const MutationInput& input, const MutationSettings& settings);

// kInvalidArgument when the pod is not shaped like a Pod (spec/metadata not objects, containers
// not an array of objects, env not a list of {name,...}, ...), as the reference's decoding fails.
Result<Mutation> Mutate(const OJson& pod, const MutationInput& input,
                        const MutationSettings& settings, Random& random);

// ---- helpers with rules of their own, exposed for tests
// Go's strconv.ParseBool.
std::optional<bool> ParseGoBool(std::string_view text);
// Go's strconv.ParseInt(text, 10, 64).
std::optional<std::int64_t> ParseGoInt64(std::string_view text);
// The first record of Go's encoding/csv reader with default settings; nullopt where Go errors.
std::optional<std::vector<std::string>> ParseCsvRecord(std::string_view text);
// Go's path/filepath.Join(a, b) on Linux (joins, then Clean()s).
std::string JoinPath(std::string_view a, std::string_view b);
// RFC 6901: '~' -> "~0", '/' -> "~1".
std::string EscapeJsonPointer(std::string_view token);

}  // namespace podiam::webhook
