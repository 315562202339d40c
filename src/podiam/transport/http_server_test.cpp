#include "podiam/transport/http_server.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "podiam/metrics/registry.hpp"
#include "podiam/transport/metrics.hpp"
#include "podiam/transport/socket_test_util.hpp"

namespace podiam::transport {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;
using testutil::RawClient;
using namespace std::chrono_literals;

constexpr const char* kGet = "GET / HTTP/1.1\r\nHost: t\r\n\r\n";

// Answers "path=<path> peer=<address> body=<body>", or per-path behaviour set by a test.
class TestHandler final : public http::Handler {
 public:
  void Handle(http::Request request, http::ResponseCallback done) override {
    calls.fetch_add(1);
    if (hook) {
      hook(request, done);
      return;
    }
    done(http::Response::Text(200, "path=" + std::string(request.Path()) +
                                       " peer=" + request.peer.address + " body=" + request.body));
  }
  std::function<void(const http::Request&, http::ResponseCallback&)> hook;
  std::atomic<int> calls{0};
};

class HttpServerTest : public ::testing::Test {
 protected:
  void StartServer(HttpServerOptions options = {}) {
    options.metrics = &families_;
    options.name = "test";
    server_ = std::make_unique<HttpServer>(options, handler_);
    auto started = server_->Start();
    ASSERT_TRUE(started) << started.error().ToString();
    port_ = server_->port();
    ASSERT_NE(port_, 0);
  }

  double Metric(const std::string& needle) {
    std::string text = registry_.Render();
    auto pos = text.find(needle + " ");
    if (pos == std::string::npos) {
      return -1;
    }
    return std::stod(text.substr(pos + needle.size() + 1));
  }

  // Waits (bounded) for a condition that another thread makes true.
  template <typename F>
  static bool Eventually(F f, std::chrono::milliseconds limit = 3s) {
    auto until = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < until) {
      if (f()) {
        return true;
      }
      std::this_thread::sleep_for(5ms);
    }
    return f();
  }

  metrics::Registry registry_;
  HttpServerMetrics families_{registry_};
  std::shared_ptr<TestHandler> handler_ = std::make_shared<TestHandler>();
  std::unique_ptr<HttpServer> server_;
  std::uint16_t port_ = 0;
};

TEST_F(HttpServerTest, ServesRequestWithFramingHeadersAndPeer) {
  StartServer();
  RawClient c(port_);
  ASSERT_TRUE(c.Send("GET /x?y=1 HTTP/1.1\r\nHost: t\r\nX-Forwarded-For: 10.9.9.9\r\n\r\n"));
  std::string r = c.ReadResponse();
  EXPECT_THAT(r, StartsWith("HTTP/1.1 200 OK\r\n"));
  EXPECT_THAT(r, HasSubstr("Server: podiam\r\n"));
  EXPECT_THAT(r, HasSubstr("Content-Length: 28\r\n"));
  // The peer comes from the socket, never from a header.
  EXPECT_THAT(r, HasSubstr("path=/x peer=127.0.0.1 body="));
  EXPECT_EQ(Metric(R"(podiam_http_server_requests_total{server="test",code="2xx"})"), 1);
}

TEST_F(HttpServerTest, KeepAliveServesManyRequestsOnOneConnection) {
  StartServer();
  RawClient c(port_);
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(c.Send(kGet));
    EXPECT_THAT(c.ReadResponse(), StartsWith("HTTP/1.1 200 OK"));
  }
  EXPECT_FALSE(c.closed());
  EXPECT_EQ(Metric(R"(podiam_http_server_connections_accepted_total{server="test"})"), 1);
  EXPECT_EQ(Metric(R"(podiam_http_server_requests_total{server="test",code="2xx"})"), 5);
}

