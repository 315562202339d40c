#include "podiam/base/rfc3339.hpp"

#include <fmt/format.h>

#include <chrono>
#include <cstddef>

namespace podiam {
namespace {

namespace chr = std::chrono;

// Reads exactly `width` digits at `pos`.
bool ReadNumber(std::string_view text, std::size_t& pos, std::size_t width, int& out) {
  if (pos + width > text.size()) {
    return false;
  }
  int value = 0;
  for (std::size_t i = pos; i < pos + width; ++i) {
    if (text[i] < '0' || text[i] > '9') {
      return false;
    }
    value = value * 10 + (text[i] - '0');
  }
  out = value;
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

tl::expected<Clock::WallTime, Rfc3339Error> ParseRfc3339(std::string_view text) {
  const auto malformed = tl::unexpected(Rfc3339Error::kMalformed);
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
    return malformed;
  }
  chr::nanoseconds fraction{0};
  if (Expect(text, pos, '.')) {
    std::size_t digits = 0;
    long long nanos = 0;  // NOLINT(google-runtime-int)
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      if (digits < 9) {
        nanos = nanos * 10 + (text[pos] - '0');
      }
      ++digits;
      ++pos;
    }
    if (digits == 0) {
      return malformed;
    }
    for (std::size_t d = digits; d < 9; ++d) {
      nanos *= 10;
    }
    fraction = chr::nanoseconds(nanos);
  }
  chr::minutes offset{0};
  if (Expect(text, pos, 'Z') || Expect(text, pos, 'z')) {
    // UTC
  } else if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
    const int sign = text[pos] == '-' ? -1 : 1;
    ++pos;
    int oh = 0;
    int om = 0;
    if (!ReadNumber(text, pos, 2, oh) || !Expect(text, pos, ':') || !ReadNumber(text, pos, 2, om) ||
        oh > 23 || om > 59) {
      return malformed;
    }
    offset = chr::minutes(sign * (oh * 60 + om));
  } else {
    return malformed;
  }
  if (pos != text.size()) {
    return malformed;
  }
  const chr::year_month_day date{chr::year(year), chr::month(static_cast<unsigned>(month)),
                                 chr::day(static_cast<unsigned>(day))};
  // 60 is allowed for a leap second, as RFC 3339 does; it lands on the next minute.
  if (!date.ok() || hour > 23 || minute > 59 || second > 60) {
    return malformed;
  }
  const chr::sys_seconds whole =
      chr::sys_days{date} + chr::hours(hour) + chr::minutes(minute) + chr::seconds(second) - offset;
  // The wall clock counts nanoseconds in 64 bits (years 1677-2262): a time outside that range
  // would overflow the conversion below (signed overflow, undefined behaviour).
  constexpr auto kLimit =
      chr::duration_cast<chr::seconds>(Clock::WallTime::duration::max()) - chr::seconds(1);
  if (chr::abs(whole.time_since_epoch()) > kLimit) {
    return tl::unexpected(Rfc3339Error::kOutOfRange);
  }
  return chr::time_point_cast<Clock::WallTime::duration>(whole) +
         chr::duration_cast<Clock::WallTime::duration>(fraction);
}

std::string FormatRfc3339(Clock::WallTime when, Rfc3339Fraction fraction) {
  const auto micros = chr::floor<chr::microseconds>(when);
  const auto days = chr::floor<chr::days>(micros);
  const chr::year_month_day date{days};
  const chr::hh_mm_ss<chr::microseconds> time{micros - days};
  std::string out =
      fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}", static_cast<int>(date.year()),
                  static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()),
                  time.hours().count(), time.minutes().count(), time.seconds().count());
  if (fraction == Rfc3339Fraction::kMicros) {
    out += fmt::format(".{:06}", time.subseconds().count());
  }
  out += 'Z';
  return out;
}

}  // namespace podiam
