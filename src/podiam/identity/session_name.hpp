// STS RoleSessionName for a pod: "<namespace>.<pod>" so that CloudTrail shows which pod acted.
// STS allows 2-64 characters of [\w+=,.@-]; anything else becomes '-', and a name that must be cut
// keeps its first 55 characters plus '-' and 8 hex digits of the SHA-256 of the whole uncut name,
// so two long pod names never share a session name. kiam's iam.amazonaws.com/session-name
// annotation, when set, is used instead after the same sanitising.
//
// Thread-safety: pure function.
//
//   identity::SessionName("team-a", "web-7d9f8c-x2x")   // "team-a.web-7d9f8c-x2x"
#pragma once

#include <string>
#include <string_view>

namespace podiam::identity {

inline constexpr std::size_t kMaxSessionName = 64;

std::string SessionName(std::string_view namespace_name, std::string_view pod_name,
                        std::string_view annotation = {});

// Sanitises any text to STS's session-name alphabet and length (2..64).
std::string SanitizeSessionName(std::string_view text);

}  // namespace podiam::identity
