// A listen address as the flags write it: "0.0.0.0:8181", "[::]:8181", "[fd00::1]:80". The host
// is kept as text (the server resolves it); the port must be 0-65535.
//
// Thread-safety: pure function.
//
//   auto listen = http::ParseHostPort("0.0.0.0:8181");   // {host "0.0.0.0", port 8181}
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "podiam/base/error.hpp"

namespace podiam::http {

struct HostPort {
  std::string host;  // without IPv6 brackets
  std::uint16_t port = 0;

  // "host:port", with brackets around an IPv6 host.
  [[nodiscard]] std::string ToString() const;
};

// kInvalidArgument with a message quoting `text` when it is not ADDRESS:PORT.
Result<HostPort> ParseHostPort(std::string_view text);

}  // namespace podiam::http
