#include "podiam/k8s/timestamps.hpp"

#include "podiam/base/rfc3339.hpp"

namespace podiam::k8s {

std::optional<WallTime> ParseTime(std::string_view text) {
  auto parsed = ParseRfc3339(text);
  if (!parsed) {
    return std::nullopt;
  }
  return *parsed;
}

std::string FormatTime(WallTime time) { return FormatRfc3339(time, Rfc3339Fraction::kNone); }

std::string FormatMicroTime(WallTime time) { return FormatRfc3339(time, Rfc3339Fraction::kMicros); }

}  // namespace podiam::k8s
