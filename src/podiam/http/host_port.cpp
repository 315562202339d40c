#include "podiam/http/host_port.hpp"

#include <charconv>
#include <string>

namespace podiam::http {

std::string HostPort::ToString() const {
  bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

Result<HostPort> ParseHostPort(std::string_view text) {
  auto colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "must be ADDRESS:PORT, got '" + std::string(text) + "'");
  }
  std::string_view host = text.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  unsigned port = 0;
  std::string_view port_text = text.substr(colon + 1);
  auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || ptr != port_text.data() + port_text.size() || port > 65535) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "has an invalid port in '" + std::string(text) + "'");
  }
  return HostPort{std::string(host), static_cast<std::uint16_t>(port)};
}

}  // namespace podiam::http
