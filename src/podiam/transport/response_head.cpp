#include "podiam/transport/response_head.hpp"

#include <boost/beast/core/string.hpp>
#include <charconv>
#include <iterator>

namespace podiam::transport {
namespace {

template <typename N>
void AppendNumber(std::string& head, N n) {
  char digits[24];
  auto [end, ec] = std::to_chars(std::begin(digits), std::end(digits), n);
  head.append(digits, end);
}

}  // namespace

bool StatusHasBody(int status) { return status >= 200 && status != 204 && status != 304; }

void SerializeResponseHead(const http::Response& response, int http_version, bool& keep_alive,
                           std::string& head) {
  const int status = response.status;
  head.clear();
  head += "HTTP/1.1 ";
  AppendNumber(head, status);
  head += ' ';
  head += http::ReasonPhrase(status);
  head += "\r\n";
  for (const auto& [name, value] : response.headers.items()) {
    // Framing is ours alone; a stray CR/LF from a handler must not split the response.
    if (http::EqualsIgnoreCase(name, "Content-Length") ||
        http::EqualsIgnoreCase(name, "Transfer-Encoding") ||
        http::EqualsIgnoreCase(name, "Server") || name.empty() ||
        name.find_first_of("\r\n: ") != std::string::npos ||
        value.find_first_of("\r\n") != std::string::npos) {
      continue;
    }
    if (http::EqualsIgnoreCase(name, "Connection")) {
      if (boost::beast::iequals(value, "close")) {
        keep_alive = false;
      }
      continue;
    }
    head += name;
    head += ": ";
    head += value;
    head += "\r\n";
  }
  head += "Server: podiam\r\n";
  if (StatusHasBody(status)) {
    head += "Content-Length: ";
    AppendNumber(head, response.body.size());
    head += "\r\n";
  }
  if (!keep_alive) {
    head += "Connection: close\r\n";
  } else if (http_version == 10) {
    head += "Connection: keep-alive\r\n";
  }
  head += "\r\n";
}

}  // namespace podiam::transport
