// BeastHttpClient: the real http::HttpClient (Boost.Beast over Asio, OpenSSL for https). Every
// outbound call of podiam goes through it: STS, the Kubernetes API (including watches), the
// node's own IMDS.
//
// - TLS verifies the server against the CA bundle (or the system store) and its host name or IP
//   address; `insecure_skip_verify` turns that off and must be asked for explicitly. A client
//   certificate and key may be given for mTLS.
// - Keep-alive connections are pooled per scheme+host+port (bounded, idle ones expire) and
//   checked before reuse; an idempotent request that finds a pooled connection closed by the
//   server is retried once on a fresh one.
// - Errors: bad URL -> kInvalidArgument; refused/reset/unreachable/DNS -> kUnavailable
//   (retryable); timeout -> kDeadlineExceeded (retryable); certificate verification failure ->
//   kUnavailable (not retryable, message says why); malformed response or one above
//   max_response_bytes -> kUpstreamInvalid. Any HTTP status is a value, not an error.
//
// Thread-safety: Send() and Stream() may be called from many threads at once. Each call runs on
// the calling thread with a connection it holds exclusively (each connection has its own event
// loop), so there is no background thread.
//
//   auto client = transport::BeastHttpClient::Create({.ca_file = "/var/run/secrets/.../ca.crt"});
//   if (!client) { return tl::unexpected(client.error()); }
//   Result<http::Response> r = (*client)->Send({.url = "https://10.96.0.1/version"});
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "podiam/base/error.hpp"
#include "podiam/http/client.hpp"

namespace podiam::transport {

struct BeastHttpClientOptions {
  // PEM bundle of trusted CAs; empty: the system's default trust store.
  std::string ca_file;
  // Client certificate (chain) and key, PEM, for servers that want mTLS.
  std::string client_cert_file;
  std::string client_key_file;
  // Accept any server certificate. Only for explicit operator opt-in; never a default.
  bool insecure_skip_verify = false;
  // TCP connect (and DNS) limit; the request's own timeout still bounds the whole call.
  std::chrono::milliseconds connect_timeout{3000};
  // Idle keep-alive connections kept per scheme+host+port and in total.
  std::size_t max_idle_per_host = 4;
  std::size_t max_idle_total = 64;
  // A pooled connection unused for this long is closed instead of reused.
  std::chrono::milliseconds idle_expiry{30000};
  // Larger response bodies are refused with kUpstreamInvalid (Send; Stream for non-2xx bodies).
  std::size_t max_response_bytes = std::size_t{16} * 1024 * 1024;
  std::size_t max_response_header_bytes = std::size_t{64} * 1024;
  // Sent when the request has no User-Agent.
  std::string user_agent = "podiam";
};

class BeastHttpClient final : public http::HttpClient {
 public:
  using Options = BeastHttpClientOptions;

  // kInvalidArgument when a certificate, key or CA file cannot be loaded.
  static Result<std::unique_ptr<BeastHttpClient>> Create(Options options);
  ~BeastHttpClient() override;
  BeastHttpClient(const BeastHttpClient&) = delete;
  BeastHttpClient& operator=(const BeastHttpClient&) = delete;

  Result<http::Response> Send(const http::ClientRequest& request) override;

  // As in http::HttpClient. For a 2xx status the body goes to `on_chunk` (chunked encoding is
  // decoded); any other status's body is read whole (bounded) into the returned Response and
  // `on_chunk` is not called, so that callers can report the server's error.
  Result<http::Response> Stream(const http::ClientRequest& request,
                                const http::BodyChunkCallback& on_chunk) override;

  // Observability for tests and debug endpoints.
  [[nodiscard]] std::size_t idle_connections() const;
  [[nodiscard]] std::uint64_t connections_opened() const;

 private:
  class Impl;
  explicit BeastHttpClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace podiam::transport
