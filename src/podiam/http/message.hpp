// HTTP values shared by servers, clients and handlers: Headers, Request, Response, Url. No sockets
// here; transport/ turns these into bytes.
//
// Thread-safety: plain values.
//
//   Response r = Response::Text(404, "not found\n");
//   r.headers.Set("Cache-Control", "no-store");
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "podiam/base/error.hpp"

namespace podiam::http {

// Case-insensitive multimap with insertion order kept (small: a few headers per message).
class Headers {
 public:
  // Value of the first header with this name, case-insensitively.
  [[nodiscard]] std::optional<std::string_view> Get(std::string_view name) const;
  [[nodiscard]] bool Has(std::string_view name) const { return Get(name).has_value(); }
  [[nodiscard]] std::size_t Count(std::string_view name) const;
  // Replaces every header with this name.
  void Set(std::string_view name, std::string_view value);
  void Add(std::string_view name, std::string_view value);
  void Remove(std::string_view name);

  [[nodiscard]] const std::vector<std::pair<std::string, std::string>>& items() const {
    return items_;
  }
  [[nodiscard]] bool empty() const { return items_.empty(); }

 private:
  std::vector<std::pair<std::string, std::string>> items_;
};

bool EqualsIgnoreCase(std::string_view a, std::string_view b);

// The remote end of a connection, as the server saw it (never from a header).
struct Peer {
  std::string address;  // textual IP, "10.0.0.7" or "fd00::7"
  std::uint16_t port = 0;
};

struct Request {
  std::string method;  // "GET", "PUT", ...
  std::string target;  // raw request-target, "/latest/api/token?x=1"
  Headers headers;
  std::string body;
  Peer peer;  // set by the server

  // Path part of target (before '?'), not percent-decoded.
  [[nodiscard]] std::string_view Path() const;
  [[nodiscard]] std::string_view Query() const;
};

struct Response {
  int status = 200;
  Headers headers;
  std::string body;

  static Response Text(int status, std::string body);
  static Response Json(int status, std::string body);
};

std::string_view ReasonPhrase(int status);

struct Url {
  std::string scheme;  // "http" or "https"
  std::string host;    // without brackets for IPv6
  std::uint16_t port = 0;
  std::string target = "/";  // path and query

  [[nodiscard]] bool tls() const { return scheme == "https"; }
  // "host:port", bracketing IPv6, omitting default ports: the Host header value.
  [[nodiscard]] std::string HostHeader() const;
};

// Parses absolute http/https URLs. Rejects user-info, fragments, other schemes, bad ports.
Result<Url> ParseUrl(std::string_view text);

}  // namespace podiam::http
