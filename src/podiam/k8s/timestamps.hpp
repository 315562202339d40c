// Kubernetes timestamps: Time ("2006-01-02T15:04:05Z", creationTimestamp) and MicroTime
// ("2006-01-02T15:04:05.000000Z", Lease renewTime, Event eventTime), always UTC.
//
// Thin names over the shared codec in base/rfc3339.hpp.
//
// Thread-safety: pure functions.
//
//   auto created = k8s::ParseTime("2026-01-01T00:00:00Z");   // optional<system_clock::time_point>
//   std::string renew = k8s::FormatMicroTime(clock.Now());
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace podiam::k8s {

using WallTime = std::chrono::system_clock::time_point;

// RFC 3339 with optional fractional seconds and a Z or +hh:mm offset; nullopt when malformed
// or outside what WallTime holds.
std::optional<WallTime> ParseTime(std::string_view text);
std::string FormatTime(WallTime time);       // seconds precision
std::string FormatMicroTime(WallTime time);  // microseconds

}  // namespace podiam::k8s
