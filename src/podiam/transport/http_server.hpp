// HttpServer: the HTTP/1.1 (optionally TLS or mTLS) server behind every podiam listener. It turns
// bytes into http::Request values, calls an http::Handler, and writes its http::Response back,
// defending itself on the way: bounded request heads (431) and bodies (413), malformed requests
// and request smuggling shapes (400), a deadline for the whole request head (slowloris), an idle
// keep-alive deadline, a cap on open connections and a graceful Stop().
//
// Keep-alive and pipelining: requests on one connection are handled one after another, so
// responses always come back in request order. Request.peer is the socket's remote endpoint.
// Responses get Content-Length and `Server: podiam`; HEAD responses carry no body.
//
// Threading: `threads` I/O threads, each running its own event loop; a connection lives on one of
// them for its whole life. The handler runs on that thread and may answer later from any thread.
//
// Thread-safety: Start() and Stop() from one controlling thread, never from a handler (Stop()
// joins the I/O threads); port() and open_connections() from any thread.
//
//   transport::HttpServer server({.address = "127.0.0.1", .port = 8181, .name = "imds"},
//                                handler);
//   if (auto started = server.Start(); !started) { return started.error(); }
//   ...
//   server.Stop(std::chrono::seconds(5));  // drain in-flight requests for up to 5 s
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "podiam/base/error.hpp"
#include "podiam/http/handler.hpp"

namespace podiam::transport {

struct HttpServerMetrics;

struct HttpServerOptions {
  // Numeric IPv4 or IPv6 address ("0.0.0.0", "::", "127.0.0.1", "169.254.170.23").
  std::string address = "127.0.0.1";
  // 0 picks an ephemeral port; read it with HttpServer::port() after Start().
  std::uint16_t port = 0;
  int threads = 1;
  // The request line plus all header fields; above it the answer is 431 and the connection closes.
  std::size_t max_header_bytes = std::size_t{8} * 1024;
  // Above it the answer is 413 and the connection closes.
  std::size_t max_body_bytes = std::size_t{64} * 1024;
  // The whole request head must arrive within this time from its first byte (or from accept).
  std::chrono::milliseconds header_timeout{5000};
  // The body must arrive within this time after the head.
  std::chrono::milliseconds body_timeout{10000};
  // A response must be written (the client must read it) within this time.
  std::chrono::milliseconds write_timeout{10000};
  // A keep-alive connection with no request in progress is closed after this time.
  std::chrono::milliseconds idle_timeout{60000};
  // Above it, new connections are accepted and closed at once; existing ones are unaffected.
  std::size_t max_connections = 10000;
  // Above it, new connections from the same client address are accepted and closed at once, so
  // one client (a pod) cannot use up max_connections for everyone else. 0: no per-client limit.
  std::size_t max_connections_per_client = 0;
  // The `server` label of the metrics and the logger's tag.
  std::string name = "http";
  // Optional, must outlive the server.
  HttpServerMetrics* metrics = nullptr;
  // TLS: both set -> HTTPS. With a client CA, clients must present a certificate it signed.
  std::string tls_cert_file;
  std::string tls_key_file;
  std::string tls_client_ca_file;
  // > 0: the certificate and key files are checked for changes at most this often (on accept)
  // and reloaded without dropping open connections (ReloadingServerTls in tls.hpp).
  std::chrono::milliseconds tls_reload_interval{0};
};

class HttpServer {
 public:
  using Options = HttpServerOptions;

  HttpServer(Options options, std::shared_ptr<http::Handler> handler);
  // Stops with no grace period if still running.
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds, listens and starts the I/O threads. kInvalidArgument for a bad address or TLS files,
  // kUnavailable when the address cannot be bound. Call at most once.
  Result<void> Start();

  // Stops accepting, closes idle keep-alive connections, lets in-flight requests finish for up
  // to `grace`, then closes everything and joins the threads. Idempotent.
  void Stop(std::chrono::milliseconds grace = std::chrono::seconds(5));

  // The bound port (useful with port 0); 0 before Start().
  [[nodiscard]] std::uint16_t port() const;

  // Connections open right now (for tests and readiness checks).
  [[nodiscard]] std::size_t open_connections() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace podiam::transport
