// Fuzzes the IAM reply parsers of aws/iam_codec.hpp (what `podiam iam` reads from IAM).
//
// Input layout (docs/fuzzing.md):
//   bytes 0-1  HTTP status for IamErrorFromResponse (big-endian, modulo 600)
//   rest       the reply body, given to every parser
//
// Invariants: a parsed role has a name and an ARN; errors from the 200 parsers are
// kUpstreamInvalid or carry IAM's code (upstream_code) in their message; every IAM error names
// the action; 5xx/429 without a code are retryable; UrlDecode never grows its input.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz/fuzz_input.hpp"
#include "podiam/aws/iam_codec.hpp"

namespace podiam::aws {
namespace {

template <typename T>
void CheckError(const Result<T>& r) {
  if (r) {
    return;
  }
  const Error& e = r.error();
  FUZZ_CHECK(e.message().starts_with("IAM "), "IAM error does not name the service/action");
  if (e.code() != ErrorCode::kUpstreamInvalid) {
    FUZZ_CHECK(!e.upstream_code().empty(), "non-parse error without IAM's code");
    FUZZ_CHECK(e.message().find(e.upstream_code()) != std::string::npos,
               "message does not show IAM's code");
  }
}

}  // namespace
}  // namespace podiam::aws

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace podiam::aws;  // NOLINT(google-build-using-namespace)
  podiam::fuzz::Input in(data, size);
  int status = ((in.Byte() << 8) | in.Byte()) % 600;
  std::string body(in.Rest());

  CheckError(ParseCreateOidcProvider(body));
  CheckError(ParseListOidcProviders(body));
  CheckError(ParseGetOidcProvider(body));
  auto role = ParseIamRole(body, "GetRole");
  CheckError(role);
  if (role) {
    FUZZ_CHECK(!role->name.empty() && !role->arn.empty(), "role without name or ARN");
  }
  CheckError(ParseListAttachedRolePolicies(body));
  CheckError(ParseIamEmpty(body, "AttachRolePolicy"));
  podiam::Error e = IamErrorFromResponse("CreateRole", status, body);
  FUZZ_CHECK(e.message().starts_with("IAM CreateRole: "), "error does not name the action");
  if (e.upstream_code().empty() && (status >= 500 || status == 429)) {
    FUZZ_CHECK(e.retryable(), "5xx/429 without a code is not retryable");
  }
  FUZZ_CHECK(UrlDecode(body).size() <= body.size(), "UrlDecode grew its input");
  return 0;
}
