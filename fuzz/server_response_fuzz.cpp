// Fuzzes the agent's side of the podiam server protocol (serverclient/protocol.hpp): the 200
// body parser, the error-body mapping of every other status, and the request encoder.
//
// Input layout (docs/fuzzing.md):
//   bytes 0-1  HTTP status (big-endian, modulo 700)
//   rest       the response body; also split at the first three NUL bytes into namespace, name,
//              uid and role for EncodeRequest
//
// Invariants: a parsed 200 has every member but assumedRoleId non-empty and an expiration whose
// formatted form parses back to the same second; a refused 200 is kUpstreamInvalid and retryable;
// an error always names its status, has no control characters, stays bounded whatever the body's
// size, and is retryable exactly for 409, 429, 5xx and non-4xx statuses (FailsOver implies
// retryable; 409 is retryable without fail-over); the request encoder always gives valid JSON whose
// members are the inputs when those are valid UTF-8.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "fuzz/fuzz_input.hpp"
#include "podiam/aws/credentials.hpp"
#include "podiam/serverclient/protocol.hpp"

namespace podiam::serverclient {
namespace {

void CheckSuccess(std::string_view body) {
  auto r = ParseSuccess(body);
  if (!r) {
    FUZZ_CHECK(r.error().code() == ErrorCode::kUpstreamInvalid, "200 refusal not kUpstreamInvalid");
    FUZZ_CHECK(r.error().retryable(), "200 refusal not retryable");
    return;
  }
  const auto& c = r->result.credentials;
  FUZZ_CHECK(!r->role_arn.empty() && !r->session_name.empty(), "empty role or session");
  FUZZ_CHECK(!r->result.assumed_role_user.arn.empty(), "empty assumed-role user ARN");
  FUZZ_CHECK(!c.access_key_id.empty() && !c.secret_access_key.empty() && !c.session_token.empty(),
             "credentials with an empty member");
  FUZZ_CHECK(c.expiration.has_value(), "credentials without expiration");
  auto again = aws::ParseTimestamp(aws::FormatTimestamp(*c.expiration));
  FUZZ_CHECK(again && *again == std::chrono::floor<std::chrono::seconds>(*c.expiration),
             "expiration does not round-trip");
}

void CheckError(int status, std::string_view body) {
  Error e = ErrorFromResponse(status, body);
  const std::string prefix = "podiam server answered " + std::to_string(status);
  FUZZ_CHECK(e.message().rfind(prefix, 0) == 0, "error does not name the status");
  for (char ch : e.message()) {
    const auto u = static_cast<unsigned char>(ch);
    FUZZ_CHECK(u >= 0x20 && u != 0x7f, "control character in an error message");
  }
  FUZZ_CHECK(e.message().size() < 1000 && e.upstream_code().size() < 300, "unbounded error text");
  const bool want_retryable = status == 409 || status == 429 || status >= 500 || status < 400;
  FUZZ_CHECK(e.retryable() == want_retryable, "wrong retryability for the status");
  FUZZ_CHECK(!FailsOver(status) || e.retryable(), "fails over but not retryable");
  FUZZ_CHECK(!FailsOver(status) || status != 409, "409 must not fail over");
  (void)e.ToString();
}

void CheckRequest(std::string_view rest) {
  std::string parts[4];
  for (auto& part : parts) {
    auto nul = rest.find('\0');
    part = std::string(rest.substr(0, nul));
    rest = nul == std::string_view::npos ? std::string_view() : rest.substr(nul + 1);
  }
  const std::string body =
      EncodeRequest({.namespace_name = parts[0], .name = parts[1], .uid = parts[2]}, parts[3]);
  auto doc = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  FUZZ_CHECK(doc.is_object() && doc.size() == 4, "request is not a JSON object of four members");
  bool utf8 = true;
  for (const auto& part : parts) {
    // Invalid UTF-8 is the only thing the two handlers treat differently.
    const nlohmann::json j(part);
    utf8 = utf8 && j.dump(-1, ' ', false, nlohmann::json::error_handler_t::ignore) ==
                       j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  if (utf8) {
    FUZZ_CHECK(doc["namespace"] == parts[0] && doc["name"] == parts[1] && doc["uid"] == parts[2] &&
                   doc["roleArn"] == parts[3],
               "request members differ from the inputs");
  }
}

}  // namespace
}  // namespace podiam::serverclient

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace podiam::serverclient;  // NOLINT(google-build-using-namespace)
  podiam::fuzz::Input in(data, size);
  int high = in.Byte();
  int status = (high * 256 + in.Byte()) % 700;
  std::string_view body = in.Rest();
  CheckSuccess(body);
  CheckError(status, body);
  CheckRequest(body);
  return 0;
}
