// Request paths of the EC2 instance metadata protocol: which ones are well formed, which route
// they name, and which may ever be passed to the node's own metadata service (docs/security.md,
// "Metadata paths").
//
// Canonical only: a path is accepted exactly as real IMDS spells it, and anything that a proxy,
// a client library or the node's IMDS could read differently (percent-encoding, `.` or `..`
// segments, empty segments, characters outside [A-Za-z0-9._:+=,@-]) is not a match at all. The
// one tolerated variation is a single trailing slash, which real IMDS and SDKs both use. The
// first segment is a metadata version: `latest`, `1.0` or a date YYYY-MM-DD from 2007-01-19 on
// (case-sensitive, as on real IMDS). Credential routes work under every version; the token only
// at /latest/api/token.
//
// Thread-safety: pure functions.
//
//   std::string role;
//   Route r = ClassifyImdsPath("/2016-09-02/meta-data/iam/security-credentials/app", &role);
//   bool pass = PassthroughAllowed(path, /*default_list=*/true, allow_regex.get());
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace re2 {
class RE2;
}  // namespace re2

namespace podiam::metadata {

enum class Route;

// `latest`, `1.0` or a real calendar date YYYY-MM-DD not before 2007-01-19.
bool IsImdsVersion(std::string_view segment);

// The canonical form of `path` (one trailing slash removed, except for "/"), or nullopt when the
// path is not canonical or its first segment is not a version (see above). Idempotent: a
// canonical path normalises to itself.
std::optional<std::string_view> NormalizeImdsPath(std::string_view path);

// Which route `path` names; Route::kOther for everything that is not a route podiam answers
// itself, including every non-canonical path. `role_name`, when given, receives the role name of
// a credentials route.
Route ClassifyImdsPath(std::string_view path, std::string* role_name);

// True when `path` may never reach the node's metadata service, whatever the flags say: it is not
// canonical, not under a version and `meta-data/` or `dynamic/` with something below, or any of
// its segments (compared case-insensitively) is on the deny list: iam, identity-credentials,
// user-data, pkcs7, signature, rsa2048, api, or contains "credential".
bool HardDeniedImdsPath(std::string_view path);

// True when `path` names one of the few documents SDKs read for region discovery
// (meta-data/placement/region, meta-data/placement/availability-zone,
// dynamic/instance-identity/document) under any version.
bool InDefaultAllowList(std::string_view path);

// The one pass-through decision: not hard denied, and either on the default list (when
// `default_list`) or a full match of `allow` (--allow-metadata-path; may be null).
bool PassthroughAllowed(std::string_view path, bool default_list, const re2::RE2* allow);

}  // namespace podiam::metadata
