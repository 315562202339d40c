#include "podiam/transport/http_client.hpp"

#include <sys/socket.h>

#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <cerrno>
#include <map>
#include <mutex>
#include <stop_token>
#include <thread>
#include <vector>

#include "podiam/transport/tls.hpp"

namespace podiam::transport {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;
using SteadyTime = SteadyClock::time_point;

// Body pieces handed to a Stream() callback are at most this large.
constexpr std::size_t kStreamChunk = std::size_t{64} * 1024;

// One pooled connection. Each has its own single-threaded event loop, which lets the blocking
// API run Asio's timeout-capable async operations on the calling thread with no shared state.
struct Conn {
  explicit Conn(std::string k) : key(std::move(k)), ioc(1) {}

  beast::tcp_stream& tcp() { return tls ? beast::get_lowest_layer(*tls) : *plain; }

  std::string key;  // "https://host:port"
  asio::io_context ioc;
  std::unique_ptr<beast::tcp_stream> plain;
  std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> tls;
  beast::flat_buffer buffer;
  SteadyTime idle_since;
};

// Starts an async operation with `start(handler)` and runs the connection's loop until it is done
// (the tcp_stream expiry guarantees that it will be).
template <typename Start>
beast::error_code RunOp(asio::io_context& ioc, Start&& start) {
  beast::error_code result;
  start([&result](beast::error_code ec, auto&&...) { result = ec; });
  ioc.restart();
  ioc.run();
  return result;
}

template <typename F>
auto WithStream(Conn& c, F&& f) {
  return c.tls ? f(*c.tls) : f(*c.plain);
}

bool IsIdempotent(std::string_view method) {
  return method == "GET" || method == "HEAD" || method == "PUT" || method == "DELETE" ||
         method == "OPTIONS";
}

bool IsBeastHttpError(const beast::error_code& ec) {
  return ec.category() == bhttp::make_error_code(bhttp::error::end_of_stream).category();
}

// The peer closed or reset a connection we took from the pool before answering anything.
bool LooksStale(const beast::error_code& ec) {
  return ec == bhttp::error::end_of_stream || ec == asio::error::eof ||
         ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
         ec == ssl::error::stream_truncated;
}

// The one place where Asio/Beast/OpenSSL failures become podiam Errors.
Error MapError(const beast::error_code& ec, std::string_view what, const http::Url& url, SSL* ssl,
               std::size_t body_limit) {
  std::string where = std::string(what) + " " + url.scheme + "://" + url.HostHeader();
  if (ec == beast::error::timeout) {
    return Error(ErrorCode::kDeadlineExceeded, where + ": timed out", {}, true);
  }
  if (ssl != nullptr) {
    if (std::string reason = VerifyFailure(ssl); !reason.empty()) {
      return Error(ErrorCode::kUnavailable,
                   where + ": TLS certificate verification failed: " + reason, {}, false);
    }
  }
  if (ec == bhttp::error::body_limit) {
    return Error(ErrorCode::kUpstreamInvalid,
                 where + ": response body larger than " + std::to_string(body_limit) + " bytes");
  }
  if (ec == bhttp::error::end_of_stream) {
    return Error(ErrorCode::kUnavailable, where + ": connection closed by the server", {}, true);
  }
  if (IsBeastHttpError(ec)) {
    return Error(ErrorCode::kUpstreamInvalid, where + ": malformed HTTP response: " + ec.message());
  }
  if (ec == ssl::error::stream_truncated) {
    return Error(ErrorCode::kUnavailable, where + ": TLS stream truncated", {}, true);
  }
  if (ec.category() == asio::error::get_ssl_category()) {
    // Handshake failures (no shared protocol, client certificate refused) do not heal by retrying.
    return Error(ErrorCode::kUnavailable, where + ": TLS error: " + ec.message(), {}, false);
  }
  return Error(ErrorCode::kUnavailable, where + ": " + ec.message(), {}, true);
}

Result<void> ValidateHeaders(const http::Headers& headers) {
  for (const auto& [name, value] : headers.items()) {
    if (name.empty() || name.find_first_of("\r\n: ") != std::string::npos ||
        value.find_first_of("\r\n") != std::string::npos) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "HTTP request header '" + name + "' has an invalid name or value");
    }
  }
  return Ok();
}

http::Response ToResponse(const bhttp::response_header<>& head) {
  http::Response out;
  out.status = static_cast<int>(head.result_int());
  for (const auto& field : head) {
    out.headers.Add(std::string_view(field.name_string().data(), field.name_string().size()),
                    std::string_view(field.value().data(), field.value().size()));
  }
  return out;
}

}  // namespace

