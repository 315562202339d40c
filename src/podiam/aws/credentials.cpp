#include "podiam/aws/credentials.hpp"

#include <fmt/format.h>

#include <charconv>

#include "podiam/aws/text.hpp"
#include "podiam/base/log.hpp"

namespace podiam::aws {
namespace {

// Reads exactly `width` digits at `pos`.
bool ReadNumber(std::string_view text, std::size_t& pos, std::size_t width, int& out) {
  if (pos + width > text.size() || !IsAllDigits(text.substr(pos, width))) {
    return false;
  }
  std::from_chars(text.data() + pos, text.data() + pos + width, out);
  pos += width;
  return true;
}

bool Expect(std::string_view text, std::size_t& pos, char c) {
  if (pos < text.size() && text[pos] == c) {
    ++pos;
    return true;
  }
  return false;
}

}  // namespace

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
  auto fail = [&] {
    return MakeError(ErrorCode::kUpstreamInvalid,
                     fmt::format("timestamp {} is not ISO 8601 (expected YYYY-MM-DDTHH:MM:SSZ)",
                                 Quote(text, 60)));
  };
  std::size_t pos = 0;
  int year = 0;
  int month = 0;
  int day = 0;
  int hour = 0;
  int minute = 0;
  int second = 0;
  if (!ReadNumber(text, pos, 4, year) || !Expect(text, pos, '-') ||
      !ReadNumber(text, pos, 2, month) || !Expect(text, pos, '-') ||
      !ReadNumber(text, pos, 2, day) || !(Expect(text, pos, 'T') || Expect(text, pos, 't')) ||
      !ReadNumber(text, pos, 2, hour) || !Expect(text, pos, ':') ||
      !ReadNumber(text, pos, 2, minute) || !Expect(text, pos, ':') ||
      !ReadNumber(text, pos, 2, second)) {
    return fail();
  }
  std::chrono::nanoseconds fraction{0};
  if (Expect(text, pos, '.')) {
    std::size_t digits = 0;
    long long nanos = 0;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      if (digits < 9) {
        nanos = nanos * 10 + (text[pos] - '0');
      }
      ++digits;
      ++pos;
    }
    if (digits == 0) {
      return fail();
    }
    for (std::size_t d = digits; d < 9; ++d) {
      nanos *= 10;
    }
    fraction = std::chrono::nanoseconds(nanos);
  }
  std::chrono::minutes offset{0};
  if (Expect(text, pos, 'Z') || Expect(text, pos, 'z')) {
    // UTC
  } else if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
    int sign = text[pos] == '-' ? -1 : 1;
    ++pos;
    int oh = 0;
    int om = 0;
    if (!ReadNumber(text, pos, 2, oh) || !Expect(text, pos, ':') || !ReadNumber(text, pos, 2, om) ||
        oh > 23 || om > 59) {
      return fail();
    }
    offset = std::chrono::minutes(sign * (oh * 60 + om));
  } else {
    return fail();
  }
  if (pos != text.size()) {
    return fail();
  }
  namespace chr = std::chrono;
  chr::year_month_day date{chr::year(year), chr::month(static_cast<unsigned>(month)),
                           chr::day(static_cast<unsigned>(day))};
  // 60 is allowed for a leap second, as RFC 3339 does; it lands on the next minute.
  if (!date.ok() || hour > 23 || minute > 59 || second > 60) {
    return fail();
  }
  chr::sys_seconds whole =
      chr::sys_days{date} + chr::hours(hour) + chr::minutes(minute) + chr::seconds(second) - offset;
  // The wall clock counts nanoseconds in 64 bits (years 1677-2262): a time outside that range
  // would overflow the conversion below (signed overflow, undefined behaviour).
  constexpr auto kLimit =
      chr::duration_cast<chr::seconds>(Clock::WallTime::duration::max()) - chr::seconds(1);
  if (chr::abs(whole.time_since_epoch()) > kLimit) {
    return MakeError(
        ErrorCode::kUpstreamInvalid,
        fmt::format("timestamp {} is out of range (years 1678 to 2261)", Quote(text, 60)));
  }
  return chr::time_point_cast<Clock::WallTime::duration>(whole) +
         chr::duration_cast<Clock::WallTime::duration>(fraction);
}

std::string FormatTimestamp(Clock::WallTime when) {
  namespace chr = std::chrono;
  auto secs = chr::floor<chr::seconds>(when);
  auto days = chr::floor<chr::days>(secs);
  chr::year_month_day date{days};
  chr::hh_mm_ss<chr::seconds> time{secs - days};
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", static_cast<int>(date.year()),
                     static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()),
                     time.hours().count(), time.minutes().count(), time.seconds().count());
}

}  // namespace podiam::aws
