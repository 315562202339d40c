// RFC 3339 timestamps, the one codec behind aws::ParseTimestamp/FormatTimestamp (STS Expiration,
// IMDS and container-credential documents) and k8s::ParseTime/FormatTime/FormatMicroTime
// (creationTimestamp, Lease renewTime, Event eventTime). See docs/protocols.md#timestamps.
//
// Parsing accepts "YYYY-MM-DDTHH:MM:SS", optional fractional seconds of any length (nanoseconds
// kept, the rest truncated), then 'Z' or a numeric offset "+hh:mm"/"-hh:mm" (hh <= 23, mm <= 59);
// 't' and 'z' in lower case too, and second 60 (a leap second lands on the next minute). Times
// the wall clock cannot hold (outside years 1678-2261: 64-bit nanoseconds) are kOutOfRange.
//
// Thread-safety: pure functions.
//
//   auto when = ParseRfc3339("2026-11-23T07:39:25.669870Z");   // expected<WallTime, ...>
//   std::string text = FormatRfc3339(clock.Now(), Rfc3339Fraction::kMicros);
#pragma once

#include <string>
#include <string_view>
#include <tl/expected.hpp>

#include "podiam/base/clock.hpp"

namespace podiam {

enum class Rfc3339Error { kMalformed, kOutOfRange };

tl::expected<Clock::WallTime, Rfc3339Error> ParseRfc3339(std::string_view text);

enum class Rfc3339Fraction {
  kNone,    // "2026-11-23T07:39:25Z" (fractions truncated)
  kMicros,  // "2026-11-23T07:39:25.669870Z"
};

// Always UTC with a 'Z'.
std::string FormatRfc3339(Clock::WallTime when, Rfc3339Fraction fraction = Rfc3339Fraction::kNone);

}  // namespace podiam
