#include "podiam/http/message.hpp"

#include <gtest/gtest.h>

namespace podiam::http {
namespace {

TEST(HeadersTest, LookupIsCaseInsensitiveAndSetReplaces) {
  Headers h;
  h.Add("X-Forwarded-For", "1.2.3.4");
  h.Add("x-forwarded-for", "5.6.7.8");
  EXPECT_EQ(h.Get("X-FORWARDED-FOR"), "1.2.3.4");
  EXPECT_EQ(h.Count("x-forwarded-for"), 2U);
  h.Set("X-Forwarded-For", "9");
  EXPECT_EQ(h.Count("x-forwarded-for"), 1U);
  h.Remove("X-FORWARDED-for");
  EXPECT_FALSE(h.Has("x-forwarded-for"));
}

TEST(RequestTest, SplitsPathAndQuery) {
  Request r{.method = "GET", .target = "/a/b?x=1&y=2"};
  EXPECT_EQ(r.Path(), "/a/b");
  EXPECT_EQ(r.Query(), "x=1&y=2");
  Request plain{.method = "GET", .target = "/a"};
  EXPECT_EQ(plain.Query(), "");
}

TEST(UrlTest, ParsesHttpAndHttpsWithDefaultsAndIpv6) {
  auto u = ParseUrl("https://sts.us-east-1.amazonaws.com");
  ASSERT_TRUE(u) << u.error().ToString();
  EXPECT_EQ(u->host, "sts.us-east-1.amazonaws.com");
  EXPECT_EQ(u->port, 443);
  EXPECT_EQ(u->target, "/");
  EXPECT_EQ(u->HostHeader(), "sts.us-east-1.amazonaws.com");

  auto v = ParseUrl("http://127.0.0.1:5599/api/v1/pods?watch=1");
  ASSERT_TRUE(v);
  EXPECT_EQ(v->port, 5599);
  EXPECT_EQ(v->target, "/api/v1/pods?watch=1");
  EXPECT_EQ(v->HostHeader(), "127.0.0.1:5599");

  auto w = ParseUrl("http://[::1]:8080?x");
  ASSERT_TRUE(w);
  EXPECT_EQ(w->host, "::1");
  EXPECT_EQ(w->target, "/?x");
  EXPECT_EQ(w->HostHeader(), "[::1]:8080");
}

TEST(UrlTest, RejectsMalformedUrlsWithClearMessages) {
  for (const char* bad :
       {"sts.amazonaws.com", "ftp://x", "http://", "http://u:p@host/", "http://host:0",
        "http://host:70000", "http://host:12ab", "http://[::1", "http://host/#frag"}) {
    auto r = ParseUrl(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
    EXPECT_FALSE(r.error().message().empty());
  }
}

}  // namespace
}  // namespace podiam::http
