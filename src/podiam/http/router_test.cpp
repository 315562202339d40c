#include "podiam/http/router.hpp"

#include <gtest/gtest.h>

namespace podiam::http {
namespace {

Response Call(Router& router, std::string method, std::string target) {
  Response out;
  router.Handle(Request{.method = std::move(method), .target = std::move(target)},
                [&](Response r) { out = std::move(r); });
  return out;
}

std::shared_ptr<Handler> Says(std::string text) {
  return MakeSyncHandler([text](const Request&) { return Response::Text(200, text); });
}

TEST(RouterTest, ExactPrefixAndLongestMatch) {
  Router router;
  router.Get("/healthz", Says("health"));
  router.Prefix("GET", "/a/", Says("a"));
  router.Prefix("GET", "/a/b/", Says("ab"));
  EXPECT_EQ(Call(router, "GET", "/healthz").body, "health");
  EXPECT_EQ(Call(router, "GET", "/healthz?verbose").body, "health");
  EXPECT_EQ(Call(router, "GET", "/a/x").body, "a");
  EXPECT_EQ(Call(router, "GET", "/a/b/c").body, "ab");
  EXPECT_EQ(Call(router, "HEAD", "/healthz").status, 200);
}

TEST(RouterTest, UnknownPathIs404WrongMethodIs405WithAllow) {
  Router router;
  router.Get("/metrics", Says("m"));
  router.Route("PUT", "/metrics", Says("put"));
  EXPECT_EQ(Call(router, "GET", "/nope").status, 404);
  Response r = Call(router, "DELETE", "/metrics");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.headers.Get("Allow"), "GET, PUT");
}

}  // namespace
}  // namespace podiam::http
