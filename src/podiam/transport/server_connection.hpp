// Internals of HttpServer (http_server.cpp is the only includer): the state shared by the server
// and its connections, the per-thread Worker, and Connection<Stream>, the per-connection state
// machine (read, parse with RequestParser, dispatch, write, keep-alive, linger) for plain TCP and
// TLS streams. Kept out of http_server.cpp so that the accept/stop logic and the connection logic
// each fit in one screenful of files; not an API.
//
// Thread-safety: a Connection is only touched on its Worker's thread; State is shared (atomics and
// mutexes as marked).
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <chrono>
#include <condition_variable>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>

#include "podiam/base/log.hpp"
#include "podiam/http/handler.hpp"
#include "podiam/transport/http_server.hpp"
#include "podiam/transport/metrics.hpp"
#include "podiam/transport/request_parser.hpp"
#include "podiam/transport/response_head.hpp"
#include "podiam/transport/tls.hpp"

namespace podiam::transport::detail {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;
using SteadyTime = SteadyClock::time_point;

inline constexpr SteadyTime kNoDeadline = SteadyTime::max();
// Read granularity; a typical request head fits, and 10k idle connections stay cheap.
inline constexpr std::size_t kReadChunk = 4096;
// How long a closing connection keeps draining what the client still sends, so that the client
// reads our final response (413, 400, ...) instead of a reset.
inline constexpr std::chrono::milliseconds kLingerTime{2000};
inline constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

// State shared by the server object and its connections. Connections keep it alive, so a handler
// answering after the server is gone touches nothing freed.
struct State {
  HttpServerOptions options;
  std::shared_ptr<http::Handler> handler;
  std::optional<HttpServerSeries> series;
  std::unique_ptr<ReloadingServerTls> tls;
  log::Logger log{"http_server"};
  std::atomic<std::size_t> open{0};
  std::atomic<bool> stopping{false};
  std::mutex mu;  // with cv: Stop() waits for `open` to reach zero
  std::condition_variable cv;
  // Open connections per client address; only kept when max_connections_per_client > 0.
  std::mutex clients_mu;
  std::unordered_map<std::string, std::size_t> per_client;

  // Counts a new connection from `address`; false (and nothing counted) when it is over the limit.
  bool AdmitClient(const std::string& address) {
    if (options.max_connections_per_client == 0) {
      return true;
    }
    std::lock_guard lock(clients_mu);
    auto& count = per_client[address];
    if (count >= options.max_connections_per_client) {
      return false;
    }
    ++count;
    return true;
  }

  void ReleaseClient(const std::string& address) {
    if (options.max_connections_per_client == 0) {
      return;
    }
    std::lock_guard lock(clients_mu);
    auto it = per_client.find(address);
    if (it != per_client.end() && --it->second == 0) {
      per_client.erase(it);
    }
  }
};

class ConnectionBase {
 public:
  virtual ~ConnectionBase() = default;
  // Closes the connection if its deadline has passed.
  virtual void OnTick(SteadyTime now) = 0;
  // Graceful stop: close now if idle, else after the response in progress.
  virtual void OnStop() = 0;
  virtual void Close() = 0;

  std::list<std::shared_ptr<ConnectionBase>>::iterator position;
};

// One I/O thread with its own event loop. Connections of a worker are only ever touched on its
// thread, so they need no locks or strands.
struct Worker {
  Worker() : ioc(1), ticker(ioc), guard(asio::make_work_guard(ioc)) {}

  // Runs `f` on this worker's thread; dropped once the worker has shut down (a late handler).
  template <typename F>
  void Post(F&& f) {
    std::lock_guard lock(post_mu);
    if (accepting_posts) {
      asio::post(ioc, std::forward<F>(f));
    }
  }

