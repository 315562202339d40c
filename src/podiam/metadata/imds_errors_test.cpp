#include "podiam/metadata/imds_errors.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>

namespace podiam::metadata {
namespace {

struct Row {
  ImdsErrorKind kind;
  int status;
  std::string_view reason;
  std::string_view content_type;
  std::string_view body;  // with the error's message empty
  std::string_view allow;
};

// clang-format off
const Row kExpected[] = {
  {ImdsErrorKind::kForwarded, 403, "forwarded", "text/plain",
   "requests carrying X-Forwarded-For are refused\n", ""},
  {ImdsErrorKind::kMethodToken, 405, "method", "text/plain", "method not allowed\n", "PUT"},
  {ImdsErrorKind::kMethod, 405, "method", "text/plain", "method not allowed\n", "GET, HEAD"},
  {ImdsErrorKind::kNotReady, 503, "not_ready", "application/json",
   R"({"Code":"NotReady","Message":"the agent is still listing pods, namespaces and service accounts; retry"})", ""},
  {ImdsErrorKind::kBusyWaiting, 503, "busy", "application/json",
   R"({"Code":"Busy","Message":"too many requests are waiting; retry"})", ""},
  {ImdsErrorKind::kBusyQueued, 503, "busy", "application/json",
   R"({"Code":"Busy","Message":"too many requests are queued; retry"})", ""},
  {ImdsErrorKind::kUnknownPod, 404, "unknown_pod", "text/plain",
   "no pod with this IP is known on this node\n", ""},
  {ImdsErrorKind::kBadTtl, 400, "bad_ttl", "text/plain", "invalid token TTL\n", ""},
  {ImdsErrorKind::kNoToken, 401, "no_token", "text/plain",
   "a session token is required (PUT /latest/api/token first)\n", ""},
  {ImdsErrorKind::kBadToken, 401, "bad_token", "text/plain", "invalid session token\n", ""},
  {ImdsErrorKind::kPathNotAllowed, 404, "path_not_allowed", "text/plain", "not found\n", ""},
  {ImdsErrorKind::kNoRole, 404, "no_role", "text/plain", "this pod has no IAM role\n", ""},
  {ImdsErrorKind::kDenied, 403, "denied", "text/plain", "role denied\n", ""},
  {ImdsErrorKind::kInvalidRole, 403, "invalid_role", "text/plain", "invalid role\n", ""},
  {ImdsErrorKind::kPending, 503, "pending", "application/json",
   R"({"Code":"Pending","Message":"the role decision is pending; retry"})", ""},
  {ImdsErrorKind::kWrongRole, 404, "wrong_role", "text/plain", "not found\n", ""},
  {ImdsErrorKind::kCredentialsUnavailable, 503, "credentials_unavailable", "application/json",
   R"({"Code":"Unavailable","Message":"credentials are unavailable; retry"})", ""},
  {ImdsErrorKind::kUpstreamError, 502, "upstream_error", "text/plain",
   "the node's metadata service did not answer\n", ""},
};
// clang-format on

TEST(ImdsErrorsTest, EveryKindHasItsStatusReasonBodyAndHeaders) {
  ASSERT_EQ(std::size(kExpected), AllImdsErrorKinds().size());
  for (const Row& row : kExpected) {
    SCOPED_TRACE(std::string(row.reason));
    http::Response r = ImdsErrorResponse({.kind = row.kind});
    EXPECT_EQ(r.status, row.status);
    EXPECT_EQ(ImdsErrorReason(row.kind), row.reason);
    EXPECT_EQ(r.headers.Get("Content-Type").value_or(""), row.content_type);
    EXPECT_EQ(r.body, row.body);
    EXPECT_EQ(r.headers.Get("Allow").value_or(""), row.allow);
  }
}

// Every SDK retries a 503 and gives up on a 4xx: only what a retry can fix is a 503, and it
// always carries IMDS's JSON error body.
TEST(ImdsErrorsTest, RetryableMeansJson503) {
  for (ImdsErrorKind kind : AllImdsErrorKinds()) {
    http::Response r = ImdsErrorResponse({.kind = kind});
    if (r.status == 503) {
      auto json = nlohmann::json::parse(r.body);
      EXPECT_TRUE(json["Code"].is_string() && json["Message"].is_string()) << r.body;
    } else {
      EXPECT_TRUE(r.status >= 400 && r.status < 600) << r.status;
      EXPECT_TRUE(r.body.ends_with('\n')) << r.body;
    }
  }
}

TEST(ImdsErrorsTest, MessagesAndCodesFromTheErrorReplaceTheDefaults) {
  http::Response text = ImdsErrorResponse({.kind = ImdsErrorKind::kDenied, .message = "no way"});
  EXPECT_EQ(text.body, "no way\n");
  http::Response sts = ImdsErrorResponse({.kind = ImdsErrorKind::kCredentialsUnavailable,
                                          .message = "bad \xff bytes",
                                          .code = "Throttling"});
  auto json = nlohmann::json::parse(sts.body);  // invalid UTF-8 replaced, never a throw
  EXPECT_EQ(json["Code"], "Throttling");
  EXPECT_EQ(json["Message"], "bad \xef\xbf\xbd bytes");
}

TEST(ImdsErrorsTest, ReasonsAreTheDocumentedMetricLabels) {
  std::set<std::string_view> reasons;
  for (ImdsErrorKind kind : AllImdsErrorKinds()) {
    reasons.insert(ImdsErrorReason(kind));
  }
  EXPECT_EQ(reasons,
            (std::set<std::string_view>{
                "forwarded", "method", "not_ready", "busy", "unknown_pod", "bad_ttl", "no_token",
                "bad_token", "path_not_allowed", "no_role", "denied", "invalid_role", "pending",
                "wrong_role", "credentials_unavailable", "upstream_error"}));
}

}  // namespace
}  // namespace podiam::metadata
