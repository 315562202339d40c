// Fuzzes webhook::AdmissionHandler::Review (AdmissionReview decoding, the pod mutation, the
// answer) with arbitrary request bodies, under settings the first byte chooses.
//
// Input layout (docs/fuzzing.md):
//   byte 0   bit 0 the ServiceAccount is cached with a role, bit 1 the direct read fails,
//            bit 2 an association selects it (container credentials), bit 3 --aws-default-region,
//            bit 4 --sts-regional-endpoint, bit 5 the ServiceAccount's audience annotation is "",
//            bit 6 skip-containers would apply to a container named "a"
//   rest     the request body
//
// Invariants: never crashes; the answer is an AdmissionReview of the request's apiVersion; when
// the body decodes, response.uid equals request.uid; a refusal carries a message; a patch is
// base64 of a JSON Patch array of `add` operations on /spec/... or /metadata/labels...; applying
// it to the request's pod succeeds and keeps every container and init container (same names, same
// order); the patched pod mutates to no change (reinvocation-safe).
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "fuzz/fuzz_input.hpp"
#include "podiam/base/log.hpp"
#include "podiam/testing/fake_clock.hpp"
#include "podiam/testing/fake_random.hpp"
#include "podiam/webhook/admission.hpp"
#include "podiam/webhook/admission_handler.hpp"

namespace {

using podiam::webhook::OJson;

class Accounts final : public podiam::webhook::ServiceAccountDirectory {
 public:
  std::optional<podiam::webhook::AccountAnnotations> Cached(std::string_view /*ns*/,
                                                            std::string_view /*name*/) override {
    if (!cached) {
      return std::nullopt;
    }
    return annotations;
  }
  podiam::Result<podiam::webhook::AccountAnnotations> Fetch(
      std::string_view /*ns*/, std::string_view /*name*/,
      podiam::webhook::SteadyTime /*deadline*/) override {
    if (fail) {
      return podiam::MakeError(podiam::ErrorCode::kUnavailable, "down");
    }
    return annotations;
  }
  bool cached = false;
  bool fail = false;
  podiam::webhook::AccountAnnotations annotations;
};

class Associations final : public podiam::webhook::AssociationDirectory {
 public:
  bool Selects(std::string_view /*ns*/, std::string_view /*sa*/) override { return selected; }
  bool selected = false;
};

std::optional<std::string> Base64Decode(std::string_view in) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  if (in.size() % 4 != 0) {
    return std::nullopt;
  }
  std::string out;
  for (std::size_t i = 0; i < in.size(); i += 4) {
    unsigned n = 0;
    int pad = 0;
    for (std::size_t k = 0; k < 4; ++k) {
      char c = in[i + k];
      if (c == '=') {
        ++pad;
        n <<= 6U;
        continue;
      }
      int v = value(c);
      if (v < 0 || pad > 0) {
        return std::nullopt;
      }
      n = (n << 6U) | static_cast<unsigned>(v);
    }
    out += static_cast<char>((n >> 16U) & 0xFFU);
    if (pad < 2) out += static_cast<char>((n >> 8U) & 0xFFU);
    if (pad < 1) out += static_cast<char>(n & 0xFFU);
  }
  return out;
}