TEST_F(HttpServerTest, PipelinedResponsesComeBackInRequestOrder) {
  // The first request is answered late from another thread, the second at once: the order of
  // the responses must still follow the order of the requests.
  handler_->hook = [](const http::Request& r, http::ResponseCallback& done) {
    std::string path(r.Path());
    if (path == "/slow") {
      std::thread([done] {
        std::this_thread::sleep_for(100ms);
        done(http::Response::Text(200, "first"));
      }).detach();
    } else {
      done(http::Response::Text(200, "second"));
    }
  };
  StartServer();
  RawClient c(port_);
  ASSERT_TRUE(c.Send("GET /slow HTTP/1.1\r\nHost: t\r\n\r\nGET /fast HTTP/1.1\r\nHost: t\r\n\r\n"));
  std::string first = c.ReadResponse();
  std::string second = c.ReadResponse();
  EXPECT_THAT(first, HasSubstr("\r\n\r\nfirst"));
  EXPECT_THAT(second, HasSubstr("\r\n\r\nsecond"));
}

TEST_F(HttpServerTest, OversizedHeaderGets431AndClose) {
  StartServer({.max_header_bytes = 1024});
  RawClient c(port_);
  ASSERT_TRUE(c.Send("GET / HTTP/1.1\r\nHost: t\r\nX-Big: " + std::string(2000, 'a') + "\r\n\r\n"));
  std::string r = c.ReadUntilClose();
  EXPECT_THAT(r, StartsWith("HTTP/1.1 431 Request Header Fields Too Large\r\n"));
  EXPECT_THAT(r, HasSubstr("Connection: close\r\n"));
  EXPECT_TRUE(c.closed());
  EXPECT_EQ(handler_->calls.load(), 0);
  EXPECT_EQ(
      Metric(R"(podiam_http_server_parse_errors_total{server="test",kind="header_too_large"})"), 1);
}

TEST_F(HttpServerTest, OversizedBodyGets413AndClose) {
  StartServer({.max_body_bytes = 100});
  RawClient c(port_);
  ASSERT_TRUE(
      c.Send("PUT / HTTP/1.1\r\nHost: t\r\nContent-Length: 101\r\n\r\n" + std::string(101, 'b')));
  std::string r = c.ReadUntilClose();
  EXPECT_THAT(r, StartsWith("HTTP/1.1 413 Payload Too Large\r\n"));
  EXPECT_TRUE(c.closed());
  EXPECT_EQ(Metric(R"(podiam_http_server_parse_errors_total{server="test",kind="body_too_large"})"),
            1);
}

TEST_F(HttpServerTest, OversizedChunkedBodyGets413) {
  StartServer({.max_body_bytes = 100});
  RawClient c(port_);
  ASSERT_TRUE(
      c.Send("PUT / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
             "50\r\n" +
             std::string(0x50, 'b') + "\r\n50\r\n" + std::string(0x50, 'b') + "\r\n0\r\n\r\n"));
  EXPECT_THAT(c.ReadUntilClose(), StartsWith("HTTP/1.1 413 "));
}

TEST_F(HttpServerTest, BodyWithinLimitReachesHandler) {
  StartServer({.max_body_bytes = 100});
  RawClient c(port_);
  ASSERT_TRUE(c.Send("PUT /p HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello"));
  EXPECT_THAT(c.ReadResponse(), HasSubstr("body=hello"));
  ASSERT_TRUE(
      c.Send("PUT /p HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
             "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"));
  EXPECT_THAT(c.ReadResponse(), HasSubstr("body=abcde"));
}

TEST_F(HttpServerTest, ExpectContinueGets100BeforeTheBody) {
  StartServer();
  RawClient c(port_);
  ASSERT_TRUE(
      c.Send("PUT / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n"));
  EXPECT_EQ(c.ReadSome(), "HTTP/1.1 100 Continue\r\n\r\n");
  ASSERT_TRUE(c.Send("abc"));
  EXPECT_THAT(c.ReadResponse(), HasSubstr("body=abc"));
}

