#include "podiam/transport/http_client.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "podiam/transport/http_server.hpp"
#include "podiam/transport/socket_test_util.hpp"

namespace podiam::transport {
namespace {

using ::testing::HasSubstr;
using testutil::ScriptedServer;
using namespace std::chrono_literals;

std::unique_ptr<BeastHttpClient> NewClient(BeastHttpClientOptions options = {}) {
  auto client = BeastHttpClient::Create(std::move(options));
  EXPECT_TRUE(client) << client.error().ToString();
  return std::move(*client);
}

// A port nobody listens on: bind one, note it, close it.
std::uint16_t UnusedPort() {
  ScriptedServer s([](int) {});
  return s.port();
}

class HttpClientTest : public ::testing::Test {
 protected:
  void StartServer(HttpServerOptions options = {}) {
    server_ = std::make_unique<HttpServer>(
        options, http::MakeSyncHandler([this](const http::Request& r) { return Answer(r); }));
    ASSERT_TRUE(server_->Start());
    base_ = "http://127.0.0.1:" + std::to_string(server_->port());
  }

  http::Response Answer(const http::Request& r) {
    if (r.Path() == "/big") {
      return http::Response::Text(200, std::string(5000, 'x'));
    }
    if (r.Path() == "/slow") {
      std::this_thread::sleep_for(1s);
    }
    std::string text = r.method + " " + r.target + "\n";
    for (const auto& [k, v] : r.headers.items()) {
      text += k + ": " + v + "\n";
    }
    text += "\n" + r.body;
    auto resp = http::Response::Text(r.Path() == "/missing" ? 404 : 200, text);
    resp.headers.Set("X-Reply", "yes");
    return resp;
  }

  std::unique_ptr<HttpServer> server_;
  std::string base_;
};

TEST_F(HttpClientTest, SendsRequestAndReadsResponse) {
  StartServer();
  auto client = NewClient({.user_agent = "podiam-test"});
  http::ClientRequest req{.method = "POST", .url = base_ + "/p?q=1", .body = "a=b"};
  req.headers.Set("Content-Type", "application/x-www-form-urlencoded");
  auto r = client->Send(req);
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->headers.Get("X-Reply"), "yes");
  EXPECT_THAT(r->body, HasSubstr("POST /p?q=1\n"));
  EXPECT_THAT(r->body, HasSubstr("Host: 127.0.0.1:"));
  EXPECT_THAT(r->body, HasSubstr("User-Agent: podiam-test\n"));
  EXPECT_THAT(r->body, HasSubstr("Content-Length: 3\n"));
  EXPECT_THAT(r->body, HasSubstr("\n\na=b"));
}

TEST_F(HttpClientTest, AnyStatusIsAValue) {
  StartServer();
  auto r = NewClient()->Send({.url = base_ + "/missing"});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
}

TEST_F(HttpClientTest, HeadReadsNoBody) {
  StartServer();
  auto client = NewClient();
  auto r = client->Send({.method = "HEAD", .url = base_ + "/"});
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->status, 200);
  EXPECT_TRUE(r->body.empty());
  ASSERT_TRUE(client->Send({.url = base_ + "/"}));  // the connection is still in sync
  EXPECT_EQ(client->connections_opened(), 1u);
}

TEST_F(HttpClientTest, ReusesKeepAliveConnections) {
  StartServer();
  auto client = NewClient();
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(client->Send({.url = base_ + "/"}));
  }
  EXPECT_EQ(client->connections_opened(), 1u);
  EXPECT_EQ(client->idle_connections(), 1u);
}

TEST_F(HttpClientTest, ReplacesPooledConnectionsTheServerClosed) {
  StartServer({.idle_timeout = 100ms});
  auto client = NewClient();
  ASSERT_TRUE(client->Send({.url = base_ + "/"}));
  std::this_thread::sleep_for(400ms);  // the server closes the idle connection
  auto r = client->Send({.url = base_ + "/"});
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(client->connections_opened(), 2u);
}

