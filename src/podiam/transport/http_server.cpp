#include "podiam/transport/http_server.hpp"

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
#include <boost/beast/core/string.hpp>
#include <condition_variable>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "podiam/base/log.hpp"
#include "podiam/transport/server_connection.hpp"
#include "podiam/transport/tls.hpp"

namespace podiam::transport {

using detail::Connection;
using detail::ConnectionBase;
using detail::PeerOf;
using detail::State;
using detail::SteadyClock;
using detail::Worker;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;

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