TEST_F(HttpServerTest, MalformedRequestLineGets400AndClose) {
  StartServer();
  for (const char* bad : {"GARBAGE\r\n\r\n", "GET / HTTP/9.x\r\n\r\n", "GET  HTTP/1.1\r\n\r\n",
                          "GET / HTTP/1.1\r\nBad Header\r\n\r\n"}) {
    RawClient c(port_);
    ASSERT_TRUE(c.Send(bad));
    std::string r = c.ReadUntilClose();
    EXPECT_THAT(r, StartsWith("HTTP/1.1 400 Bad Request\r\n")) << bad;
    EXPECT_TRUE(c.closed()) << bad;
  }
  EXPECT_EQ(handler_->calls.load(), 0);
  EXPECT_EQ(Metric(R"(podiam_http_server_parse_errors_total{server="test",kind="malformed"})"), 4);
}

TEST_F(HttpServerTest, SmugglingShapesGet400) {
  StartServer();
  for (const char* bad : {
           "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"
           "0\r\n\r\n",
           "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n"
           "0\r\n\r\n",
           "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcde",
           "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n",
           "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n",
       }) {
    RawClient c(port_);
    ASSERT_TRUE(c.Send(bad));
    EXPECT_THAT(c.ReadUntilClose(), StartsWith("HTTP/1.1 400 Bad Request\r\n")) << bad;
  }
  EXPECT_EQ(handler_->calls.load(), 0);
  EXPECT_EQ(Metric(R"(podiam_http_server_parse_errors_total{server="test",kind="framing"})"), 5);
}

TEST_F(HttpServerTest, HeadResponseHasLengthButNoBody) {
  StartServer();
  RawClient c(port_);
  ASSERT_TRUE(c.Send("HEAD /h HTTP/1.1\r\nHost: t\r\n\r\n"));
  std::string head = c.ReadResponse(5s, /*head=*/true);
  EXPECT_THAT(head, HasSubstr("Content-Length: 28\r\n"));
  EXPECT_THAT(head, ::testing::EndsWith("\r\n\r\n"));
  // The next response on the connection starts right after the head: no body bytes slipped in.
  ASSERT_TRUE(c.Send(kGet));
  EXPECT_THAT(c.ReadResponse(), StartsWith("HTTP/1.1 200 OK"));
}

