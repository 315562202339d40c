#include "podiam/transport/http_server.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/error.hpp>
#include <charconv>
#include <condition_variable>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "podiam/base/log.hpp"
#include "podiam/transport/metrics.hpp"
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

constexpr SteadyTime kNoDeadline = SteadyTime::max();
// Read granularity; a typical request head fits, and 10k idle connections stay cheap.
constexpr std::size_t kReadChunk = 4096;
// How long a closing connection keeps draining what the client still sends, so that the client
// reads our final response (413, 400, ...) instead of a reset.
constexpr std::chrono::milliseconds kLingerTime{2000};
constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

bool StatusHasBody(int status) { return status >= 200 && status != 204 && status != 304; }

// Parses one request head and body straight into an http::Request (no intermediate field map).
class RequestParser final : public bhttp::basic_parser<true> {
 public:
  explicit RequestParser(http::Request& out) : out_(out) {}

  [[nodiscard]] int http_version() const { return version_; }
  [[nodiscard]] bool expects_continue() const { return expect_continue_; }

 private:
  void on_request_impl(bhttp::verb /*verb*/, beast::string_view method, beast::string_view target,
                       int version, beast::error_code& /*ec*/) override {
    out_.method.assign(method.data(), method.size());
    out_.target.assign(target.data(), target.size());
    version_ = version;
  }
  void on_response_impl(int /*code*/, beast::string_view /*reason*/, int /*version*/,
                        beast::error_code& /*ec*/) override {}
  void on_field_impl(bhttp::field name, beast::string_view name_string, beast::string_view value,
                     beast::error_code& ec) override {
    // Beast already rejects Content-Length with chunked and duplicate lengths. It would accept
    // other transfer codings and then read no body, which a proxy in front of us might frame
    // differently: only plain "chunked" is allowed.
    if (name == bhttp::field::transfer_encoding && !beast::iequals(value, "chunked")) {
      ec = bhttp::error::bad_transfer_encoding;
      return;
    }
    if (name == bhttp::field::expect && beast::iequals(value, "100-continue")) {
      expect_continue_ = true;
    }
    out_.headers.Add(std::string_view(name_string.data(), name_string.size()),
                     std::string_view(value.data(), value.size()));
  }
  void on_header_impl(beast::error_code& /*ec*/) override {}
  void on_body_init_impl(const boost::optional<std::uint64_t>& length,
                         beast::error_code& /*ec*/) override {
    if (length) {
      out_.body.reserve(static_cast<std::size_t>(*length));  // already checked against the limit
    }
  }
  std::size_t on_body_impl(beast::string_view body, beast::error_code& /*ec*/) override {
    out_.body.append(body.data(), body.size());
    return body.size();
  }
  void on_chunk_header_impl(std::uint64_t /*size*/, beast::string_view /*extensions*/,
                            beast::error_code& /*ec*/) override {}
  std::size_t on_chunk_body_impl(std::uint64_t /*remain*/, beast::string_view body,
                                 beast::error_code& /*ec*/) override {
    out_.body.append(body.data(), body.size());
    return body.size();
  }
  void on_finish_impl(beast::error_code& /*ec*/) override {}