class BeastHttpClient::Impl {
 public:
  Impl(Options options, std::shared_ptr<ssl::context> tls)
      : options_(std::move(options)), tls_(std::move(tls)) {}

  Result<http::Response> Send(const http::ClientRequest& request) { return Call(request, nullptr); }

  Result<http::Response> Stream(const http::ClientRequest& request,
                                const http::BodyChunkCallback& on_chunk) {
    return Call(request, &on_chunk);
  }

  std::size_t idle() const {
    std::lock_guard lock(mu_);
    return idle_total_;
  }
  std::uint64_t opened() const { return opened_.load(); }

 private:
  Result<http::Response> Call(const http::ClientRequest& request,
                              const http::BodyChunkCallback* on_chunk) {
    auto url = http::ParseUrl(request.url);
    if (!url) {
      return tl::unexpected(url.error());
    }
    if (auto valid = ValidateHeaders(request.headers); !valid) {
      return tl::unexpected(valid.error());
    }
    if (request.method.empty() || request.method.find_first_of(" \r\n") != std::string::npos) {
      return MakeError(ErrorCode::kInvalidArgument, "HTTP method '" + request.method + "'");
    }
    const SteadyTime deadline = SteadyClock::now() + request.timeout;
    // A connection verified for one name is never reused for another.
    const std::string& tls_name =
        request.tls_server_name.empty() ? url->host : request.tls_server_name;
    const std::string key = url->scheme + "://" + url->HostHeader() +
                            (request.tls_server_name.empty() ? "" : " " + tls_name);
    try {
      for (int attempt = 0;; ++attempt) {
        std::unique_ptr<Conn> conn = attempt == 0 ? TakeIdle(key) : nullptr;
        const bool reused = conn != nullptr;
        if (!conn) {
          auto fresh = Connect(*url, key, tls_name, deadline);
          if (!fresh) {
            return tl::unexpected(fresh.error());
          }
          conn = std::move(*fresh);
        }
        bool stale = false;
        bool reusable = false;
        auto result = Exchange(*conn, *url, request, deadline, on_chunk, &stale, &reusable);
        if (!result && reused && stale && IsIdempotent(request.method)) {
          continue;  // the server closed the pooled connection; one fresh try
        }
        if (result && reusable) {
          PutIdle(std::move(conn));
        }
        return result;
      }
    } catch (const std::exception& e) {
      // Beast/Asio should report through error codes; anything else (bad_alloc) stops here.
      return MakeError(ErrorCode::kInternal, "HTTP client: " + std::string(e.what()));
    }
  }

  Result<std::unique_ptr<Conn>> Connect(const http::Url& url, const std::string& key,
                                        const std::string& tls_name, SteadyTime deadline) {
    auto conn = std::make_unique<Conn>(key);
    const SteadyTime connect_deadline =
        std::min(deadline, SteadyClock::now() + options_.connect_timeout);
    const std::string port = std::to_string(url.port);

    tcp::resolver::results_type endpoints;
    beast::error_code ec;
    auto ip = asio::ip::make_address(url.host, ec);
    if (!ec) {
      endpoints = tcp::resolver::results_type::create(tcp::endpoint(ip, url.port), url.host, port);
    } else {
      // getaddrinfo cannot be interrupted; the lookup runs on Asio's resolver thread and a
      // connection whose lookup overran the deadline is destroyed on a detached thread, because
      // destroying it waits for that lookup to return.
      struct Lookup {
        beast::error_code ec;
        tcp::resolver::results_type results;
        bool done = false;
      };
      auto lookup = std::make_shared<Lookup>();
      auto resolver = std::make_unique<tcp::resolver>(conn->ioc);
      resolver->async_resolve(url.host, port,
                              [lookup](beast::error_code e, tcp::resolver::results_type r) {
                                lookup->ec = e;
                                lookup->results = std::move(r);
                                lookup->done = true;
                              });
      conn->ioc.run_until(connect_deadline);
      if (!lookup->done) {
        resolver->cancel();
        std::thread([c = std::move(conn), r = std::move(resolver)]() mutable {
          r.reset();
          c.reset();
        }).detach();
        return tl::unexpected(MapError(beast::error::timeout, "resolve", url, nullptr, 0));
      }
      if (lookup->ec) {
        return tl::unexpected(MapError(lookup->ec, "resolve", url, nullptr, 0));
      }
      endpoints = std::move(lookup->results);
    }

    conn->plain = std::make_unique<beast::tcp_stream>(conn->ioc);
    auto& stream = *conn->plain;
    stream.expires_at(connect_deadline);
    ec = RunOp(conn->ioc, [&](auto handler) { stream.async_connect(endpoints, handler); });
    if (ec) {
      return tl::unexpected(MapError(ec, "connect to", url, nullptr, 0));
    }
    opened_.fetch_add(1);
    stream.socket().set_option(tcp::no_delay(true), ec);
    if (!url.tls()) {
      return conn;
    }

    conn->tls =
        std::make_unique<beast::ssl_stream<beast::tcp_stream>>(std::move(*conn->plain), *tls_);
    conn->plain.reset();
    if (auto prepared =
            PrepareClientTls(conn->tls->native_handle(), tls_name, !options_.insecure_skip_verify);
        !prepared) {
      return tl::unexpected(prepared.error());
    }
    conn->tcp().expires_at(deadline);
    ec = RunOp(conn->ioc, [&](auto handler) {
      conn->tls->async_handshake(ssl::stream_base::client, handler);
    });
    if (ec) {
      return tl::unexpected(MapError(ec, "TLS handshake with", url, conn->tls->native_handle(), 0));
    }
    return conn;
  }

