// The Go standard-library parsing rules the reference webhook's behaviour depends on (declared in
// mutation.hpp; docs/webhook.md R3-R6, R18).
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "podiam/webhook/mutation.hpp"

namespace podiam::webhook {

std::optional<bool> ParseGoBool(std::string_view text) {
  for (std::string_view t : {"1", "t", "T", "TRUE", "true", "True"}) {
    if (text == t) {
      return true;
    }
  }
  for (std::string_view f : {"0", "f", "F", "FALSE", "false", "False"}) {
    if (text == f) {
      return false;
    }
  }
  return std::nullopt;
}

std::optional<std::int64_t> ParseGoInt64(std::string_view text) {
  bool negative = false;
  if (!text.empty() && (text.front() == '+' || text.front() == '-')) {
    negative = text.front() == '-';
    text.remove_prefix(1);
  }
  if (text.empty()) {
    return std::nullopt;
  }
  // Accumulate as a negative number so that INT64_MIN fits.
  std::int64_t value = 0;
  constexpr std::int64_t kMin = std::numeric_limits<std::int64_t>::min();
  for (char c : text) {
    if (c < '0' || c > '9') {
      return std::nullopt;
    }
    int digit = c - '0';
    if (value < (kMin + digit) / 10) {
      return std::nullopt;
    }
    value = value * 10 - digit;
  }
  if (!negative) {
    if (value == kMin) {
      return std::nullopt;
    }
    return -value;
  }
  return value;
}

std::optional<std::vector<std::string>> ParseCsvRecord(std::string_view text) {
  // Go skips empty lines before the first record; "" (or only newlines) is io.EOF.
  std::size_t i = 0;
  while (i < text.size() &&
         (text[i] == '\n' || (text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n'))) {
    i += text[i] == '\r' ? 2 : 1;
  }
  if (i >= text.size()) {
    return std::nullopt;
  }
  std::vector<std::string> fields;
  while (true) {
    std::string field;
    if (i < text.size() && text[i] == '"') {
      ++i;
      while (true) {
        if (i >= text.size()) {
          return std::nullopt;  // extraneous or missing " in quoted-field
        }
        char c = text[i++];
        if (c != '"') {
          if (c == '\r' && i < text.size() && text[i] == '\n') {
            continue;  // \r\n inside quotes reads as \n
          }
          field += c;
          continue;
        }
        if (i < text.size() && text[i] == '"') {
          field += '"';
          ++i;
          continue;
        }
        break;
      }
      fields.push_back(std::move(field));
      if (i >= text.size() || text[i] == '\n' ||
          (text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n')) {
        return fields;
      }
      if (text[i] != ',') {
        return std::nullopt;  // `"a"b`: ErrQuote
      }
      ++i;
      continue;
    }
    while (i < text.size() && text[i] != ',' && text[i] != '\n') {
      if (text[i] == '"') {
        return std::nullopt;  // ErrBareQuote
      }
      if (text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n') {
        break;
      }
      field += text[i++];
    }
    fields.push_back(std::move(field));
    if (i >= text.size() || text[i] != ',') {
      return fields;
    }
    ++i;
  }
}

std::string JoinPath(std::string_view a, std::string_view b) {
  std::string joined;
  if (!a.empty() && !b.empty()) {
    joined = std::string(a) + "/" + std::string(b);
  } else {
    joined = std::string(a.empty() ? b : a);
  }
  if (joined.empty()) {
    return "";
  }
  const bool rooted = joined.front() == '/';
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (start <= joined.size()) {
    std::size_t end = joined.find('/', start);
    if (end == std::string::npos) {
      end = joined.size();
    }
    std::string part = joined.substr(start, end - start);
    if (part.empty() || part == ".") {
      // skip
    } else if (part == "..") {
      if (!parts.empty() && parts.back() != "..") {
        parts.pop_back();
      } else if (!rooted) {
        parts.push_back(part);
      }
    } else {
      parts.push_back(std::move(part));
    }
    start = end + 1;
  }
  std::string out = rooted ? "/" : "";
  for (std::size_t k = 0; k < parts.size(); ++k) {
    out += (k == 0 ? "" : "/") + parts[k];
  }
  return out.empty() ? "." : out;
}

std::string EscapeJsonPointer(std::string_view token) {
  std::string out;
  for (char c : token) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace podiam::webhook
