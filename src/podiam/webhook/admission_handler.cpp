#include "podiam/webhook/admission_handler.hpp"

#include <chrono>
#include <string>

#include "podiam/webhook/admission.hpp"
#include "podiam/webhook/errors.hpp"

namespace podiam::webhook {
namespace {

// "application/json", "application/json; charset=utf-8" (any case in the media type).
bool IsJson(std::string_view content_type) {
  auto semicolon = content_type.find(';');
  std::string_view media = content_type.substr(0, semicolon);
  while (!media.empty() && (media.back() == ' ' || media.back() == '\t')) {
    media.remove_suffix(1);
  }
  while (!media.empty() && (media.front() == ' ' || media.front() == '\t')) {
    media.remove_prefix(1);
  }
  return http::EqualsIgnoreCase(media, "application/json");
}

std::string StringAt(const OJson& object, const char* key1, const char* key2) {
  auto a = object.find(key1);
  if (a == object.end() || !a->is_object()) {
    return {};
  }
  auto b = a->find(key2);
  return b != a->end() && b->is_string() ? b->get<std::string>() : std::string();
}

}  // namespace

AdmissionHandler::AdmissionHandler(ServiceAccountDirectory& accounts,
                                   AssociationDirectory& associations, const Clock& clock,
                                   Random& random, WebhookMetrics& metrics,
                                   AdmissionHandlerOptions options)
    : accounts_(accounts),
      associations_(associations),
      clock_(clock),
      random_(random),
      metrics_(metrics),
      options_(std::move(options)) {}

void AdmissionHandler::Handle(http::Request request, http::ResponseCallback done) {
  if (request.Path() != "/mutate") {
    done(http::Response::Text(404, "not found\n"));
    return;
  }
  if (request.method != "POST") {
    auto response = http::Response::Text(405, "method not allowed: use POST\n");
    response.headers.Set("Allow", "POST");
    done(std::move(response));
    return;
  }
  const std::string content_type(request.headers.Get("Content-Type").value_or(""));
  if (!IsJson(content_type)) {
    log_.Warn("refused a review that is not application/json", {{"content_type", content_type}});
    done(http::Response::Text(415, "Invalid Content-Type, expected `application/json`\n"));
    return;
  }
  done(http::Response::Json(200, Review(request.body)));
}

std::string AdmissionHandler::Review(std::string_view body) {
  const auto start = clock_.SteadyNow();
  Mode mode = Mode::kNone;
  auto finish = [&](const AdmissionReview& review, const AdmissionVerdict& verdict,
                    std::string_view result) {
    metrics_.admissions.WithLabels({ModeName(mode), result}).Inc();
    metrics_.duration.WithLabels({result}).Observe(
        std::chrono::duration<double>(clock_.SteadyNow() - start).count());
    return EncodeAdmissionReview(review, verdict);
  };

  AdmissionReview partial;
  auto decoded = DecodeAdmissionReview(body, &partial);
  if (!decoded) {
    log_.Warn("undecodable admission review",
              {{"uid", partial.uid}, {"error", decoded.error().message()}});
    return finish(partial, Refusal(decoded.error()), "invalid");
  }
  const AdmissionReview& review = *decoded;
  // Only pod creations are mutated; anything else the configuration sends is allowed unchanged.
  if (review.kind_name != "Pod" || review.operation != "CREATE" || !review.sub_resource.empty()) {
    return finish(review, {.allowed = true}, "skipped");
  }
  const std::string pod_name = [&] {
    std::string name = StringAt(review.object, "metadata", "name");
    return name.empty() ? StringAt(review.object, "metadata", "generateName") : name;
  }();
  std::string account_name = StringAt(review.object, "spec", "serviceAccountName");
  if (account_name.empty()) {
    account_name = "default";  // what the apiserver's ServiceAccount admission sets
  }
  const std::string account_key = review.namespace_name + "/" + account_name;

  AccountAnnotations account;
  if (auto cached = accounts_.Cached(review.namespace_name, account_name)) {
    account = *cached;
  } else {
    auto fetched =
        accounts_.Fetch(review.namespace_name, account_name, start + options_.lookup_timeout);
    if (!fetched) {
      metrics_.cache_misses.WithLabels({"error"}).Inc();
      Error error(fetched.error().code(),
                  "ServiceAccount " + account_key +
                      " is not in the webhook's cache yet and reading it from the apiserver "
                      "failed (" +
                      fetched.error().message() +
                      "); the pod is refused rather than created without its AWS settings, "
                      "retry shortly");
      log_.Error("refused a pod: ServiceAccount unreadable",
                 {{"uid", review.uid},
                  {"pod", review.namespace_name + "/" + pod_name},
                  {"service_account", account_key},
                  {"error", fetched.error().ToString()}});
      return finish(review, Refusal(error), "denied");
    }
    metrics_.cache_misses.WithLabels({*fetched ? "found" : "not_found"}).Inc();
    log_.Info("ServiceAccount was not cached yet: read it from the apiserver",
              {{"service_account", account_key}, {"exists", *fetched != nullptr}});
    account = *fetched;
  }

  MutationInput input{
      .namespace_name = review.namespace_name,
      .service_account = account.get(),
      .container_credentials = associations_.Selects(review.namespace_name, account_name)};
  auto mutation = Mutate(review.object, input, options_.mutation, random_);
  if (!mutation) {
    log_.Warn("refused a pod that cannot be decoded",
              {{"uid", review.uid},
               {"pod", review.namespace_name + "/" + pod_name},
               {"error", mutation.error().message()}});
    return finish(review, Refusal(mutation.error()), "invalid");
  }
  mode = mutation->mode;
  if (mode == Mode::kNone) {
    return finish(review, {.allowed = true}, "skipped");
  }
  if (!mutation->changed) {
    log_.Debug("pod already carries its settings: no patch",
               {{"pod", review.namespace_name + "/" + pod_name}});
    return finish(review, {.allowed = true}, "unchanged");
  }
  log_.Info("mutated a pod", {{"pod", review.namespace_name + "/" + pod_name},
                              {"service_account", account_key},
                              {"mode", std::string(ModeName(mode))},
                              {"dry_run", review.dry_run}});
  return finish(review,
                {.allowed = true,
                 .patch = mutation->patch.dump(-1, ' ', false, OJson::error_handler_t::replace)},
                "mutated");
}

}  // namespace podiam::webhook