TEST_F(HttpClientTest, IdleConnectionsExpire) {
  StartServer();
  auto client = NewClient({.idle_expiry = 50ms});
  ASSERT_TRUE(client->Send({.url = base_ + "/"}));
  std::this_thread::sleep_for(100ms);
  ASSERT_TRUE(client->Send({.url = base_ + "/"}));
  EXPECT_EQ(client->connections_opened(), 2u);
}

TEST_F(HttpClientTest, PoolIsBoundedPerHost) {
  StartServer({.threads = 2});
  auto client = NewClient({.max_idle_per_host = 2});
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 25; ++i) {
        if (auto r = client->Send({.url = base_ + "/"}); r && r->status == 200) {
          ok.fetch_add(1);
        }
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  EXPECT_EQ(ok.load(), 200);  // concurrent Send() is safe
  EXPECT_LE(client->idle_connections(), 2u);
}

TEST_F(HttpClientTest, RefusedIsUnavailableAndRetryable) {
  auto r = NewClient()->Send({.url = "http://127.0.0.1:" + std::to_string(UnusedPort()) + "/"});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kUnavailable);
  EXPECT_TRUE(r.error().retryable());
  EXPECT_THAT(r.error().message(), HasSubstr("connect to http://127.0.0.1:"));
}

TEST_F(HttpClientTest, SlowServerIsDeadlineExceededAndRetryable) {
  StartServer();
  auto start = std::chrono::steady_clock::now();
  auto r = NewClient()->Send({.url = base_ + "/slow", .timeout = 200ms});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kDeadlineExceeded);
  EXPECT_TRUE(r.error().retryable());
  EXPECT_LT(std::chrono::steady_clock::now() - start, 900ms);
}

TEST_F(HttpClientTest, BadUrlIsInvalidArgument) {
  auto client = NewClient();
  for (const char* url : {"ftp://x/", "no-scheme", "http://[::1/"}) {
    auto r = client->Send({.url = url});
    ASSERT_FALSE(r) << url;
    EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument) << url;
  }
  http::ClientRequest req{.url = "http://127.0.0.1:1/"};
  req.headers.Set("X-Bad", "a\r\nInjected: 1");
  auto r = client->Send(req);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
}

TEST_F(HttpClientTest, UnknownHostIsUnavailable) {
  auto r = NewClient()->Send({.url = "http://no-such-host.invalid/", .timeout = 3s});
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().code(),
              ::testing::AnyOf(ErrorCode::kUnavailable, ErrorCode::kDeadlineExceeded));
}

TEST_F(HttpClientTest, BodyAboveTheLimitIsUpstreamInvalid) {
  StartServer();
  auto r = NewClient({.max_response_bytes = 1000})->Send({.url = base_ + "/big"});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kUpstreamInvalid);
  EXPECT_THAT(r.error().message(), HasSubstr("larger than 1000 bytes"));
}

TEST_F(HttpClientTest, GarbageResponseIsUpstreamInvalid) {
  ScriptedServer server([](int fd) {
    ScriptedServer::ReadHead(fd);
    ScriptedServer::Write(fd, "HTTP/1.1 2OO Okay\r\n\r\n");
  });
  auto r = NewClient()->Send({.url = "http://127.0.0.1:" + std::to_string(server.port()) + "/"});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kUpstreamInvalid);
}

TEST_F(HttpClientTest, ResetIsUnavailableAndRetryable) {
  ScriptedServer server([](int fd) {
    ScriptedServer::ReadHead(fd);
    linger l{1, 0};  // close with RST
    ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
  });
  auto r = NewClient()->Send({.url = "http://127.0.0.1:" + std::to_string(server.port()) + "/"});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kUnavailable);
  EXPECT_TRUE(r.error().retryable());
}

