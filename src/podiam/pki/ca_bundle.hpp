// Puts a caBundle into a webhook configuration manifest (YAML text), keeping everything else of
// the file as it is (comments, order, other documents): a line-based edit, not a YAML rewrite.
//
// Every uncommented `caBundle:` line gets the new value; every `clientConfig:` mapping without
// one gets a `caBundle:` line right below it, indented like its first entry. That covers
// MutatingWebhookConfiguration and ValidatingWebhookConfiguration webhooks in block style (what
// `deploy/webhook/webhook.yaml` and kubectl-written manifests use). A flow-style clientConfig
// (`clientConfig: {...}`) is refused rather than guessed at.
//
// Thread-safety: pure function.
#pragma once

#include <string>
#include <string_view>

#include "podiam/base/error.hpp"

namespace podiam::pki {

struct CaBundleEdit {
  std::string manifest;  // the edited text
  int replaced = 0;      // existing caBundle lines given the new value
  int inserted = 0;      // caBundle lines added below a clientConfig
};

// kInvalidArgument when the text has no clientConfig at all, has a flow-style one, or
// `ca_bundle` is not base64.
Result<CaBundleEdit> SetCaBundle(std::string_view manifest, std::string_view ca_bundle);

}  // namespace podiam::pki
