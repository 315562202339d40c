// AdmissionHandler: `POST /mutate` of `podiam webhook` (docs/webhook.md). It decodes the
// AdmissionReview, finds the pod's ServiceAccount (cache, else a direct read within
// `lookup_timeout`: the fix for the reference's #174 race), decides the mode, runs the pure
// Mutate() and answers the AdmissionReview in kind. Everything it refuses carries a message a
// user can act on (it reaches `kubectl` through the apiserver).
//
//   POST /mutate, Content-Type application/json -> 200 AdmissionReview
//   other Content-Type -> 415; other method -> 405; other path -> 404
//
// Thread-safety: Handle() runs concurrently on the server's I/O threads. A cache miss blocks that
// thread for the direct read (bounded by lookup_timeout); misses are rare once the informer has
// synced.
#pragma once

#include <chrono>
#include <memory>

#include "podiam/base/clock.hpp"
#include "podiam/base/log.hpp"
#include "podiam/base/random.hpp"
#include "podiam/http/handler.hpp"
#include "podiam/webhook/metrics.hpp"
#include "podiam/webhook/mutation.hpp"
#include "podiam/webhook/ports.hpp"

namespace podiam::webhook {

struct AdmissionHandlerOptions {
  MutationSettings mutation;
  // Budget for the direct read of a ServiceAccount missing from the cache; keep it well under the
  // MutatingWebhookConfiguration's timeoutSeconds.
  std::chrono::milliseconds lookup_timeout{3000};
};

class AdmissionHandler final : public http::Handler {
 public:
  AdmissionHandler(ServiceAccountDirectory& accounts, AssociationDirectory& associations,
                   const Clock& clock, Random& random, WebhookMetrics& metrics,
                   AdmissionHandlerOptions options);

  void Handle(http::Request request, http::ResponseCallback done) override;

  // The AdmissionReview answer for a request body (what Handle() sends with status 200).
  std::string Review(std::string_view body);

 private:
  ServiceAccountDirectory& accounts_;
  AssociationDirectory& associations_;
  const Clock& clock_;
  Random& random_;
  WebhookMetrics& metrics_;
  AdmissionHandlerOptions options_;
  log::Logger log_{"webhook"};
};

}  // namespace podiam::webhook
