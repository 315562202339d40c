// AWS credentials as values, and the ISO 8601 timestamps STS and the credential endpoints use.
//
// The secret fields are never logged: there is no operator<<, and Redacted() is the only string
// form, safe for logs (it shows the key id's 4-character type prefix and fingerprints).
//
// Thread-safety: plain values and pure functions.
//
//   aws::Credentials c{.access_key_id = "ASIA...", .secret_access_key = "...",
//                      .session_token = "...", .expiration = expiry, .source = "environment"};
//   log.Info("using credentials", {{"credentials", c.Redacted()}});
//   auto when = aws::ParseTimestamp("2026-11-23T07:39:25.669870Z");
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "podiam/base/clock.hpp"
#include "podiam/base/error.hpp"

namespace podiam::aws {

struct Credentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // empty for long-term IAM user keys
  // nullopt for credentials that do not expire (long-term keys from the environment or a file).
  std::optional<Clock::WallTime> expiration;
  // Where they came from, for logs and readiness ("environment", "imds role=node-role", ...).
  // Never secret.
  std::string source;

  // "ASIA…(fp=1a2b3c4d) expires=2026-11-23T07:39:25Z source=environment": no secret material.
  [[nodiscard]] std::string Redacted() const;
  // True when the credentials stop working before `when` (never for non-expiring ones).
  [[nodiscard]] bool ExpiresBefore(Clock::WallTime when) const {
    return expiration.has_value() && *expiration <= when;
  }
};

// ISO 8601 / RFC 3339 timestamps as AWS sends them: "2026-11-23T07:39:25Z", with optional
// fractional seconds ("...25.669870Z", moto) and a 'Z' or numeric offset ("+00:00").
Result<Clock::WallTime> ParseTimestamp(std::string_view text);

// "2026-11-23T07:39:25Z": whole seconds, UTC (fractions are truncated). The format IMDS clients
// require (docs/protocols.md#sdk-expiry-rules).
std::string FormatTimestamp(Clock::WallTime when);

}  // namespace podiam::aws
