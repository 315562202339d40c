// Fuzzes the metadata path rules in metadata/imds_path.hpp: NormalizeImdsPath, ClassifyImdsPath,
// HardDeniedImdsPath, InDefaultAllowList and PassthroughAllowed, on a fuzzed path and on its
// upper-cased and trailing-slash variants.
//
// Input layout (docs/fuzzing.md):
//   byte 0   bit 0 default allow-list on, bit 1 --allow-metadata-path ".*" (else none)
//   rest     the request path
//
// Invariants: normalisation is idempotent and changes at most one trailing slash; a path that
// does not normalise is no route and never passed through; a path and its canonical form get the
// same route and role; credential routes only ever come from an accepted version (checked here
// against an independent reference: `latest`, `1.0`, a valid calendar date from 2007-01-19) and
// name a non-empty role without '/'; the token route is exactly /latest/api/token; a path that
// may be passed through is no route of its own, is canonical, lies under a version and
// meta-data/ or dynamic/ with something below, and none of its segments (lower-cased) is a denied
// one (iam, identity-credentials, user-data, pkcs7, signature, rsa2048, api, *credential*);
// PassthroughAllowed with ".*" is exactly "not hard denied".
#include <re2/re2.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz/fuzz_input.hpp"
#include "podiam/metadata/imds_handler.hpp"
#include "podiam/metadata/imds_path.hpp"

namespace podiam::metadata {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string Upper(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return out;
}

std::vector<std::string_view> Split(std::string_view path) {
  std::vector<std::string_view> out;
  if (path.starts_with('/')) {
    path.remove_prefix(1);
  }
  while (true) {
    auto slash = path.find('/');
    out.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) {
      return out;
    }
    path.remove_prefix(slash + 1);
  }
}

// Reference version check, written independently of imds_path.cpp (std::chrono for the date).
bool ReferenceVersion(std::string_view v) {
  if (v == "latest" || v == "1.0") {
    return true;
  }
  if (v.size() != 10 || v[4] != '-' || v[7] != '-') {
    return false;
  }
  for (std::size_t i : {0, 1, 2, 3, 5, 6, 8, 9}) {
    if (std::isdigit(static_cast<unsigned char>(v[i])) == 0) {
      return false;
    }
  }
  auto num = [&](std::size_t pos, std::size_t len) {
    return std::stoi(std::string(v.substr(pos, len)));
  };
  std::chrono::year_month_day date{std::chrono::year(num(0, 4)),
                                   std::chrono::month(static_cast<unsigned>(num(5, 2))),
                                   std::chrono::day(static_cast<unsigned>(num(8, 2)))};
  using std::chrono::January;
  return date.ok() && date >= std::chrono::year_month_day{std::chrono::year(2007), January,
                                                          std::chrono::day(19)};
}

// Reference for "may this reach the node's metadata service at all".
bool ReferenceSafeForNode(std::string_view canonical) {
  std::vector<std::string_view> segments = Split(canonical);
  if (segments.size() < 3 || !ReferenceVersion(segments[0])) {
    return false;
  }
  constexpr std::array<std::string_view, 7> kDenied = {
      "iam", "identity-credentials", "user-data", "pkcs7", "signature", "rsa2048", "api"};
  for (std::string_view segment : segments) {
    std::string lower = Lower(segment);
    if (segment.empty() || segment == "." || segment == ".." ||
        lower.find('%') != std::string::npos || lower.find("credential") != std::string::npos ||
        std::find(kDenied.begin(), kDenied.end(), lower) != kDenied.end()) {
      return false;
    }
  }
  std::string second = Lower(segments[1]);
  return second == "meta-data" || second == "dynamic";
}

void CheckOne(std::string_view path, bool default_list, const re2::RE2* allow,
              const re2::RE2& all) {
  std::string role = "\x01unset";
  Route route = ClassifyImdsPath(path, &role);
  auto canonical = NormalizeImdsPath(path);
  bool pass = PassthroughAllowed(path, default_list, allow);

  if (!canonical) {
    FUZZ_CHECK(route == Route::kOther, "a path that does not normalise has a route");
    FUZZ_CHECK(!pass, "a path that does not normalise is passed through");
    FUZZ_CHECK(HardDeniedImdsPath(path), "a path that does not normalise is not hard denied");
    return;
  }
  // Idempotent, and at most one trailing slash dropped.
  FUZZ_CHECK(NormalizeImdsPath(*canonical) == canonical, "normalisation is not idempotent");
  FUZZ_CHECK(*canonical == path || (std::string(*canonical) + "/" == path),
             "normalisation changed more than a trailing slash");
  std::string role2 = "\x01unset";
  FUZZ_CHECK(ClassifyImdsPath(*canonical, &role2) == route && role2 == role,
             "a path and its canonical form route differently");
  FUZZ_CHECK(HardDeniedImdsPath(*canonical) == HardDeniedImdsPath(path),
             "a path and its canonical form are denied differently");

  std::vector<std::string_view> segments = Split(*canonical);
  switch (route) {
    case Route::kToken:
      FUZZ_CHECK(*canonical == "/latest/api/token", "token route for another path");
      break;
    case Route::kCredentials:
    case Route::kCredentialsExtended:
      FUZZ_CHECK(!role.empty() && role.find('/') == std::string::npos, "odd role name");
      FUZZ_CHECK(segments.back() == role, "role name is not the last segment");
      [[fallthrough]];
    case Route::kRoleList:
    case Route::kIam:
    case Route::kIamInfo:
      FUZZ_CHECK(ReferenceVersion(segments[0]), "credential route from an unaccepted version");
      FUZZ_CHECK(segments.size() >= 3 && segments[1] == "meta-data" && segments[2] == "iam",
                 "credential route outside meta-data/iam");
      break;
    case Route::kOther:
      break;
  }
  if (route != Route::kCredentials && route != Route::kCredentialsExtended) {
    FUZZ_CHECK(role == "\x01unset", "a role name for a route that has none");
  }

  if (pass) {
    FUZZ_CHECK(route == Route::kOther, "a route podiam answers itself is passed through");
    FUZZ_CHECK(ReferenceSafeForNode(*canonical), "a denied path may be passed through");
  }
  bool open = PassthroughAllowed(path, false, &all);
  FUZZ_CHECK(open == !HardDeniedImdsPath(path), "allow-all disagrees with the hard deny list");
  if (open) {
    FUZZ_CHECK(ReferenceSafeForNode(*canonical), "allow-all opens a denied path");
  }
  if (InDefaultAllowList(path)) {
    FUZZ_CHECK(PassthroughAllowed(path, true, nullptr), "a default-list path is not passed");
  }
}

}  // namespace
}  // namespace podiam::metadata

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace podiam::metadata;                        // NOLINT(google-build-using-namespace)
  static const re2::RE2& all = *new re2::RE2("^(?:.*)$");  // never destroyed
  podiam::fuzz::Input in(data, size);
  std::uint8_t flags = in.Byte();
  std::string path(in.Rest());
  bool default_list = (flags & 1U) != 0;
  const re2::RE2* allow = (flags & 2U) != 0 ? &all : nullptr;
  CheckOne(path, default_list, allow, all);
  CheckOne(Upper(path), default_list, allow, all);
  CheckOne(path + "/", default_list, allow, all);
  return 0;
}
