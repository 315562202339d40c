#include "podiam/metadata/imds_path.hpp"

#include <re2/re2.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstddef>
#include <utility>

#include "podiam/metadata/imds_handler.hpp"

namespace podiam::metadata {
namespace {

constexpr std::string_view kCreds = "meta-data/iam/security-credentials";
constexpr std::string_view kExtended = "meta-data/iam/security-credentials-extended";

bool SegmentChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.' || c == ':' || c == '+' || c == '=' || c == ',' || c == '@';
}

int Digits(std::string_view s) {
  int value = 0;
  for (char c : s) {
    if (c < '0' || c > '9') {
      return -1;
    }
    value = value * 10 + (c - '0');
  }
  return value;
}

bool IsDate(std::string_view s) {
  if (s.size() != 10 || s[4] != '-' || s[7] != '-') {
    return false;
  }
  int year = Digits(s.substr(0, 4));
  int month = Digits(s.substr(5, 2));
  int day = Digits(s.substr(8, 2));
  if (year < 0 || month < 1 || month > 12 || day < 1) {
    return false;
  }
  constexpr std::array<int, 12> kDays = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  int days = month == 2 && !leap ? 28 : kDays[static_cast<std::size_t>(month - 1)];
  // The first metadata version is 2007-01-19; fixed-width dates compare as text.
  return day <= days && s >= "2007-01-19";
}

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// The canonical path without "/<version>/": "meta-data/iam/info", or "" for "/<version>".
std::optional<std::string_view> BelowVersion(std::string_view path) {
  auto canonical = NormalizeImdsPath(path);
  if (!canonical || *canonical == "/") {
    return std::nullopt;
  }
  std::string_view rest = canonical->substr(1);
  auto slash = rest.find('/');
  return slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
}

}  // namespace

bool IsImdsVersion(std::string_view segment) {
  return segment == "latest" || segment == "1.0" || IsDate(segment);
}

std::optional<std::string_view> NormalizeImdsPath(std::string_view path) {
  if (path == "/") {
    return path;
  }
  if (path.size() < 2 || path.front() != '/') {
    return std::nullopt;
  }
  if (path.back() == '/') {
    path.remove_suffix(1);
  }
  std::string_view rest = path.substr(1);
  bool first = true;
  while (true) {
    auto slash = rest.find('/');
    std::string_view segment = rest.substr(0, slash);
    if (segment.empty() || segment == "." || segment == ".." ||
        !std::all_of(segment.begin(), segment.end(), SegmentChar)) {
      return std::nullopt;
    }
    if (first && !IsImdsVersion(segment)) {
      return std::nullopt;
    }
    first = false;
    if (slash == std::string_view::npos) {
      break;
    }
    rest.remove_prefix(slash + 1);
  }
  return path;
}

Route ClassifyImdsPath(std::string_view path, std::string* role_name) {
  auto canonical = NormalizeImdsPath(path);
  if (!canonical) {
    return Route::kOther;
  }
  if (*canonical == "/latest/api/token") {
    return Route::kToken;
  }
  auto rest = BelowVersion(*canonical);
  if (!rest) {
    return Route::kOther;
  }
  if (*rest == "meta-data/iam") {
    return Route::kIam;
  }
  if (*rest == "meta-data/iam/info") {
    return Route::kIamInfo;
  }
  for (auto [prefix, route] : {std::pair{kExtended, Route::kCredentialsExtended},
                               std::pair{kCreds, Route::kCredentials}}) {
    if (*rest == prefix) {
      return Route::kRoleList;
    }
    if (rest->starts_with(prefix) && rest->size() > prefix.size() + 1 &&
        (*rest)[prefix.size()] == '/') {
      std::string_view name = rest->substr(prefix.size() + 1);
      if (name.find('/') != std::string_view::npos) {
        return Route::kOther;
      }
      if (role_name != nullptr) {
        *role_name = std::string(name);
      }
      return route;
    }
  }
  return Route::kOther;
}

bool HardDeniedImdsPath(std::string_view path) {
  auto rest = BelowVersion(path);
  if (!rest) {
    return true;
  }
  // At least one segment below meta-data/ or dynamic/ (spelled so, as on real IMDS): their
  // listings are never passed through.
  if (!(rest->starts_with("meta-data/") || rest->starts_with("dynamic/"))) {
    return true;
  }
  std::string lower = Lower(*rest);
  std::string_view r = lower;
  constexpr std::array<std::string_view, 7> kDenied = {
      "iam", "identity-credentials", "user-data", "pkcs7", "signature", "rsa2048", "api"};
  while (!r.empty()) {
    auto slash = r.find('/');
    std::string_view segment = r.substr(0, slash);
    if (std::find(kDenied.begin(), kDenied.end(), segment) != kDenied.end() ||
        segment.find("credential") != std::string_view::npos) {
      return true;
    }
    r.remove_prefix(slash == std::string_view::npos ? r.size() : slash + 1);
  }
  return false;
}

bool InDefaultAllowList(std::string_view path) {
  auto rest = BelowVersion(path);
  return rest && (*rest == "meta-data/placement/region" ||
                  *rest == "meta-data/placement/availability-zone" ||
                  *rest == "dynamic/instance-identity/document");
}

bool PassthroughAllowed(std::string_view path, bool default_list, const re2::RE2* allow) {
  if (HardDeniedImdsPath(path)) {
    return false;
  }
  return (default_list && InDefaultAllowList(path)) ||
         (allow != nullptr && re2::RE2::FullMatch(path, *allow));
}

}  // namespace podiam::metadata
