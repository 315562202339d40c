// Fuzzes the STS response parsers of aws/sts_codec.hpp (AssumeRole, AssumeRoleWithWebIdentity,
// GetCallerIdentity, error bodies) and aws::ParseTimestamp.
//
// Input layout (docs/fuzzing.md):
//   bytes 0-1  HTTP status for StsErrorFromResponse (big-endian, modulo 600)
//   rest       the response body, given to every parser; also, up to its first '<' (or whole when
//              short), to ParseTimestamp
//
// Invariants: a parsed result has non-empty keys and an expiration; ParseTimestamp's value
// formats (FormatTimestamp) to text that parses back to the same whole second; errors from the
// 200 parsers are kUpstreamInvalid or an STS error (with its code); an STS error always carries a
// message, and 5xx/429 without a known code are retryable.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz/fuzz_input.hpp"
#include "podiam/aws/credentials.hpp"
#include "podiam/aws/sts_codec.hpp"

namespace podiam::aws {
namespace {

void CheckTimestamp(std::string_view text) {
  auto when = ParseTimestamp(text);
  if (!when) {
    FUZZ_CHECK(when.error().code() == ErrorCode::kUpstreamInvalid, "wrong error code");
    return;
  }
  std::string formatted = FormatTimestamp(*when);
  auto again = ParseTimestamp(formatted);
  FUZZ_CHECK(again.has_value(), "FormatTimestamp() output does not parse");
  FUZZ_CHECK(*again == std::chrono::floor<std::chrono::seconds>(*when),
             "timestamp does not round-trip to the same second");
  FUZZ_CHECK(FormatTimestamp(*again) == formatted, "FormatTimestamp() is not stable");
}

void CheckCredentials(const Credentials& c) {
  FUZZ_CHECK(!c.access_key_id.empty() && !c.secret_access_key.empty() && !c.session_token.empty(),
             "credentials with an empty member");
  FUZZ_CHECK(c.expiration.has_value(), "STS credentials without expiration");
  CheckTimestamp(FormatTimestamp(*c.expiration));
  (void)c.Redacted();
}

template <typename T>
void CheckError(const Result<T>& r) {
  if (r) {
    return;
  }
  const Error& e = r.error();
  FUZZ_CHECK(!e.message().empty(), "error without a message");
  FUZZ_CHECK(e.code() == ErrorCode::kUpstreamInvalid || !e.upstream_code().empty(),
             "a 200 body failed without kUpstreamInvalid or an STS code");
  (void)e.ToString();
}

}  // namespace
}  // namespace podiam::aws

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace podiam::aws;  // NOLINT(google-build-using-namespace)
  podiam::fuzz::Input in(data, size);
  int high = in.Byte();
  int status = (high * 256 + in.Byte()) % 600;
  std::string_view body = in.Rest();

  auto assumed = ParseAssumeRoleResponse(body);
  CheckError(assumed);
  if (assumed) {
    CheckCredentials(assumed->credentials);
  }
  auto web = ParseAssumeRoleWithWebIdentityResponse(body);
  CheckError(web);
  if (web) {
    CheckCredentials(web->credentials);
  }
  auto identity = ParseGetCallerIdentityResponse(body);
  CheckError(identity);
  if (identity) {
    FUZZ_CHECK(!identity->arn.empty(), "GetCallerIdentity without an Arn");
  }

  podiam::Error e = StsErrorFromResponse(status, body);
  FUZZ_CHECK(!e.message().empty(), "STS error without a message");
  if (e.upstream_code().empty() && (status >= 500 || status == 429)) {
    FUZZ_CHECK(e.retryable(), "5xx/429 without an STS code must be retryable");
  }
  (void)e.ToString();

  CheckTimestamp(body.substr(0, body.size() <= 64 ? body.size() : body.find('<')));
  return 0;
}
