#include "podiam/k8s/timestamps.hpp"

#include <fmt/format.h>

namespace podiam::k8s {
namespace {

bool Digits(std::string_view text, std::size_t pos, std::size_t count, int* out) {
  if (pos + count > text.size()) {
    return false;
  }
  int value = 0;
  for (std::size_t i = pos; i < pos + count; ++i) {
    if (text[i] < '0' || text[i] > '9') {
      return false;
    }
    value = value * 10 + (text[i] - '0');
  }
  *out = value;
  return true;
}

}  // namespace

std::optional<WallTime> ParseTime(std::string_view text) {
  int year = 0;
  int month = 0;
  int day = 0;
  int hour = 0;
  int minute = 0;
  int second = 0;
  if (!Digits(text, 0, 4, &year) || text.size() < 20 || text[4] != '-' ||
      !Digits(text, 5, 2, &month) || text[7] != '-' || !Digits(text, 8, 2, &day) ||
      (text[10] != 'T' && text[10] != 't') || !Digits(text, 11, 2, &hour) || text[13] != ':' ||
      !Digits(text, 14, 2, &minute) || text[16] != ':' || !Digits(text, 17, 2, &second)) {
    return std::nullopt;
  }
  std::chrono::year_month_day ymd{std::chrono::year(year),
                                  std::chrono::month(static_cast<unsigned>(month)),
                                  std::chrono::day(static_cast<unsigned>(day))};
  if (!ymd.ok() || hour > 23 || minute > 59 || second > 60) {
    return std::nullopt;
  }
  std::size_t pos = 19;
  std::chrono::nanoseconds fraction{0};
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    long long scale = 100000000;  // NOLINT(google-runtime-int)
    std::size_t start = pos;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      if (scale > 0) {
        fraction += std::chrono::nanoseconds((text[pos] - '0') * scale);
        scale /= 10;
      }
      ++pos;
    }
    if (pos == start) {
      return std::nullopt;
    }
  }
  std::chrono::minutes offset{0};
  if (pos < text.size() && (text[pos] == 'Z' || text[pos] == 'z')) {
    ++pos;
  } else if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
    int oh = 0;
    int om = 0;
    if (!Digits(text, pos + 1, 2, &oh) || pos + 3 >= text.size() || text[pos + 3] != ':' ||
        !Digits(text, pos + 4, 2, &om)) {
      return std::nullopt;
    }
    offset = std::chrono::hours(oh) + std::chrono::minutes(om);
    if (text[pos] == '-') {
      offset = -offset;
    }
    pos += 6;
  } else {
    return std::nullopt;
  }
  if (pos != text.size()) {
    return std::nullopt;
  }
  std::chrono::sys_seconds t = std::chrono::sys_days{ymd} + std::chrono::hours(hour) +
                               std::chrono::minutes(minute) + std::chrono::seconds(second) - offset;
  // WallTime counts nanoseconds in 64 bits (years 1677-2262); converting a time outside that
  // range would overflow (undefined behaviour), so such a time is not a valid WallTime.
  constexpr auto kLimit =
      std::chrono::duration_cast<std::chrono::seconds>(WallTime::duration::max()) -
      std::chrono::seconds(1);
  if (std::chrono::abs(t.time_since_epoch()) > kLimit) {
    return std::nullopt;
  }
  return std::chrono::time_point_cast<WallTime::duration>(
      std::chrono::time_point_cast<std::chrono::nanoseconds>(t) + fraction);
}

namespace {

std::string Format(WallTime time, bool micro) {
  auto days = std::chrono::floor<std::chrono::days>(time);
  std::chrono::year_month_day ymd(days);
  std::chrono::hh_mm_ss hms(std::chrono::floor<std::chrono::microseconds>(time - days));
  std::string out =
      fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}", static_cast<int>(ymd.year()),
                  static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                  hms.hours().count(), hms.minutes().count(), hms.seconds().count());
  if (micro) {
    out += fmt::format(".{:06}", hms.subseconds().count());
  }
  out += 'Z';
  return out;
}

}  // namespace

std::string FormatTime(WallTime time) { return Format(time, false); }
std::string FormatMicroTime(WallTime time) { return Format(time, true); }

}  // namespace podiam::k8s