  http::Request& out_;
  int version_ = 11;
  bool expect_continue_ = false;
};

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

  void OnHandshake(beast::error_code ec) {
    if (phase_ == Phase::kClosed) {
      return;
    }
    if (ec) {
      state_->log.Debug("TLS handshake failed",
                        {{"server", options().name}, {"error", ec.message()}});
      Close();
      return;
    }
    BeginRequest(/*first=*/true);
  }

  // Prepares for the next request on this connection and starts reading it.
  void BeginRequest(bool first) {
    request_ = http::Request{};
    parser_.emplace(request_);
    parser_->header_limit(
        static_cast<std::uint32_t>(std::min<std::size_t>(options().max_header_bytes, UINT32_MAX)));
    parser_->body_limit(options().max_body_bytes);
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
      Reject(bhttp::error::header_limit);
      return;
    }
    stream_.async_read_some(buffer_.prepare(std::min(room, kReadChunk)),
                            [self = this->shared_from_this()](beast::error_code ec, std::size_t n) {
                              self->OnRead(ec, n);
                            });
  }

  void OnRead(beast::error_code ec, std::size_t n) {
    if (phase_ == Phase::kClosed) {
      return;
    }
    if (ec) {
      Close();  // EOF, reset or TLS error: there is nobody to answer
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
      beast::error_code ec;
      std::size_t used = parser_->put(buffer_.data(), ec);
      buffer_.consume(used);
      if (ec == bhttp::error::need_more) {
        break;
      }
      if (ec) {
        Reject(ec);
        return;
      }
      if (parser_->is_done()) {
        Dispatch();
        return;
      }
      if (phase_ == Phase::kHead && parser_->is_header_done()) {
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
                        if (self->phase_ == Phase::kClosed) {
                          return;
                        }
                        if (ec) {
                          self->Close();
                          return;
                        }
                        self->Read();
                      });
  }

  void Reject(beast::error_code ec) {
    int status = 400;
    ParseErrorKind kind = ParseErrorKind::kMalformed;
    if (ec == bhttp::error::header_limit) {
      status = 431;
      kind = ParseErrorKind::kHeaderTooLarge;
    } else if (ec == bhttp::error::body_limit) {
      status = 413;
      kind = ParseErrorKind::kBodyTooLarge;
    } else if (ec == bhttp::error::bad_content_length ||
               ec == bhttp::error::multiple_content_length ||
               ec == bhttp::error::bad_transfer_encoding) {
      kind = ParseErrorKind::kFraming;
    }
    if (state_->series) {
      state_->series->CountParseError(kind);
    }
    state_->log.Debug("rejected request", {{"server", options().name},
                                           {"status", status},
                                           {"kind", ParseErrorKindName(kind)},
                                           {"error", ec.message()}});
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
    head_request_ = request_.method == "HEAD";
    request_.peer = peer_;
    if (state_->series) {
      request_start_ = SteadyClock::now();
    }
    const std::uint64_t seq = ++seq_;
    try {
      state_->handler->Handle(std::move(request_),
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
    SerializeHead();
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

  void SerializeHead() {
    const int status = response_.status;
    head_.clear();
    head_ += "HTTP/1.1 ";
    AppendNumber(status);
    head_ += ' ';
    head_ += http::ReasonPhrase(status);
    head_ += "\r\n";
    for (const auto& [name, value] : response_.headers.items()) {
      // Framing is ours alone; a stray CR/LF from a handler must not split the response.
      if (http::EqualsIgnoreCase(name, "Content-Length") ||
          http::EqualsIgnoreCase(name, "Transfer-Encoding") ||
          http::EqualsIgnoreCase(name, "Server") || name.empty() ||
          name.find_first_of("\r\n: ") != std::string::npos ||
          value.find_first_of("\r\n") != std::string::npos) {
        continue;
      }
      if (http::EqualsIgnoreCase(name, "Connection")) {
        if (beast::iequals(value, "close")) {
          keep_alive_ = false;
        }
        continue;
      }
      head_ += name;
      head_ += ": ";
      head_ += value;
      head_ += "\r\n";
    }
    head_ += "Server: podiam\r\n";
    if (StatusHasBody(status)) {
      head_ += "Content-Length: ";
      AppendNumber(response_.body.size());
      head_ += "\r\n";
    }
    if (!keep_alive_) {
      head_ += "Connection: close\r\n";
    } else if (version_ == 10) {
      head_ += "Connection: keep-alive\r\n";
    }
    head_ += "\r\n";
  }

  template <typename N>
  void AppendNumber(N n) {
    char digits[24];
    auto [end, ec] = std::to_chars(std::begin(digits), std::end(digits), n);
    head_.append(digits, end);
  }

  void OnWrite(beast::error_code ec) {
    if (phase_ == Phase::kClosed) {
      return;
    }
    if (ec) {
      Close();
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
                              if (self->phase_ == Phase::kClosed) {
                                return;
                              }
                              if (ec) {
                                self->Close();
                                return;
                              }
                              self->Drain();  // discard: prepare() reuses the same bytes
                            });
  }

  std::shared_ptr<State> state_;
  std::shared_ptr<Worker> worker_;
  Stream stream_;
  beast::flat_buffer buffer_;
  http::Peer peer_;
  http::Request request_;
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

http::Peer PeerOf(const tcp::endpoint& endpoint) {
  auto address = endpoint.address();
  // A dual-stack listener sees IPv4 clients as ::ffff:a.b.c.d; callers look pods up by IPv4.
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    address = asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6());
  }
  return http::Peer{.address = address.to_string(), .port = endpoint.port()};
}

}  // namespace

class HttpServer::Impl {
 public:
  Impl(Options options, std::shared_ptr<http::Handler> handler)
      : state_(std::make_shared<State>()) {
    state_->options = std::move(options);
    state_->handler = std::move(handler);
    if (state_->options.metrics != nullptr) {
      state_->series.emplace(*state_->options.metrics, state_->options.name);
    }
  }

  ~Impl() { Stop(std::chrono::milliseconds(0)); }

