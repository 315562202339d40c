// HttpClient: the port every outbound call goes through (STS, the Kubernetes API, IMDS of the
// node). transport::BeastHttpClient is the real adapter; tests use fakes from testing/.
//
// Thread-safety: implementations must allow concurrent Send() calls.
//
//   http::ClientRequest req{.method = "POST", .url = "https://sts.us-east-1.amazonaws.com/",
//                           .body = form, .timeout = std::chrono::seconds(5)};
//   req.headers.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8");
//   Result<http::Response> resp = client.Send(req);
#pragma once

#include <chrono>
#include <functional>
#include <stop_token>
#include <string>

#include "podiam/base/error.hpp"
#include "podiam/http/message.hpp"

namespace podiam::http {

struct ClientRequest {
  std::string method = "GET";
  std::string url;  // absolute http(s) URL
  Headers headers;  // Host, Content-Length and User-Agent are filled in when absent
  std::string body;
  // Whole-call deadline: connect, send and read the full response.
  std::chrono::milliseconds timeout{5000};
  // Stream() only: when stop is requested (from any thread), the read in progress is cancelled
  // and Stream() returns what it has, as if on_chunk had returned false. How a watch ends
  // promptly at shutdown instead of waiting for the apiserver's next byte.
  std::stop_token stop;
  // https only: the name the server's certificate must carry (and SNI) when it is not the URL's
  // host, e.g. an endpoint's IP connected to while the certificate names the Service
  // (docs/agent.md "Server mode"). Empty: the URL's host.
  std::string tls_server_name;
};

// Called with each piece of a streamed response body; return false to stop reading.
using BodyChunkCallback = std::function<bool(std::string_view chunk)>;

class HttpClient {
 public:
  virtual ~HttpClient() = default;

  // Sends one request and reads the whole response. Transport failures are errors
  // (kUnavailable for refused/reset, kDeadlineExceeded for timeouts); any HTTP status is a value.
  virtual Result<Response> Send(const ClientRequest& request) = 0;

  // Streams the body (watches): the returned Response has status and headers and an empty body;
  // `on_chunk` sees the body as it arrives. request.timeout bounds the time between reads.
  virtual Result<Response> Stream(const ClientRequest& request,
                                  const BodyChunkCallback& on_chunk) = 0;
};

}  // namespace podiam::http
