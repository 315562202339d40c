// Whether a requested credential lifetime (--session-duration) can work with the broker's refresh
// margin (--refresh-before) and its floor (credentials with under min_remaining left are never
// served), within what STS accepts: 15 minutes to 12 hours, and at most 1 hour when the caller is
// itself an assumed role (role chaining, --assume-role). A lifetime that is too short would make
// every credential unservable the moment it arrives (kiam's default of 15m does exactly that with a
// 15 minute floor), so the agent refuses to start with one line that says what would work.
//
// Thread-safety: pure function.
//
//   if (auto ok = creds::CheckSessionDuration({.duration = 1h, .refresh_before = 30min}); !ok) …
#pragma once

#include <chrono>

#include "podiam/base/error.hpp"

namespace podiam::creds {

// Head room above refresh_before + min_remaining: a refresh must have time to fail and be retried
// before the old credentials stop being servable.
inline constexpr std::chrono::seconds kSessionDurationMargin = std::chrono::minutes(5);
inline constexpr std::chrono::seconds kStsMinDuration = std::chrono::minutes(15);
inline constexpr std::chrono::seconds kStsMaxDuration = std::chrono::hours(12);
inline constexpr std::chrono::seconds kRoleChainingMaxDuration = std::chrono::hours(1);

struct SessionDurationCheck {
  std::chrono::seconds duration;
  std::chrono::seconds refresh_before;
  std::chrono::seconds min_remaining = std::chrono::minutes(15);
  bool role_chaining = false;  // podiam's own credentials come from --assume-role
};

// kInvalidArgument with a message naming the flags and the smallest / largest value that works.
Result<void> CheckSessionDuration(const SessionDurationCheck& check);

}  // namespace podiam::creds
