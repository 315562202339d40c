// AdmissionReview (admission.k8s.io/v1 and v1beta1; both have the same shape) as it arrives from
// the apiserver: untrusted bytes -> a checked value, and the AdmissionReview answered in kind
// (docs/webhook.md, "The AdmissionReview exchange").
//
// Thread-safety: pure functions.
//
//   auto review = webhook::DecodeAdmissionReview(request.body);
//   std::string body = webhook::EncodeAdmissionReview(*review, {.allowed = true});
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "podiam/base/error.hpp"
#include "podiam/webhook/mutation.hpp"

namespace podiam::webhook {

// JSON nested deeper than this is refused before parsing (Kubernetes objects are shallow; deep
// nesting only costs stack).
inline constexpr std::size_t kMaxNestingDepth = 64;

struct AdmissionReview {
  // Echoed in the answer; the apiserver requires the version it sent.
  std::string api_version = "admission.k8s.io/v1";
  std::string kind = "AdmissionReview";
  std::string uid;
  std::string namespace_name;
  std::string operation;  // CREATE, UPDATE, ...
  std::string resource;   // request.resource.resource: "pods"
  std::string resource_group;
  std::string sub_resource;  // "" for the pod itself
  std::string kind_name;     // request.kind.kind: "Pod"
  bool dry_run = false;
  OJson object;  // request.object (null when absent)
};

// Errors (kInvalidArgument): not JSON, nested too deeply, not an object, apiVersion other than
// admission.k8s.io/v1 or v1beta1, no `request`, fields of the wrong type. `partial` (when given)
// receives what could be read before the error (apiVersion, kind, uid), so that the answer can
// still carry the request's uid and version.
Result<AdmissionReview> DecodeAdmissionReview(std::string_view body,
                                              AdmissionReview* partial = nullptr);

struct AdmissionVerdict {
  bool allowed = true;
  std::optional<std::string> patch;  // JSON Patch text; sent base64-encoded with patchType
  // For a refusal (allowed false): response.status.
  int code = 0;
  std::string reason;
  std::string message;
};

// The response AdmissionReview: same apiVersion and kind, response.uid = review.uid.
std::string EncodeAdmissionReview(const AdmissionReview& review, const AdmissionVerdict& verdict);

// Deepest [ / { nesting of a JSON text, strings skipped; stops counting past `limit`.
std::size_t NestingDepth(std::string_view text, std::size_t limit);

std::string Base64Encode(std::string_view bytes);

}  // namespace podiam::webhook