// A chunked stream delivered in pieces with pauses, like a Kubernetes watch.
std::function<void(int)> ChunkedStream(std::chrono::milliseconds pause, bool finish) {
  return [pause, finish](int fd) {
    ScriptedServer::ReadHead(fd);
    ScriptedServer::Write(fd,
                          "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                          "Transfer-Encoding: chunked\r\n\r\n");
    for (int i = 0; i < 3; ++i) {
      std::string event = "{\"n\":" + std::to_string(i) + "}\n";
      char size[16];
      std::snprintf(size, sizeof(size), "%zx\r\n", event.size());
      ScriptedServer::Write(fd, size + event + "\r\n");
      std::this_thread::sleep_for(pause);
    }
    if (finish) {
      ScriptedServer::Write(fd, "0\r\n\r\n");
    } else {
      std::this_thread::sleep_for(1s);  // stall
    }
  };
}

TEST_F(HttpClientTest, StreamFeedsChunksUntilTheBodyEnds) {
  ScriptedServer server(ChunkedStream(20ms, /*finish=*/true));
  std::string seen;
  int calls = 0;
  auto r = NewClient()->Stream(
      {.url = "http://127.0.0.1:" + std::to_string(server.port()) + "/watch", .timeout = 2s},
      [&](std::string_view chunk) {
        seen += chunk;
        ++calls;
        return true;
      });
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->headers.Get("Content-Type"), "application/json");
  EXPECT_EQ(seen, "{\"n\":0}\n{\"n\":1}\n{\"n\":2}\n");
  EXPECT_GE(calls, 3);  // the pieces arrive as they are sent, not at the end
}

TEST_F(HttpClientTest, StreamStopsWhenTheCallbackSaysSo) {
  ScriptedServer server(ChunkedStream(20ms, /*finish=*/false));
  std::string seen;
  auto start = std::chrono::steady_clock::now();
  auto r = NewClient()->Stream(
      {.url = "http://127.0.0.1:" + std::to_string(server.port()) + "/watch", .timeout = 5s},
      [&](std::string_view chunk) {
        seen += chunk;
        return false;
      });
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(seen, "{\"n\":0}\n");
  EXPECT_LT(std::chrono::steady_clock::now() - start, 900ms);
}

TEST_F(HttpClientTest, StreamEndsPromptlyWhenStopIsRequestedFromAnotherThread) {
  ScriptedServer server(ChunkedStream(10ms, /*finish=*/false));  // then stalls for 1 s
  std::stop_source stop;
  std::string seen;
  std::atomic<bool> got_data{false};
  std::atomic<std::chrono::steady_clock::time_point::rep> stopped_at{0};
  // Stop once data flows (not after a fixed sleep: under load the first chunk can be late).
  std::thread stopper([&] {
    for (int i = 0; i < 500 && !got_data.load(); ++i) {
      std::this_thread::sleep_for(10ms);
    }
    stopped_at = std::chrono::steady_clock::now().time_since_epoch().count();
    stop.request_stop();
  });
  auto r =
      NewClient()->Stream({.url = "http://127.0.0.1:" + std::to_string(server.port()) + "/watch",
                           .timeout = 10s,
                           .stop = stop.get_token()},
                          [&](std::string_view chunk) {
                            seen += chunk;
                            got_data = true;
                            return true;
                          });
  auto returned = std::chrono::steady_clock::now();
  stopper.join();
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_TRUE(seen.starts_with("{\"n\":0}\n")) << seen;
  // Well before the server's 1 s stall ends: the read was cancelled, not completed.
  auto since_stop = returned - std::chrono::steady_clock::time_point(
                                   std::chrono::steady_clock::duration(stopped_at.load()));
  EXPECT_LT(since_stop, 700ms);
}

TEST_F(HttpClientTest, StreamTimesOutWhenTheServerStalls) {
  ScriptedServer server(ChunkedStream(10ms, /*finish=*/false));
  std::string seen;
  auto r = NewClient()->Stream(
      {.url = "http://127.0.0.1:" + std::to_string(server.port()) + "/watch", .timeout = 200ms},
      [&](std::string_view chunk) {
        seen += chunk;
        return true;
      });
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kDeadlineExceeded);
  EXPECT_EQ(seen, "{\"n\":0}\n{\"n\":1}\n{\"n\":2}\n");
}

TEST_F(HttpClientTest, StreamReturnsErrorBodiesWhole) {
  StartServer();
  bool called = false;
  auto r = NewClient()->Stream({.url = base_ + "/missing"}, [&](std::string_view) {
    called = true;
    return true;
  });
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->status, 404);
  EXPECT_THAT(r->body, HasSubstr("GET /missing"));
  EXPECT_FALSE(called);
}

}  // namespace
}  // namespace podiam::transport
