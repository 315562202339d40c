#include "podiam/creds/session_duration.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <string>

namespace podiam::creds {
namespace {

// "1h", "50m", "90s", "1h30m": how the flags are written.
std::string Human(std::chrono::seconds d) {
  auto total = d.count();
  std::string out;
  if (total >= 3600) {
    out += fmt::format("{}h", total / 3600);
    total %= 3600;
  }
  if (total >= 60) {
    out += fmt::format("{}m", total / 60);
    total %= 60;
  }
  if (total > 0 || out.empty()) {
    out += fmt::format("{}s", total);
  }
  return out;
}

}  // namespace

Result<void> CheckSessionDuration(const SessionDurationCheck& c) {
  if (c.refresh_before.count() < 0) {
    return MakeError(ErrorCode::kInvalidArgument, "--refresh-before must not be negative");
  }
  const auto max = c.role_chaining ? kRoleChainingMaxDuration : kStsMaxDuration;
  const auto min =
      std::max(kStsMinDuration, c.refresh_before + c.min_remaining + kSessionDurationMargin);
  if (min > max) {
    return MakeError(
        ErrorCode::kInvalidArgument,
        fmt::format("--refresh-before {} is too long: with credentials never served "
                    "with less than {} left it needs a --session-duration of at "
                    "least {}, more than STS issues ({})",
                    Human(c.refresh_before), Human(c.min_remaining), Human(min), Human(max)));
  }
  if (c.duration > max) {
    return MakeError(
        ErrorCode::kInvalidArgument,
        c.role_chaining
            ? fmt::format("--session-duration {} is too long: with --assume-role the pod roles are "
                          "assumed by an assumed role (role chaining), which STS limits to {}",
                          Human(c.duration), Human(max))
            : fmt::format("--session-duration {} is too long: STS issues at most {}",
                          Human(c.duration), Human(max)));
  }
  if (c.duration < min) {
    return MakeError(
        ErrorCode::kInvalidArgument,
        fmt::format("--session-duration {} is too short: credentials are refreshed {} "
                    "(--refresh-before) before they expire and never served with less than {} "
                    "left, so it must be at least {}; raise --session-duration or lower "
                    "--refresh-before",
                    Human(c.duration), Human(c.refresh_before), Human(c.min_remaining),
                    Human(min)));
  }
  return {};
}

}  // namespace podiam::creds