std::vector<std::string> Names(const nlohmann::json& spec, const char* key) {
  std::vector<std::string> names;
  if (auto it = spec.find(key); it != spec.end() && it->is_array()) {
    for (const auto& c : *it) {
      names.push_back(c.is_object() && c.contains("name") && c["name"].is_string()
                          ? c["name"].get<std::string>()
                          : std::string());
    }
  }
  return names;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const bool configured = [] {
    podiam::log::Configure({.level = podiam::log::Level::kError});
    return true;
  }();
  (void)configured;
  podiam::fuzz::Input in(data, size);
  const std::uint8_t flags = in.Byte();
  const std::string body(in.Rest());

  Accounts accounts;
  accounts.cached = (flags & 1U) != 0;
  accounts.fail = (flags & 2U) != 0;
  auto annotations = std::make_shared<podiam::k8s::Annotations>();
  (*annotations)["eks.amazonaws.com/role-arn"] = "arn:aws:iam::111122223333:role/r";
  if ((flags & 32U) != 0) {
    (*annotations)["eks.amazonaws.com/audience"] = "";
  }
  accounts.annotations = annotations;
  Associations associations;
  associations.selected = (flags & 4U) != 0;
  podiam::testing::FakeClock clock;
  podiam::testing::FakeRandom random(0.25);
  podiam::metrics::Registry registry;
  podiam::webhook::WebhookMetrics metrics(registry);
  podiam::webhook::MutationSettings settings;
  if ((flags & 8U) != 0) {
    settings.region = "eu-west-1";
  }
  settings.regional_sts = (flags & 16U) != 0;
  podiam::webhook::AdmissionHandler handler(accounts, associations, clock, random, metrics,
                                            {.mutation = settings});

  const std::string answer = handler.Review(body);
  auto out = nlohmann::json::parse(answer, nullptr, false);
  FUZZ_CHECK(out.is_object(), "the answer is not a JSON object");
  FUZZ_CHECK(out["kind"] == "AdmissionReview", "the answer is not an AdmissionReview");
  FUZZ_CHECK(
      out["apiVersion"] == "admission.k8s.io/v1" || out["apiVersion"] == "admission.k8s.io/v1beta1",
      "the answer has another apiVersion");
  const auto& response = out["response"];
  FUZZ_CHECK(response.is_object() && response["allowed"].is_boolean(), "no response.allowed");
  if (!response["allowed"].get<bool>()) {
    FUZZ_CHECK(
        response.contains("status") && !response["status"]["message"].get<std::string>().empty(),
        "a refusal without a message");
    FUZZ_CHECK(!response.contains("patch"), "a refusal with a patch");
  }
  auto review = podiam::webhook::DecodeAdmissionReview(body);
  if (!review) {
    FUZZ_CHECK(!response.contains("patch"), "a patch for an undecodable review");
    return 0;
  }
  FUZZ_CHECK(out["apiVersion"] == review->api_version, "the apiVersion is not echoed");
  FUZZ_CHECK(response["uid"] == review->uid, "response.uid differs from request.uid");
  if (!response.contains("patch")) {
    return 0;
  }
  FUZZ_CHECK(response["patchType"] == "JSONPatch", "a patch without patchType JSONPatch");
  auto text = Base64Decode(response["patch"].get<std::string>());
  FUZZ_CHECK(text.has_value(), "the patch is not base64");
  auto patch = nlohmann::json::parse(*text, nullptr, false);
  FUZZ_CHECK(patch.is_array() && !patch.empty(), "the patch is not a non-empty JSON array");
  for (const auto& op : patch) {
    FUZZ_CHECK(
        op.is_object() && op["op"] == "add" && op["path"].is_string() && op.contains("value"),
        "a patch operation that is not an add with path and value");
    const std::string path = op["path"];
    FUZZ_CHECK(path.starts_with("/spec/") || path.starts_with("/metadata/labels"),
               "a patch outside spec and labels");
  }
  auto pod = nlohmann::json::parse(review->object.dump());
  nlohmann::json patched;
  try {
    patched = pod.patch(patch);
  } catch (const nlohmann::json::exception& e) {
    FUZZ_CHECK(false, "the patch does not apply to the pod");
  }
  FUZZ_CHECK(Names(patched["spec"], "containers") == Names(pod["spec"], "containers"),
             "containers lost, added or reordered");
  FUZZ_CHECK(Names(patched["spec"], "initContainers") == Names(pod["spec"], "initContainers"),
             "init containers lost, added or reordered");
  auto again = podiam::webhook::Mutate(OJson::parse(patched.dump()),
                                       {.namespace_name = review->namespace_name,
                                        .service_account = annotations.get(),
                                        .container_credentials = associations.selected},
                                       settings, random);
  FUZZ_CHECK(again.has_value() && !again->changed, "the mutated pod mutates again");
  return 0;
}