  // Writes the request and reads the response on `c`. `stale` reports a failure that looks like
  // a pooled connection the server had closed; `reusable` that `c` may go back to the pool.
  Result<http::Response> Exchange(Conn& c, const http::Url& url, const http::ClientRequest& in,
                                  SteadyTime deadline, const http::BodyChunkCallback* on_chunk,
                                  bool* stale, bool* reusable) {
    bhttp::request<bhttp::string_body> req;
    req.method_string(in.method);
    req.target(url.target);
    req.version(11);
    for (const auto& [name, value] : in.headers.items()) {
      req.insert(name, value);
    }
    if (!in.headers.Has("Host")) {
      req.set(bhttp::field::host, url.HostHeader());
    }
    if (!in.headers.Has("User-Agent")) {
      req.set(bhttp::field::user_agent, options_.user_agent);
    }
    req.erase(bhttp::field::content_length);
    req.erase(bhttp::field::transfer_encoding);
    req.body() = in.body;
    req.prepare_payload();
    const bool head = in.method == "HEAD";

    c.tcp().expires_at(deadline);
    beast::error_code ec = WithStream(
        c, [&](auto& s) { return RunOp(c.ioc, [&](auto h) { bhttp::async_write(s, req, h); }); });
    if (ec) {
      *stale = LooksStale(ec);
      return tl::unexpected(MapError(ec, "send to", url, nullptr, 0));
    }

    if (on_chunk == nullptr) {
      bhttp::response_parser<bhttp::string_body> parser;
      parser.header_limit(static_cast<std::uint32_t>(options_.max_response_header_bytes));
      parser.body_limit(options_.max_response_bytes);
      parser.skip(head);
      ec = WithStream(c, [&](auto& s) {
        return RunOp(c.ioc, [&](auto h) { bhttp::async_read(s, c.buffer, parser, h); });
      });
      if (ec) {
        *stale = !parser.got_some() && LooksStale(ec);
        return tl::unexpected(MapError(ec, "read from", url, nullptr, options_.max_response_bytes));
      }
      http::Response out = ToResponse(parser.get().base());
      out.body = std::move(parser.get().body());
      *reusable = parser.keep_alive();
      return out;
    }
    return ReadStream(c, url, in, head, *on_chunk, stale, reusable);
  }