  asio::io_context ioc;
  asio::steady_timer ticker;
  asio::executor_work_guard<asio::io_context::executor_type> guard;
  // Owning: a connection lives at least until Close() takes it out.
  std::list<std::shared_ptr<ConnectionBase>> connections;
  std::mutex post_mu;
  bool accepting_posts = true;
  // Set on the worker's thread by Stop(): a tick already queued must not re-arm the timer.
  bool stopped = false;
  std::thread thread;
};

template <typename Stream>
class Connection final : public ConnectionBase,
                         public std::enable_shared_from_this<Connection<Stream>> {
 public:
  static constexpr bool kTls = !std::is_same_v<Stream, tcp::socket>;

  Connection(std::shared_ptr<State> state, std::shared_ptr<Worker> worker, Stream stream,
             http::Peer peer)
      : state_(std::move(state)),
        worker_(std::move(worker)),
        stream_(std::move(stream)),
        buffer_(state_->options.max_header_bytes + kReadChunk),
        peer_(std::move(peer)) {}

  // On the worker's thread.
  void Start() {
    worker_->connections.push_front(this->shared_from_this());
    position = worker_->connections.begin();
    if (state_->stopping) {
      Close();
      return;
    }
    if constexpr (kTls) {
      phase_ = Phase::kHead;
      deadline_ = SteadyClock::now() + state_->options.header_timeout;
      stream_.async_handshake(
          ssl::stream_base::server,
          [self = this->shared_from_this()](beast::error_code ec) { self->OnHandshake(ec); });
    } else {
      BeginRequest(/*first=*/true);
    }
  }

  void OnTick(SteadyTime now) override {
    if (now < deadline_) {
      return;
    }
    if (state_->series) {
      switch (phase_) {
        case Phase::kIdle:
          state_->series->CountTimeout(TimeoutPhase::kIdle);
          break;
        case Phase::kHead:
          state_->series->CountTimeout(TimeoutPhase::kHeader);
          break;
        case Phase::kBody:
          state_->series->CountTimeout(TimeoutPhase::kBody);
          break;
        case Phase::kWriting:
          state_->series->CountTimeout(TimeoutPhase::kWrite);
          break;
        default:
          break;
      }
    }
    Close();
  }

  void OnStop() override {
    stop_requested_ = true;
    // Nothing of a request received yet (keep-alive wait, or a fresh or TLS-handshaking
    // connection): nobody is waiting for an answer.
    bool nothing_received =
        phase_ == Phase::kHead && buffer_.size() == 0 && (!parser_ || !parser_->got_some());
    if (phase_ == Phase::kIdle || nothing_received) {
      Close();
    }
  }

  void Close() override {
    if (phase_ == Phase::kClosed) {
      return;
    }
    auto self = this->shared_from_this();  // erasing below may drop the last owner
    phase_ = Phase::kClosed;
    deadline_ = kNoDeadline;
    beast::error_code ec;
    beast::get_lowest_layer(stream_).close(ec);
    worker_->connections.erase(position);
    state_->ReleaseClient(peer_.address);
    if (state_->series) {
      state_->series->connections_open.Add(-1);
    }
    if (state_->open.fetch_sub(1) == 1 && state_->stopping) {
      std::lock_guard lock(state_->mu);
      state_->cv.notify_all();
    }
  }

 private:
  enum class Phase { kIdle, kHead, kBody, kHandling, kWriting, kLingering, kClosed };

  const HttpServerOptions& options() const { return state_->options; }

  // For the completion of an I/O operation: false when the connection has closed meanwhile, or
  // when `ec` is an error (EOF, reset, TLS failure: nobody to answer), which closes it.
  bool Continues(beast::error_code ec) {
    if (phase_ == Phase::kClosed) {
      return false;
    }
    if (ec) {
      Close();
      return false;
    }
    return true;
  }

  void OnHandshake(beast::error_code ec) {
    if (phase_ == Phase::kClosed) {
      return;
    }
    if (ec) {
      if (state_->series) {
        state_->series->tls_handshake_failures.Inc();
      }
      state_->log.Debug("TLS handshake failed",
                        {{"server", options().name}, {"error", ec.message()}});
      Close();
      return;
    }
    BeginRequest(/*first=*/true);
  }

  // Prepares for the next request on this connection and starts reading it.
  void BeginRequest(bool first) {
    parser_.emplace(RequestParserLimits{.max_header_bytes = options().max_header_bytes,
                                        .max_body_bytes = options().max_body_bytes});
    auto now = SteadyClock::now();
    if (buffer_.size() > 0) {  // pipelined: the next request is already here
      phase_ = Phase::kHead;
      deadline_ = now + options().header_timeout;
      Parse();
      return;
    }
    if (stop_requested_ && !first) {
      Close();
      return;
    }
    if (first) {
      phase_ = Phase::kHead;  // the head deadline runs from accept
      if (!kTls) {
        deadline_ = now + options().header_timeout;
      }
    } else {
      phase_ = Phase::kIdle;
      deadline_ = now + options().idle_timeout;
    }
    Read();
  }

  void Read() {
    std::size_t room = buffer_.max_size() - buffer_.size();
    if (room == 0) {  // cannot happen while max_size > header limit; be safe anyway
      Reject(HeaderLimitError());
      return;
    }
    stream_.async_read_some(buffer_.prepare(std::min(room, kReadChunk)),
                            [self = this->shared_from_this()](beast::error_code ec, std::size_t n) {
                              self->OnRead(ec, n);
                            });
  }

  void OnRead(beast::error_code ec, std::size_t n) {
    if (!Continues(ec)) {
      return;
    }
    buffer_.commit(n);
    if (phase_ == Phase::kIdle) {
      phase_ = Phase::kHead;
      deadline_ = SteadyClock::now() + options().header_timeout;
    }
    Parse();
  }

  // Feeds buffered bytes to the parser; dispatches, rejects or reads more.
  void Parse() {
    while (buffer_.size() > 0) {
      auto data = buffer_.data();
      std::size_t used =
          parser_->Put(std::string_view(static_cast<const char*>(data.data()), data.size()));
      buffer_.consume(used);
      const ParseStatus status = parser_->status();
      if (status == ParseStatus::kNeedMore) {
        break;
      }
      if (status == ParseStatus::kError) {
        Reject(parser_->error());
        return;
      }
      if (status == ParseStatus::kDone) {
        Dispatch();
        return;
      }
      if (phase_ == Phase::kHead && parser_->header_done()) {
        phase_ = Phase::kBody;
        deadline_ = SteadyClock::now() + options().body_timeout;
        if (parser_->expects_continue() && buffer_.size() == 0) {
          WriteContinue();
          return;
        }
      }
      if (used == 0) {
        break;
      }
    }
    Read();
  }

  // The client asked to hear that its body is welcome before sending it (curl does for
  // larger uploads); without this it would wait a second.
  void WriteContinue() {
    asio::async_write(stream_, asio::buffer(kContinue.data(), kContinue.size()),
                      [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                        if (self->Continues(ec)) {
                          self->Read();
                        }
                      });
  }

  void Reject(const RequestParseError& error) {
    const int status = error.status;
    const ParseErrorKind kind = error.kind;
    if (state_->series) {
      state_->series->CountParseError(kind);
    }
    state_->log.Debug("rejected request", {{"server", options().name},
                                           {"status", status},
                                           {"kind", ParseErrorKindName(kind)},
                                           {"error", error.message}});
    keep_alive_ = false;
    head_request_ = false;
    rejected_ = true;
    ++seq_;  // no handler call is pending for this request
    WriteResponse(http::Response::Text(status, std::string(http::ReasonPhrase(status)) + "\n"));
  }

  void Dispatch() {
    phase_ = Phase::kHandling;
    deadline_ = kNoDeadline;  // the handler owns the time now (it may wait for a pod to appear)
    keep_alive_ = parser_->keep_alive();
    version_ = parser_->http_version();
    http::Request request = parser_->TakeRequest();
    head_request_ = request.method == "HEAD";
    request.peer = peer_;
    if (state_->series) {
      request_start_ = SteadyClock::now();
    }
    const std::uint64_t seq = ++seq_;
    try {
      state_->handler->Handle(std::move(request),
                              [self = this->shared_from_this(), seq](http::Response response) {
                                self->Deliver(seq, std::move(response));
                              });
    } catch (const std::exception& e) {
      state_->log.Error("handler threw", {{"server", options().name}, {"error", e.what()}});
      OnResponse(seq, http::Response::Text(500, "internal error\n"));
    } catch (...) {
      state_->log.Error("handler threw", {{"server", options().name}});
      OnResponse(seq, http::Response::Text(500, "internal error\n"));
    }
  }

  // The handler's `done`, from any thread.
  void Deliver(std::uint64_t seq, http::Response response) {
    if (worker_->ioc.get_executor().running_in_this_thread()) {
      OnResponse(seq, std::move(response));
      return;
    }
    worker_->Post([self = this->shared_from_this(), seq, r = std::move(response)]() mutable {
      self->OnResponse(seq, std::move(r));
    });
  }

  void OnResponse(std::uint64_t seq, http::Response response) {
    // A second call, a call for an earlier request, or the connection has closed meanwhile.
    if (phase_ != Phase::kHandling || seq != seq_) {
      return;
    }
    if (state_->series) {
      state_->series->request_duration.Observe(
          std::chrono::duration_cast<std::chrono::duration<double>>(SteadyClock::now() -
                                                                    request_start_)
              .count());
    }
    WriteResponse(std::move(response));
  }

  void WriteResponse(http::Response response) {
    response_ = std::move(response);
    if (stop_requested_ || state_->stopping) {
      keep_alive_ = false;
    }
    SerializeResponseHead(response_, version_, keep_alive_, head_);
    if (state_->series) {
      state_->series->CountRequest(response_.status);
    }
    phase_ = Phase::kWriting;
    deadline_ = SteadyClock::now() + options().write_timeout;
    std::array<asio::const_buffer, 2> buffers = {asio::buffer(head_), asio::const_buffer()};
    if (!head_request_ && StatusHasBody(response_.status)) {
      buffers[1] = asio::buffer(response_.body);
    }
    asio::async_write(stream_, buffers,
                      [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                        self->OnWrite(ec);
                      });
  }

  void OnWrite(beast::error_code ec) {
    if (!Continues(ec)) {
      return;
    }
    response_ = http::Response{};  // an idle connection should not hold the last body
    if (!keep_alive_) {
      Linger();
      return;
    }
    BeginRequest(/*first=*/false);
  }

  // Half-closes, then drains what the client is still sending for a short while: closing a socket
  // with unread data sends a reset, which can destroy our last response before the client reads
  // it (the classic 413-during-upload case).
  void Linger() {
    phase_ = Phase::kLingering;
    deadline_ = SteadyClock::now() + kLingerTime;
    buffer_.clear();
    if constexpr (kTls) {
      stream_.async_shutdown(
          [self = this->shared_from_this()](beast::error_code) { self->Close(); });
    } else {
      beast::error_code ec;
      stream_.shutdown(tcp::socket::shutdown_send, ec);
      if (ec || (!rejected_ && stream_.available(ec) == 0)) {
        Close();
        return;
      }
      Drain();
    }
  }

  void Drain() {
    stream_.async_read_some(buffer_.prepare(kReadChunk),
                            [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                              if (self->Continues(ec)) {
                                self->Drain();  // discard: prepare() reuses the same bytes
                              }
                            });
  }

  std::shared_ptr<State> state_;
  std::shared_ptr<Worker> worker_;
  Stream stream_;
  beast::flat_buffer buffer_;
  http::Peer peer_;
  std::optional<RequestParser> parser_;
  http::Response response_;
  std::string head_;
  Phase phase_ = Phase::kHead;
  SteadyTime deadline_ = kNoDeadline;
  SteadyTime request_start_;
  std::uint64_t seq_ = 0;
  int version_ = 11;
  bool keep_alive_ = true;
  bool head_request_ = false;
  bool rejected_ = false;
  bool stop_requested_ = false;
};

inline http::Peer PeerOf(const tcp::endpoint& endpoint) {
  auto address = endpoint.address();
  // A dual-stack listener sees IPv4 clients as ::ffff:a.b.c.d; callers look pods up by IPv4.
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    address = asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6());
  }
  return http::Peer{.address = address.to_string(), .port = endpoint.port()};
}

}  // namespace podiam::transport::detail
