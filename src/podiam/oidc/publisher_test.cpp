#include "podiam/oidc/publisher.hpp"

#include <gtest/gtest.h>

#include <map>

#include "podiam/oidc/test_keys.hpp"

namespace podiam::oidc {
namespace {

struct Fixture {
  std::map<std::string, std::string> files;
  metrics::Registry registry;
  PublisherMetrics metrics{registry};
  Publisher pub{{.issuer = *ParseIssuer("https://oidc.example.com/c"), .key_files = {"a.pub"}},
                [this](const std::string& path) -> Result<std::string> {
                  auto it = files.find(path);
                  if (it == files.end()) {
                    return MakeError(ErrorCode::kNotFound, "no such file");
                  }
                  return it->second;
                },
                metrics};

  http::Response Get(std::string target, std::string method = "GET") {
    http::Response out;
    pub.MakeHandler(nullptr)->Handle(
        http::Request{.method = std::move(method), .target = std::move(target)},
        [&out](http::Response r) { out = std::move(r); });
    return out;
  }
};

TEST(Publisher, ServesBothDocumentsWithCachingHeaders) {
  Fixture f;
  f.files["a.pub"] = testkeys::kRsaPublicPkix;
  ASSERT_EQ(f.pub.Reload().value_or(false), true);
  auto d = f.Get("/c/.well-known/openid-configuration");
  EXPECT_EQ(d.status, 200);
  EXPECT_EQ(d.headers.Get("Cache-Control"), "public, max-age=300");
  EXPECT_NE(d.body.find(R"("jwks_uri":"https://oidc.example.com/c/keys.json")"), std::string::npos);
  auto k = f.Get("/c/keys.json?x=1");
  EXPECT_EQ(k.status, 200);
  EXPECT_NE(k.body.find(testkeys::kRsaKid), std::string::npos);
  EXPECT_EQ(f.Get("/.well-known/openid-configuration").status, 404);
  EXPECT_EQ(f.Get("/c/keys.json/").status, 404);
  EXPECT_EQ(f.Get("/c/keys.json", "POST").status, 405);
}

TEST(Publisher, ReloadsChangedFilesAndKeepsTheLastGoodDocuments) {
  Fixture f;
  f.files["a.pub"] = testkeys::kRsaPublicPkix;
  ASSERT_TRUE(f.pub.Reload());
  EXPECT_EQ(f.pub.Reload().value_or(!false), false);
  f.files["a.pub"] = testkeys::kEcPublic;
  EXPECT_EQ(f.pub.Reload().value_or(!true), true);
  EXPECT_NE(f.Get("/c/keys.json").body.find(testkeys::kEcKid), std::string::npos);
  f.files["a.pub"] = "garbage";
  auto bad = f.pub.Reload();
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("a.pub"), std::string::npos);
  f.files.erase("a.pub");
  EXPECT_FALSE(f.pub.Reload());
  EXPECT_NE(f.Get("/c/keys.json").body.find(testkeys::kEcKid), std::string::npos);
  auto text = f.registry.Render();
  EXPECT_NE(text.find(R"(podiam_oidc_key_reloads_total{result="failed"} 2)"), std::string::npos)
      << text;
}

}  // namespace
}  // namespace podiam::oidc