  Result<void> Start() {
    const auto& o = state_->options;
    if (started_) {
      return MakeError(ErrorCode::kFailedPrecondition, "HTTP server already started");
    }
    if (o.threads < 1 || o.max_header_bytes == 0 || o.max_connections == 0 || !state_->handler) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "HTTP server '" + o.name +
                           "': threads, max_header_bytes and max_connections must be positive "
                           "and a handler is required");
    }
    if (!o.tls_cert_file.empty() || !o.tls_key_file.empty() || !o.tls_client_ca_file.empty()) {
      auto tls = ReloadingServerTls::Create({.cert_file = o.tls_cert_file,
                                             .key_file = o.tls_key_file,
                                             .client_ca_file = o.tls_client_ca_file},
                                            o.tls_reload_interval);
      if (!tls) {
        return tl::unexpected(tls.error().Wrap("HTTP server '" + o.name + "'"));
      }
      state_->tls = std::move(*tls);
    }
    beast::error_code ec;
    auto address = asio::ip::make_address(o.address, ec);
    if (ec) {
      return MakeError(ErrorCode::kInvalidArgument, "HTTP server '" + o.name +
                                                        "': listen address '" + o.address +
                                                        "' is not a numeric IP address");
    }
    for (int i = 0; i < o.threads; ++i) {
      workers_.push_back(std::make_shared<Worker>());
    }
    auto& ioc = workers_.front()->ioc;
    acceptor_.emplace(ioc);
    retry_timer_.emplace(ioc);
    tcp::endpoint endpoint(address, o.port);
    acceptor_->open(endpoint.protocol(), ec);
    if (!ec) {
      acceptor_->set_option(asio::socket_base::reuse_address(true), ec);
    }
    if (!ec) {
      acceptor_->bind(endpoint, ec);
    }
    if (!ec) {
      acceptor_->listen(asio::socket_base::max_listen_connections, ec);
    }
    if (!ec) {
      port_ = acceptor_->local_endpoint(ec).port();
    }
    if (ec) {
      acceptor_.reset();  // before the io_context it belongs to
      retry_timer_.reset();
      workers_.clear();
      return MakeError(ErrorCode::kUnavailable, "HTTP server '" + o.name + "': cannot listen on " +
                                                    o.address + ":" + std::to_string(o.port) +
                                                    ": " + ec.message());
    }
    started_ = true;
    const auto tick = TickInterval();
    for (auto& worker : workers_) {
      ScheduleTick(worker, tick);
      worker->thread = std::thread([this, w = worker.get()] { Run(*w); });
    }
    asio::post(ioc, [this] { Accept(); });
    state_->log.Info("listening", {{"server", o.name},
                                   {"address", o.address},
                                   {"port", static_cast<int>(port_.load())},
                                   {"tls", state_->tls != nullptr}});
    return Ok();
  }

  void Stop(std::chrono::milliseconds grace) {
    if (!started_ || stopped_) {
      return;
    }
    stopped_ = true;
    state_->stopping = true;
    asio::post(workers_.front()->ioc, [this] {
      beast::error_code ec;
      acceptor_->close(ec);
      retry_timer_->cancel();
    });
    for (auto& worker : workers_) {
      worker->Post([w = worker.get()] { ForEachConnection(*w, &ConnectionBase::OnStop); });
    }
    {
      std::unique_lock lock(state_->mu);
      state_->cv.wait_for(lock, grace, [this] { return state_->open.load() == 0; });
    }
    for (auto& worker : workers_) {
      worker->Post([w = worker.get()] {
        w->stopped = true;
        w->ticker.cancel();
        ForEachConnection(*w, &ConnectionBase::Close);
      });
      std::lock_guard lock(worker->post_mu);
      worker->accepting_posts = false;
    }
    for (auto& worker : workers_) {
      worker->guard.reset();  // run() returns once the aborted operations have completed
      worker->thread.join();
    }
    // The acceptor and timer belong to the first worker's io_context; release them first.
    acceptor_.reset();
    retry_timer_.reset();
    workers_.clear();
    state_->log.Info("stopped", {{"server", state_->options.name}});
  }

  [[nodiscard]] std::uint16_t port() const { return port_; }
  [[nodiscard]] std::size_t open_connections() const { return state_->open.load(); }

 private:
  static void ForEachConnection(Worker& w, void (ConnectionBase::*method)()) {
    for (auto it = w.connections.begin(); it != w.connections.end();) {
      auto connection = *it++;  // the call may erase it
      (connection.get()->*method)();
    }
  }

  // Deadlines are checked by one coarse timer per thread instead of a timer per connection and
  // phase: a request then costs a store, not timer queue updates and timerfd syscalls.
  [[nodiscard]] std::chrono::milliseconds TickInterval() const {
    const auto& o = state_->options;
    auto shortest = std::min({o.header_timeout, o.body_timeout, o.write_timeout, o.idle_timeout});
    return std::clamp(shortest / 4, std::chrono::milliseconds(5), std::chrono::milliseconds(500));
  }

  static void ScheduleTick(const std::shared_ptr<Worker>& worker, std::chrono::milliseconds every) {
    worker->ticker.expires_after(every);
    worker->ticker.async_wait(
        [w = worker.get(), every](beast::error_code e) { Tick(w, every, e); });
  }

  static void Tick(Worker* w, std::chrono::milliseconds every, beast::error_code ec) {
    if (ec || w->stopped) {
      return;
    }
    auto now = SteadyClock::now();
    for (auto it = w->connections.begin(); it != w->connections.end();) {
      auto connection = *it++;
      connection->OnTick(now);
    }
    w->ticker.expires_after(every);
    w->ticker.async_wait([w, every](beast::error_code e) { Tick(w, every, e); });
  }

  void Run(Worker& worker) {
    for (;;) {
      try {
        worker.ioc.run();
        return;
      } catch (const std::exception& e) {
        // Our handlers do not throw; a bad_alloc or a bug must not take the thread down.
        state_->log.Error("I/O thread caught an exception",
                          {{"server", state_->options.name}, {"error", e.what()}});
      }
    }
  }

  void Accept() {
    auto worker = workers_[next_worker_++ % workers_.size()];
    acceptor_->async_accept(worker->ioc, [this, worker](beast::error_code ec, tcp::socket socket) {
      OnAccept(ec, std::move(socket), worker);
    });
  }

  void OnAccept(beast::error_code ec, tcp::socket socket, const std::shared_ptr<Worker>& worker) {
    if (ec == asio::error::operation_aborted || state_->stopping) {
      return;
    }
    if (ec) {
      // Out of descriptors or memory: accepting again at once would spin. Existing connections
      // keep working; try again shortly.
      if (!accept_failing_) {  // once per episode, not every 50 ms
        state_->log.Warn("accept failed; retrying",
                         {{"server", state_->options.name}, {"error", ec.message()}});
        accept_failing_ = true;
      }
      retry_timer_->expires_after(std::chrono::milliseconds(50));
      retry_timer_->async_wait([this](beast::error_code e) {
        if (!e) {
          Accept();
        }
      });
      return;
    }
    accept_failing_ = false;
    auto& series = state_->series;
    if (state_->open.load() >= state_->options.max_connections) {
      if (series) {
        series->connections_rejected.Inc();
      }
      socket.close(ec);
      Accept();
      return;
    }
    auto endpoint = socket.remote_endpoint(ec);
    if (ec) {  // the client is already gone
      socket.close(ec);
      Accept();
      return;
    }
    auto peer = PeerOf(endpoint);
    if (!state_->AdmitClient(peer.address)) {
      if (series) {
        series->connections_rejected.Inc();
      }
      state_->log.Debug("connection over the per-client limit closed",
                        {{"server", state_->options.name}, {"client", peer.address}});
      socket.close(ec);
      Accept();
      return;
    }
    state_->open.fetch_add(1);
    if (series) {
      series->connections_accepted.Inc();
      series->connections_open.Add(1);
    }
    socket.set_option(tcp::no_delay(true), ec);
    if (state_->tls) {
      using TlsStream = ssl::stream<tcp::socket>;
      auto tls = std::make_shared<Connection<TlsStream>>(
          state_, worker, TlsStream(std::move(socket), *state_->tls->Current(SteadyClock::now())),
          std::move(peer));
      asio::post(worker->ioc, [tls] { tls->Start(); });
    } else {
      auto plain = std::make_shared<Connection<tcp::socket>>(state_, worker, std::move(socket),
                                                             std::move(peer));
      asio::post(worker->ioc, [plain] { plain->Start(); });
    }
    Accept();
  }

  std::shared_ptr<State> state_;
  std::vector<std::shared_ptr<Worker>> workers_;
  std::optional<tcp::acceptor> acceptor_;
  std::optional<asio::steady_timer> retry_timer_;
  std::atomic<std::uint16_t> port_{0};
  std::size_t next_worker_ = 0;
  bool accept_failing_ = false;  // touched on the first worker's thread only
  bool started_ = false;
  bool stopped_ = false;
};

HttpServer::HttpServer(Options options, std::shared_ptr<http::Handler> handler)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(handler))) {}

HttpServer::~HttpServer() = default;

Result<void> HttpServer::Start() { return impl_->Start(); }

void HttpServer::Stop(std::chrono::milliseconds grace) { impl_->Stop(grace); }

std::uint16_t HttpServer::port() const { return impl_->port(); }

std::size_t HttpServer::open_connections() const { return impl_->open_connections(); }

}  // namespace podiam::transport
