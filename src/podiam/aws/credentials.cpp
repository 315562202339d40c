#include "podiam/aws/credentials.hpp"

#include <fmt/format.h>

#include "podiam/aws/text.hpp"
#include "podiam/base/log.hpp"
#include "podiam/base/rfc3339.hpp"

namespace podiam::aws {

std::string Credentials::Redacted() const {
  std::string out = access_key_id.size() >= 4 ? access_key_id.substr(0, 4) : std::string("?");
  out += fmt::format("…(fp={})", log::Mask(access_key_id));
  out += session_token.empty() ? " long-term" : " session";
  out += expiration ? " expires=" + FormatTimestamp(*expiration) : std::string(" expires=never");
  if (!source.empty()) {
    out += " source=" + source;
  }
  return out;
}

Result<Clock::WallTime> ParseTimestamp(std::string_view text) {
  auto parsed = ParseRfc3339(text);
  if (parsed) {
    return *parsed;
  }
  if (parsed.error() == Rfc3339Error::kOutOfRange) {
    return MakeError(
        ErrorCode::kUpstreamInvalid,
        fmt::format("timestamp {} is out of range (years 1678 to 2261)", Quote(text, 60)));
  }
  return MakeError(
      ErrorCode::kUpstreamInvalid,
      fmt::format("timestamp {} is not ISO 8601 (expected YYYY-MM-DDTHH:MM:SSZ)", Quote(text, 60)));
}

std::string FormatTimestamp(Clock::WallTime when) { return FormatRfc3339(when); }

}  // namespace podiam::aws
