// The bytes of an HTTP/1.1 response head as HttpServer writes them: status line, the handler's
// headers minus the ones framing belongs to (Content-Length, Transfer-Encoding, Server,
// Connection) and minus any with CR/LF or an invalid name, then `Server: podiam`, Content-Length
// for statuses with a body, and Connection as keep-alive decides. Pure; no sockets.
//
// Thread-safety: a plain function.
//
//   bool keep_alive = parser.keep_alive();
//   SerializeResponseHead(response, /*http_version=*/11, keep_alive, head);
#pragma once

#include <string>

#include "podiam/http/message.hpp"

namespace podiam::transport {

// 1xx, 204 and 304 carry no body (and no Content-Length).
bool StatusHasBody(int status);

// Replaces `head` with the response head. A handler's `Connection: close` clears `keep_alive`.
void SerializeResponseHead(const http::Response& response, int http_version, bool& keep_alive,
                           std::string& head);

}  // namespace podiam::transport
