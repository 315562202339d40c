// podiam_http_testserver_tool: HttpServer with a trivial handler, for tests/integration and
// bench/http_vs_nginx.sh. Prints "PORT=<n>" on stdout once listening; stops on SIGINT/SIGTERM.
//
//   podiam_http_testserver_tool --port 0 --threads 2 --body-bytes 1200 --header-timeout-ms 1000
//
// Routes: /echo (method, peer and body back), /slow?ms=N (answers from another thread after N ms),
// /metrics (Prometheus text), anything else: a fixed JSON body of --body-bytes bytes.
#include <pthread.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <string_view>
#include <thread>

#include "podiam/http/handler.hpp"
#include "podiam/metrics/registry.hpp"
#include "podiam/transport/http_server.hpp"
#include "podiam/transport/metrics.hpp"

namespace {

using podiam::http::Request;
using podiam::http::Response;

// A JSON object of exactly `size` bytes (at least 16), shaped like a credentials document.
std::string FixedBody(std::size_t size) {
  std::string head = R"({"Code":"Success","Padding":")";
  std::string tail = "\"}\n";
  if (size < head.size() + tail.size()) {
    return std::string(size, 'x');
  }
  return head + std::string(size - head.size() - tail.size(), 'p') + tail;
}

class TestHandler final : public podiam::http::Handler {
 public:
  TestHandler(std::string body, const podiam::metrics::Registry& registry)
      : body_(std::move(body)), registry_(registry) {}

  void Handle(Request request, podiam::http::ResponseCallback done) override {
    auto path = request.Path();
    if (path == "/echo") {
      done(Response::Text(200, request.method + " " + request.peer.address + "\n" + request.body));
      return;
    }
    if (path == "/slow") {
      int ms =
          std::atoi(std::string(request.Query().substr(request.Query().find('=') + 1)).c_str());
      std::thread([ms, done = std::move(done)] {
        std::this_thread::sleep_for(std::chrono::milliseconds(ms));
        done(Response::Text(200, "slow\n"));
      }).detach();
      return;
    }
    if (path == "/metrics") {
      done(Response::Text(200, registry_.Render()));
      return;
    }
    Response r;
    r.headers.Set("Content-Type", "application/json");
    r.body = body_;
    done(std::move(r));
  }

 private:
  std::string body_;
  const podiam::metrics::Registry& registry_;
};

[[noreturn]] void Usage(std::string_view bad) {
  std::cerr << "podiam_http_testserver_tool: bad argument '" << bad << "'\n"
            << "flags: --address A --port N --threads N --body-bytes N --max-header-bytes N\n"
            << "       --max-body-bytes N --header-timeout-ms N --body-timeout-ms N\n"
            << "       --idle-timeout-ms N --max-connections N --tls-cert F --tls-key F\n"
            << "       --tls-client-ca F\n";
  std::exit(2);  // NOLINT(concurrency-mt-unsafe): usage error, before any thread starts
}

}  // namespace

int main(int argc, char** argv) {
  podiam::transport::HttpServerOptions options{.name = "testserver"};
  std::size_t body_bytes = 1200;
  for (int i = 1; i < argc; ++i) {
    std::string_view flag = argv[i];
    if (i + 1 >= argc) {
      Usage(flag);
    }
    std::string value = argv[++i];
    auto number = [&] {
      char* end = nullptr;
      unsigned long long n = std::strtoull(value.c_str(), &end, 10);
      if (end == value.c_str() || *end != '\0') {
        Usage(value);
      }
      return n;
    };
    if (flag == "--address") {
      options.address = value;
    } else if (flag == "--port") {
      options.port = static_cast<std::uint16_t>(number());
    } else if (flag == "--threads") {
      options.threads = static_cast<int>(number());
    } else if (flag == "--body-bytes") {
      body_bytes = number();
    } else if (flag == "--max-header-bytes") {
      options.max_header_bytes = number();
    } else if (flag == "--max-body-bytes") {
      options.max_body_bytes = number();
    } else if (flag == "--header-timeout-ms") {
      options.header_timeout = std::chrono::milliseconds(number());
    } else if (flag == "--body-timeout-ms") {
      options.body_timeout = std::chrono::milliseconds(number());
    } else if (flag == "--idle-timeout-ms") {
      options.idle_timeout = std::chrono::milliseconds(number());
    } else if (flag == "--max-connections") {
      options.max_connections = number();
    } else if (flag == "--tls-cert") {
      options.tls_cert_file = value;
    } else if (flag == "--tls-key") {
      options.tls_key_file = value;
    } else if (flag == "--tls-client-ca") {
      options.tls_client_ca_file = value;
    } else {
      Usage(flag);
    }
  }

  // Block the stop signals before any thread starts, then wait for them here.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  podiam::metrics::Registry registry;
  podiam::transport::HttpServerMetrics http_metrics(registry);
  options.metrics = &http_metrics;
  podiam::transport::HttpServer server(
      options, std::make_shared<TestHandler>(FixedBody(body_bytes), registry));
  if (auto started = server.Start(); !started) {
    std::cerr << "podiam_http_testserver_tool: " << started.error().ToString() << "\n";
    return 1;
  }
  std::cout << "PORT=" << server.port() << std::endl;

  int signal = 0;
  sigwait(&signals, &signal);
  server.Stop(std::chrono::seconds(2));
  return 0;
}
