// Appends a string to a response body as a JSON string, with a fast path for printable ASCII
// without quotes or backslashes (credential fields: keys, tokens, RFC 3339 times, ARNs), which are
// copied as they are; anything else goes through nlohmann-json (invalid UTF-8 replaced). Both
// pod-facing credential handlers (metadata/, containercreds/) build their bodies with it: it runs
// on every credential request.
//
// Thread-safety: a pure function.
#pragma once

#include <algorithm>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace podiam::http {

inline void AppendJsonString(std::string& out, std::string_view value) {
  bool plain = std::all_of(value.begin(), value.end(),
                           [](char c) { return c >= 0x20 && c <= 0x7e && c != '"' && c != '\\'; });
  if (plain) {
    out += '"';
    out += value;
    out += '"';
  } else {
    out += nlohmann::json(value).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
}

}  // namespace podiam::http
