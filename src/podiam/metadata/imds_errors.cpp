#include "podiam/metadata/imds_errors.hpp"

#include <fmt/format.h>

#include <array>
#include <nlohmann/json.hpp>

namespace podiam::metadata {
namespace {

enum class Body {
  kText,  // the message and '\n', text/plain
  kJson,  // {"Code":<code>,"Message":<message>}, application/json
};

struct Entry {
  ImdsErrorKind kind;
  int status;
  std::string_view reason;  // metric label
  Body body;
  std::string_view code;     // kJson: the Code field (kCredentialsUnavailable: from the error)
  std::string_view message;  // used when the error carries none
  std::string_view allow;    // Allow header, "" for none
};

// clang-format off
constexpr std::array kTable{
  Entry{ImdsErrorKind::kForwarded, 403, "forwarded", Body::kText, "",
        "requests carrying X-Forwarded-For are refused", ""},
  Entry{ImdsErrorKind::kMethodToken, 405, "method", Body::kText, "", "method not allowed", "PUT"},
  Entry{ImdsErrorKind::kMethod, 405, "method", Body::kText, "", "method not allowed", "GET, HEAD"},
  Entry{ImdsErrorKind::kNotReady, 503, "not_ready", Body::kJson, "NotReady",
        "the agent is still listing pods, namespaces and service accounts; retry", ""},
  Entry{ImdsErrorKind::kBusyWaiting, 503, "busy", Body::kJson, "Busy",
        "too many requests are waiting; retry", ""},
  Entry{ImdsErrorKind::kBusyQueued, 503, "busy", Body::kJson, "Busy",
        "too many requests are queued; retry", ""},
  Entry{ImdsErrorKind::kUnknownPod, 404, "unknown_pod", Body::kText, "",
        "no pod with this IP is known on this node", ""},
  Entry{ImdsErrorKind::kBadTtl, 400, "bad_ttl", Body::kText, "", "invalid token TTL", ""},
  Entry{ImdsErrorKind::kNoToken, 401, "no_token", Body::kText, "",
        "a session token is required (PUT /latest/api/token first)", ""},
  Entry{ImdsErrorKind::kBadToken, 401, "bad_token", Body::kText, "", "invalid session token", ""},
  Entry{ImdsErrorKind::kPathNotAllowed, 404, "path_not_allowed", Body::kText, "", "not found", ""},
  Entry{ImdsErrorKind::kNoRole, 404, "no_role", Body::kText, "", "this pod has no IAM role", ""},
  Entry{ImdsErrorKind::kDenied, 403, "denied", Body::kText, "", "role denied", ""},
  Entry{ImdsErrorKind::kInvalidRole, 403, "invalid_role", Body::kText, "", "invalid role", ""},
  Entry{ImdsErrorKind::kPending, 503, "pending", Body::kJson, "Pending",
        "the role decision is pending; retry", ""},
  Entry{ImdsErrorKind::kWrongRole, 404, "wrong_role", Body::kText, "", "not found", ""},
  Entry{ImdsErrorKind::kCredentialsUnavailable, 503, "credentials_unavailable", Body::kJson,
        "Unavailable", "credentials are unavailable; retry", ""},
  Entry{ImdsErrorKind::kUpstreamError, 502, "upstream_error", Body::kText, "",
        "the node's metadata service did not answer", ""},
};
// clang-format on

constexpr bool TableInOrder() {
  for (std::size_t i = 0; i < kTable.size(); ++i) {
    if (static_cast<std::size_t>(kTable[i].kind) != i) {
      return false;
    }
  }
  return kTable.size() == static_cast<std::size_t>(ImdsErrorKind::kUpstreamError) + 1;
}
static_assert(TableInOrder(), "one row per ImdsErrorKind, in declaration order");

constexpr std::array kKinds = [] {
  std::array<ImdsErrorKind, kTable.size()> kinds{};
  for (std::size_t i = 0; i < kTable.size(); ++i) {
    kinds[i] = kTable[i].kind;
  }
  return kinds;
}();

const Entry& Lookup(ImdsErrorKind kind) { return kTable.at(static_cast<std::size_t>(kind)); }

// Messages come from STS and annotations and are not always valid UTF-8: replace bad bytes.
std::string Json(std::string_view value) {
  return nlohmann::json(value).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

http::Response ImdsErrorResponse(const ImdsError& error) {
  const Entry& e = Lookup(error.kind);
  std::string_view message = error.message.empty() ? e.message : error.message;
  http::Response r;
  if (e.body == Body::kJson) {
    std::string_view code = error.code.empty() ? e.code : error.code;
    r = http::Response::Json(
        e.status, fmt::format(R"({{"Code":{},"Message":{}}})", Json(code), Json(message)));
  } else {
    std::string body(message);
    body += '\n';
    r = http::Response::Text(e.status, std::move(body));
  }
  if (!e.allow.empty()) {
    r.headers.Set("Allow", e.allow);
  }
  return r;
}

std::string_view ImdsErrorReason(ImdsErrorKind kind) { return Lookup(kind).reason; }

std::span<const ImdsErrorKind> AllImdsErrorKinds() { return kKinds; }

}  // namespace podiam::metadata