TEST_F(HttpServerTest, Http10ClosesUnlessKeepAliveAsked) {
  StartServer();
  {
    RawClient c(port_);
    ASSERT_TRUE(c.Send("GET / HTTP/1.0\r\n\r\n"));
    std::string r = c.ReadUntilClose();
    EXPECT_THAT(r, HasSubstr("Connection: close\r\n"));
    EXPECT_TRUE(c.closed());
  }
  RawClient c(port_);
  ASSERT_TRUE(c.Send("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
  EXPECT_THAT(c.ReadResponse(), HasSubstr("Connection: keep-alive\r\n"));
  ASSERT_TRUE(c.Send("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
  EXPECT_THAT(c.ReadResponse(), StartsWith("HTTP/1.1 200"));
}

TEST_F(HttpServerTest, SlowClientIsCutOffByTheHeaderDeadline) {
  StartServer({.header_timeout = 300ms});
  RawClient c(port_);
  const std::string request = kGet;
  auto start = std::chrono::steady_clock::now();
  bool cut = false;
  for (char ch : request) {
    if (!c.Send(std::string(1, ch))) {
      cut = true;
      break;
    }
    c.ReadSome(100ms);  // one byte per 100 ms: the head would take 2.6 s
    if (c.closed()) {
      cut = true;
      break;
    }
  }
  auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_TRUE(cut);
  EXPECT_LT(elapsed, 1500ms);
  EXPECT_EQ(handler_->calls.load(), 0);
  EXPECT_EQ(Metric(R"(podiam_http_server_timeouts_total{server="test",phase="header"})"), 1);
}

TEST_F(HttpServerTest, SilentConnectionIsClosedByTheHeaderDeadline) {
  StartServer({.header_timeout = 200ms});
  RawClient c(port_);
  c.ReadUntilClose(2s);
  EXPECT_TRUE(c.closed());
}

TEST_F(HttpServerTest, IdleKeepAliveConnectionIsClosed) {
  StartServer({.header_timeout = 5s, .idle_timeout = 200ms});
  RawClient c(port_);
  ASSERT_TRUE(c.Send(kGet));
  EXPECT_THAT(c.ReadResponse(), StartsWith("HTTP/1.1 200"));
  c.ReadUntilClose(2s);
  EXPECT_TRUE(c.closed());
  EXPECT_EQ(Metric(R"(podiam_http_server_timeouts_total{server="test",phase="idle"})"), 1);
}

TEST_F(HttpServerTest, SlowBodyIsCutOffByTheBodyDeadline) {
  StartServer({.body_timeout = 200ms});
  RawClient c(port_);
  ASSERT_TRUE(c.Send("PUT / HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nab"));
  c.ReadUntilClose(2s);
  EXPECT_TRUE(c.closed());
  EXPECT_EQ(Metric(R"(podiam_http_server_timeouts_total{server="test",phase="body"})"), 1);
}

TEST_F(HttpServerTest, ConnectionsAboveTheCapAreClosedWithoutHurtingOthers) {
  StartServer({.max_connections = 2});
  RawClient a(port_);
  RawClient b(port_);
  ASSERT_TRUE(a.Send(kGet));
  ASSERT_TRUE(b.Send(kGet));
  EXPECT_THAT(a.ReadResponse(), StartsWith("HTTP/1.1 200"));
  EXPECT_THAT(b.ReadResponse(), StartsWith("HTTP/1.1 200"));

  RawClient over(port_);
  over.Send(kGet);
  over.ReadUntilClose(2s);
  EXPECT_TRUE(over.closed());
  EXPECT_EQ(Metric(R"(podiam_http_server_connections_rejected_total{server="test"})"), 1);

  // The existing connections still work.
  ASSERT_TRUE(a.Send(kGet));
  EXPECT_THAT(a.ReadResponse(), StartsWith("HTTP/1.1 200"));
  EXPECT_EQ(server_->open_connections(), 2u);
  EXPECT_EQ(Metric(R"(podiam_http_server_connections_open{server="test"})"), 2);
}

TEST_F(HttpServerTest, OneClientCannotTakeTheConnectionsOfOthers) {
  StartServer({.max_connections_per_client = 2});
  std::optional<RawClient> a1;
  a1.emplace(port_, "127.0.0.2");
  RawClient a2(port_, "127.0.0.2");
  ASSERT_TRUE(a1->Send(kGet));
  ASSERT_TRUE(a2.Send(kGet));
  EXPECT_THAT(a1->ReadResponse(), StartsWith("HTTP/1.1 200"));
  EXPECT_THAT(a2.ReadResponse(), StartsWith("HTTP/1.1 200"));

  RawClient a3(port_, "127.0.0.2");  // over the limit for 127.0.0.2
  a3.Send(kGet);
  a3.ReadUntilClose(2s);
  EXPECT_TRUE(a3.closed());
  EXPECT_EQ(Metric(R"(podiam_http_server_connections_rejected_total{server="test"})"), 1);

  RawClient b(port_, "127.0.0.3");  // another client is unaffected
  ASSERT_TRUE(b.Send(kGet));
  EXPECT_THAT(b.ReadResponse(), AllOf(StartsWith("HTTP/1.1 200"), HasSubstr("peer=127.0.0.3 ")));

  // A closed connection gives its slot back.
  a1.reset();
  EXPECT_TRUE(Eventually([&] { return server_->open_connections() == 2; }));
  RawClient a4(port_, "127.0.0.2");
  ASSERT_TRUE(a4.Send(kGet));
  EXPECT_THAT(a4.ReadResponse(), StartsWith("HTTP/1.1 200"));
}

TEST_F(HttpServerTest, GracefulStopFinishesInFlightRequests) {
  handler_->hook = [](const http::Request&, http::ResponseCallback& done) {
    std::thread([done] {
      std::this_thread::sleep_for(200ms);
      done(http::Response::Text(200, "finished"));
    }).detach();
  };
  StartServer({.threads = 2});
  RawClient busy(port_);
  RawClient idle(port_);
  ASSERT_TRUE(busy.Send(kGet));
  ASSERT_TRUE(Eventually([&] { return handler_->calls.load() == 1; }));

  auto stopped = std::async(std::launch::async, [&] { server_->Stop(5s); });
  std::string r = busy.ReadUntilClose();
  EXPECT_THAT(r, HasSubstr("Connection: close\r\n"));
  EXPECT_THAT(r, HasSubstr("finished"));
  idle.ReadUntilClose(2s);
  EXPECT_TRUE(idle.closed());
  EXPECT_EQ(stopped.wait_for(3s), std::future_status::ready);
  EXPECT_EQ(testutil::ConnectTcp(port_), -1);  // no longer listening
}

TEST_F(HttpServerTest, StopGivesUpOnHandlersThatNeverAnswer) {
  std::mutex mu;
  std::vector<http::ResponseCallback> parked;
  handler_->hook = [&](const http::Request&, http::ResponseCallback& done) {
    std::lock_guard lock(mu);
    parked.push_back(done);
  };
  StartServer();
  RawClient c(port_);
  ASSERT_TRUE(c.Send(kGet));
  ASSERT_TRUE(Eventually([&] { return handler_->calls.load() == 1; }));
  auto start = std::chrono::steady_clock::now();
  server_->Stop(100ms);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
  c.ReadUntilClose(2s);
  EXPECT_TRUE(c.closed());
  server_.reset();
  // A late answer after the server is gone is dropped safely.
  std::lock_guard lock(mu);
  parked.front()(http::Response::Text(200, "late"));
}

TEST_F(HttpServerTest, AsyncHandlerAnswersFromAnotherThreadAndDoubleCallsAreIgnored) {
  handler_->hook = [](const http::Request& r, http::ResponseCallback& done) {
    std::string path(r.Path());
    std::thread([done, path] {
      done(http::Response::Text(200, "once " + path));
      done(http::Response::Text(500, "twice"));
    }).detach();
  };
  StartServer({.threads = 2});
  RawClient c(port_);
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(c.Send("GET /" + std::to_string(i) + " HTTP/1.1\r\nHost: t\r\n\r\n"));
    std::string r = c.ReadResponse();
    EXPECT_THAT(r, HasSubstr("once /" + std::to_string(i)));
  }
  EXPECT_THAT(c.ReadSome(100ms), Not(HasSubstr("twice")));
  EXPECT_EQ(Metric(R"(podiam_http_server_requests_total{server="test",code="5xx"})"), 0);
}

TEST_F(HttpServerTest, HandlerExceptionBecomes500) {
  handler_->hook = [](const http::Request&, http::ResponseCallback&) {
    throw std::runtime_error("boom");
  };
  StartServer();
  RawClient c(port_);
  ASSERT_TRUE(c.Send(kGet));
  EXPECT_THAT(c.ReadResponse(), StartsWith("HTTP/1.1 500 "));
}

TEST_F(HttpServerTest, HandlerHeadersCannotBreakFraming) {
  handler_->hook = [](const http::Request&, http::ResponseCallback& done) {
    http::Response r = http::Response::Text(200, "ok");
    r.headers.Set("X-Evil", "a\r\nSet-Cookie: x=1");
    r.headers.Set("Content-Length", "999");
    r.headers.Set("X-Fine", "yes");
    done(std::move(r));
  };
  StartServer();
  RawClient c(port_);
  ASSERT_TRUE(c.Send(kGet));
  std::string r = c.ReadResponse();
  EXPECT_THAT(r, Not(HasSubstr("Set-Cookie")));
  EXPECT_THAT(r, Not(HasSubstr("999")));
  EXPECT_THAT(r, HasSubstr("Content-Length: 2\r\n"));
  EXPECT_THAT(r, HasSubstr("X-Fine: yes\r\n"));
}

TEST_F(HttpServerTest, ServesOverIpv6) {
  handler_ = std::make_shared<TestHandler>();
  server_ = std::make_unique<HttpServer>(HttpServerOptions{.address = "::1"}, handler_);
  auto started = server_->Start();
  if (!started) {
    GTEST_SKIP() << "no IPv6 loopback: " << started.error().ToString();
  }
  int fd = ::socket(AF_INET6, SOCK_STREAM, 0);
  sockaddr_in6 addr{};
  addr.sin6_family = AF_INET6;
  addr.sin6_port = htons(server_->port());
  addr.sin6_addr = in6addr_loopback;
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  std::string req = kGet;
  ::send(fd, req.data(), req.size(), MSG_NOSIGNAL);
  char buf[1024];
  ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
  ::close(fd);
  ASSERT_GT(n, 0);
  EXPECT_THAT(std::string(buf, static_cast<std::size_t>(n)), HasSubstr("peer=::1 "));
}

// A dual-stack listener ("::") sees an IPv4 client as ::ffff:127.0.0.1; pods are looked up by the
// plain IPv4 text, so the peer must read 127.0.0.1.
TEST_F(HttpServerTest, DualStackListenerReportsIpv4ClientsAsPlainIpv4) {
  handler_ = std::make_shared<TestHandler>();
  server_ = std::make_unique<HttpServer>(HttpServerOptions{.address = "::"}, handler_);
  auto started = server_->Start();
  if (!started) {
    GTEST_SKIP() << "no IPv6: " << started.error().ToString();
  }
  int fd = testutil::ConnectTcp(server_->port(), "127.0.0.1");
  if (fd < 0) {
    GTEST_SKIP() << "the IPv6 wildcard does not accept IPv4 here (net.ipv6.bindv6only=1)";
  }
  std::string req = kGet;
  ::send(fd, req.data(), req.size(), MSG_NOSIGNAL);
  char buf[1024];
  ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
  ::close(fd);
  ASSERT_GT(n, 0);
  std::string reply(buf, static_cast<std::size_t>(n));
  EXPECT_THAT(reply, HasSubstr("peer=127.0.0.1 "));
  EXPECT_THAT(reply, Not(HasSubstr("ffff")));
}

TEST_F(HttpServerTest, StartReportsBadAddressAndBusyPort) {
  HttpServer bad({.address = "not-an-ip"}, handler_);
  auto r = bad.Start();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);

  StartServer();
  HttpServer busy({.port = port_}, handler_);
  r = busy.Start();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kUnavailable);
  EXPECT_THAT(r.error().message(), HasSubstr("cannot listen"));
}

TEST_F(HttpServerTest, ManyConcurrentClientsOnSeveralThreads) {
  StartServer({.threads = 2});
  std::vector<std::thread> clients;
  std::atomic<int> ok{0};
  for (int t = 0; t < 8; ++t) {
    clients.emplace_back([&] {
      RawClient c(port_);
      for (int i = 0; i < 50; ++i) {
        if (c.Send(kGet) && c.ReadResponse().starts_with("HTTP/1.1 200")) {
          ok.fetch_add(1);
        }
      }
    });
  }
  for (auto& t : clients) {
    t.join();
  }
  EXPECT_EQ(ok.load(), 400);
}

}  // namespace
}  // namespace podiam::transport
