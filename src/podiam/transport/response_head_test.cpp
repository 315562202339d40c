#include "podiam/transport/response_head.hpp"

#include <gtest/gtest.h>

#include <string>

namespace podiam::transport {
namespace {

TEST(ResponseHeadTest, StatusLineHeadersServerAndLength) {
  auto response = http::Response::Text(200, "hello");
  response.headers.Set("X-A", "1");
  bool keep_alive = true;
  std::string head = "stale";
  SerializeResponseHead(response, 11, keep_alive, head);
  EXPECT_EQ(head,
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-A: 1\r\n"
            "Server: podiam\r\nContent-Length: 5\r\n\r\n");
  EXPECT_TRUE(keep_alive);
}

TEST(ResponseHeadTest, FramingHeadersAndCrLfFromTheHandlerAreDropped) {
  http::Response response{.status = 204};
  response.headers.Add("Content-Length", "99");
  response.headers.Add("Transfer-Encoding", "chunked");
  response.headers.Add("Server", "other");
  response.headers.Add("X-Split", "a\r\nInjected: 1");
  response.headers.Add("Bad Name", "v");
  response.headers.Add("Connection", "close");
  bool keep_alive = true;
  std::string head;
  SerializeResponseHead(response, 11, keep_alive, head);
  EXPECT_EQ(head, "HTTP/1.1 204 No Content\r\nServer: podiam\r\nConnection: close\r\n\r\n");
  EXPECT_FALSE(keep_alive);
}

TEST(ResponseHeadTest, Http10KeepAliveIsSaid) {
  http::Response response{.status = 404};
  bool keep_alive = true;
  std::string head;
  SerializeResponseHead(response, 10, keep_alive, head);
  EXPECT_EQ(head,
            "HTTP/1.1 404 Not Found\r\nServer: podiam\r\nContent-Length: 0\r\n"
            "Connection: keep-alive\r\n\r\n");
  EXPECT_TRUE(StatusHasBody(200));
  EXPECT_FALSE(StatusHasBody(100));
  EXPECT_FALSE(StatusHasBody(304));
}

}  // namespace
}  // namespace podiam::transport