  Result<http::Response> ReadStream(Conn& c, const http::Url& url, const http::ClientRequest& in,
                                    bool head, const http::BodyChunkCallback& on_chunk, bool* stale,
                                    bool* reusable) {
    bhttp::response_parser<bhttp::buffer_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(options_.max_response_header_bytes));
    parser.body_limit(boost::none);  // a watch has no end; non-2xx bodies are bounded below
    parser.skip(head);
    beast::error_code ec = WithStream(c, [&](auto& s) {
      return RunOp(c.ioc, [&](auto h) { bhttp::async_read_header(s, c.buffer, parser, h); });
    });
    if (ec) {
      *stale = !parser.got_some() && LooksStale(ec);
      return tl::unexpected(MapError(ec, "read from", url, nullptr, 0));
    }
    http::Response out = ToResponse(parser.get().base());
    const bool success = out.status >= 200 && out.status < 300;
    std::vector<char> chunk(kStreamChunk);
    // Cancels the pending read from whichever thread requests the stop; posting to the
    // connection's own loop is the thread-safe way to touch its socket.
    std::stop_callback cancel(in.stop, [&c] { asio::post(c.ioc, [&c] { c.tcp().cancel(); }); });
    while (!parser.is_done()) {
      if (in.stop.stop_requested()) {
        return out;  // mid-body: the connection is not reusable
      }
      parser.get().body().data = chunk.data();
      parser.get().body().size = chunk.size();
      // From here the request timeout bounds each wait for more body, not the whole stream.
      c.tcp().expires_after(in.timeout);
      ec = WithStream(c, [&](auto& s) {
        return RunOp(c.ioc, [&](auto h) { bhttp::async_read_some(s, c.buffer, parser, h); });
      });
      if (ec == bhttp::error::need_buffer) {
        ec = {};
      }
      if (ec && in.stop.stop_requested()) {
        return out;
      }
      if (ec) {
        return tl::unexpected(MapError(ec, "stream from", url, nullptr, 0));
      }
      const std::size_t n = chunk.size() - parser.get().body().size;
      if (n == 0) {
        continue;
      }
      if (!success) {
        if (out.body.size() + n > options_.max_response_bytes) {
          return tl::unexpected(MapError(bhttp::error::body_limit, "read from", url, nullptr,
                                         options_.max_response_bytes));
        }
        out.body.append(chunk.data(), n);
        continue;
      }
      if (!on_chunk(std::string_view(chunk.data(), n))) {
        return out;  // mid-body: the connection is not reusable
      }
    }
    *reusable = parser.keep_alive();
    return out;
  }

  std::unique_ptr<Conn> TakeIdle(const std::string& key) {
    std::vector<std::unique_ptr<Conn>> dead;  // closed outside the lock
    std::unique_ptr<Conn> found;
    {
      std::lock_guard lock(mu_);
      auto it = idle_.find(key);
      if (it == idle_.end()) {
        return nullptr;
      }
      auto& list = it->second;
      const auto now = SteadyClock::now();
      while (!list.empty() && !found) {
        auto c = std::move(list.back());
        list.pop_back();
        --idle_total_;
        if (now - c->idle_since < options_.idle_expiry && Alive(*c)) {
          found = std::move(c);
        } else {
          dead.push_back(std::move(c));
        }
      }
      if (list.empty()) {
        idle_.erase(it);
      }
    }
    return found;
  }

  void PutIdle(std::unique_ptr<Conn> c) {
    std::unique_ptr<Conn> evicted;  // closed outside the lock
    c->idle_since = SteadyClock::now();
    std::lock_guard lock(mu_);
    auto& list = idle_[c->key];
    if (list.size() >= options_.max_idle_per_host || idle_total_ >= options_.max_idle_total) {
      if (list.empty()) {
        evicted = std::move(c);
        return;
      }
      evicted = std::move(list.front());  // the oldest
      list.erase(list.begin());
      --idle_total_;
    }
    list.push_back(std::move(c));
    ++idle_total_;
  }

  // A pooled connection the server has closed shows as readable with EOF. Plain HTTP must be
  // silent between responses; TLS 1.3 may legitimately have session tickets waiting.
  static bool Alive(Conn& c) {
    if (c.buffer.size() != 0) {
      return false;  // leftover bytes after the last response: the framing is off
    }
    char byte;
    auto fd = c.tcp().socket().native_handle();
    ssize_t n = ::recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0) {
      return false;
    }
    if (n < 0) {
      return errno == EAGAIN || errno == EWOULDBLOCK;
    }
    return c.tls != nullptr;
  }

  Options options_;
  std::shared_ptr<ssl::context> tls_;
  mutable std::mutex mu_;
  std::map<std::string, std::vector<std::unique_ptr<Conn>>> idle_;
  std::size_t idle_total_ = 0;
  std::atomic<std::uint64_t> opened_{0};
};

Result<std::unique_ptr<BeastHttpClient>> BeastHttpClient::Create(Options options) {
  auto tls = MakeClientTlsContext({.ca_file = options.ca_file,
                                   .cert_file = options.client_cert_file,
                                   .key_file = options.client_key_file,
                                   .insecure_skip_verify = options.insecure_skip_verify});
  if (!tls) {
    return tl::unexpected(tls.error().Wrap("HTTP client"));
  }
  return std::unique_ptr<BeastHttpClient>(
      new BeastHttpClient(std::make_unique<Impl>(std::move(options), std::move(*tls))));
}

BeastHttpClient::BeastHttpClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
BeastHttpClient::~BeastHttpClient() = default;

Result<http::Response> BeastHttpClient::Send(const http::ClientRequest& request) {
  return impl_->Send(request);
}

Result<http::Response> BeastHttpClient::Stream(const http::ClientRequest& request,
                                               const http::BodyChunkCallback& on_chunk) {
  return impl_->Stream(request, on_chunk);
}

std::size_t BeastHttpClient::idle_connections() const { return impl_->idle(); }
std::uint64_t BeastHttpClient::connections_opened() const { return impl_->opened(); }

}  // namespace podiam::transport
