#include "podiam/metadata/imds_path.hpp"

#include <gtest/gtest.h>
#include <re2/re2.h>

#include <map>
#include <nlohmann/json.hpp>

#include "podiam/metadata/imds_handler.hpp"
#include "podiam/testing/fake_clock.hpp"
#include "podiam/testing/fake_random.hpp"

namespace podiam::metadata {
namespace {

TEST(ImdsPathTest, VersionsAreLatestOneDotZeroAndRealDatesFrom2007) {
  for (const char* v : {"latest", "1.0", "2007-01-19", "2012-01-12", "2016-09-02", "2022-09-24",
                        "2024-02-29", "2031-12-31"}) {
    EXPECT_TRUE(IsImdsVersion(v)) << v;
  }
  for (const char* v : {"", "LATEST", "Latest", "1.1", "1", "2007-01-18", "2006-12-31", "2016-9-02",
                        "2016-09-2", "2016-13-01", "2016-00-10", "2016-02-30", "2023-02-29",
                        "2016-09-02x", "2016/09/02", "+016-09-02", "meta-data"}) {
    EXPECT_FALSE(IsImdsVersion(v)) << v;
  }
}

TEST(ImdsPathTest, NormalisationAcceptsOnlyCanonicalPathsAndDropsOneTrailingSlash) {
  EXPECT_EQ(NormalizeImdsPath("/"), "/");
  EXPECT_EQ(NormalizeImdsPath("/latest"), "/latest");
  EXPECT_EQ(NormalizeImdsPath("/latest/"), "/latest");
  EXPECT_EQ(NormalizeImdsPath("/latest/meta-data/placement/availability-zone/"),
            "/latest/meta-data/placement/availability-zone");
  EXPECT_EQ(NormalizeImdsPath("/2016-09-02/meta-data/network/interfaces/macs/0e:49:61:0f:c3:11"),
            "/2016-09-02/meta-data/network/interfaces/macs/0e:49:61:0f:c3:11");
  for (const char* path : {"",
                           "latest/meta-data",
                           "//",
                           "//latest/meta-data",
                           "/latest//meta-data",
                           "/latest/meta-data//",
                           "/latest/./meta-data",
                           "/latest/meta-data/.",
                           "/latest/meta-data/iam/security-credentials/..",
                           "/latest/%2e%2e/user-data",
                           "/latest/meta-data/%69am/info",
                           "/latest/meta-data/iam%2Fsecurity-credentials",
                           "/latest/meta-data\\iam",
                           "/latest/meta-data/iam/security-credentials/*",
                           "/latest/meta-data/a b",
                           "/latest/meta-data/\x01",
                           "/latest/meta-data/\xc3\xa9",
                           "/LATEST/meta-data/iam/security-credentials/app",
                           "/Latest/meta-data",
                           "/2016-02-30/meta-data",
                           "/v1/meta-data",
                           "/nope",
                           "http://169.254.169.254/latest/user-data",
                           "*"}) {
    EXPECT_EQ(NormalizeImdsPath(path), std::nullopt) << path;
  }
}

TEST(ImdsPathTest, CredentialRoutesWorkUnderEveryVersionTheTokenOnlyUnderLatest) {
  std::string role;
  for (const char* v : {"latest", "1.0", "2007-01-19", "2012-01-12", "2016-09-02", "2022-09-24"}) {
    std::string base = std::string("/") + v + "/meta-data/iam";
    EXPECT_EQ(ClassifyImdsPath(base, nullptr), Route::kIam) << v;
    EXPECT_EQ(ClassifyImdsPath(base + "/", nullptr), Route::kIam) << v;
    EXPECT_EQ(ClassifyImdsPath(base + "/info", nullptr), Route::kIamInfo) << v;
    EXPECT_EQ(ClassifyImdsPath(base + "/security-credentials", nullptr), Route::kRoleList) << v;
    EXPECT_EQ(ClassifyImdsPath(base + "/security-credentials/", nullptr), Route::kRoleList) << v;
    EXPECT_EQ(ClassifyImdsPath(base + "/security-credentials-extended/", nullptr), Route::kRoleList)
        << v;
    role.clear();
    EXPECT_EQ(ClassifyImdsPath(base + "/security-credentials/app", &role), Route::kCredentials)
        << v;
    EXPECT_EQ(role, "app");
    role.clear();
    EXPECT_EQ(ClassifyImdsPath(base + "/security-credentials-extended/app/", &role),
              Route::kCredentialsExtended)
        << v;
    EXPECT_EQ(role, "app");
  }
  EXPECT_EQ(ClassifyImdsPath("/latest/api/token", nullptr), Route::kToken);
  EXPECT_EQ(ClassifyImdsPath("/latest/api/token/", nullptr), Route::kToken);
  for (const char* path : {"/2016-09-02/api/token", "/1.0/api/token", "/LATEST/api/token",
                           "/latest/api/token/x", "/latest//api/token", "/latest/api/./token"}) {
    EXPECT_EQ(ClassifyImdsPath(path, nullptr), Route::kOther) << path;
  }
}

TEST(ImdsPathTest, TricksAndUnknownVersionsAreNoRoute) {
  for (const char* path : {"/LATEST/meta-data/IAM/security-credentials/app",
                           "/latest/meta-data/IAM/security-credentials/app",
                           "/latest/meta-data/iam/Security-Credentials/app",
                           "/2016-09-02/meta-data/iam/security-credentials/app/extra",
                           "/latest/meta-data/iam/security-credentials//",
                           "/latest/meta-data/iam/security-credentialsX",
                           "/latest/meta-data/iam/security-credentials/%2e%2e",
                           "/latest/meta-data/iam/security-credentials/app%2f..%2fadmin",
                           "/latest/./meta-data/iam/security-credentials/app",
                           "/latest/meta-data/iam/security-credentials/../security-credentials/x",
                           "//latest/meta-data/iam/security-credentials/app",
                           "/2006-01-01/meta-data/iam/security-credentials/app",
                           "/2016-09-02x/meta-data/iam/security-credentials/app",
                           "/meta-data/iam/security-credentials/app", "/", "/latest",
                           "/latest/meta-data", "/2016-09-02/meta-data/"}) {
    std::string role = "untouched";
    EXPECT_EQ(ClassifyImdsPath(path, &role), Route::kOther) << path;
    EXPECT_EQ(role, "untouched") << path;
  }
}

TEST(ImdsPathTest, HardDenyIsCaseInsensitiveAndCoversEverythingButMetadataAndDynamic) {
  for (const char* path :
       {// credentials of any kind, under any version and any case
        "/latest/meta-data/iam/info", "/2016-09-02/meta-data/iam/security-credentials/app",
        "/latest/meta-data/IAM/security-credentials/app", "/latest/meta-data/Iam/info",
        "/1.0/meta-data/identity-credentials/ec2/security-credentials/ec2-instance",
        "/latest/meta-data/Identity-Credentials/ec2/info",
        "/latest/meta-data/placement/security-credentials",
        // signed identity documents
        "/latest/dynamic/instance-identity/pkcs7", "/2016-09-02/dynamic/instance-identity/pkcs7",
        "/latest/dynamic/instance-identity/signature", "/latest/dynamic/instance-identity/rsa2048",
        "/latest/dynamic/instance-identity/PKCS7", "/latest/dynamic/instance-identity/RSA2048/",
        // user data, token, listings, anything outside meta-data/ and dynamic/
        "/latest/user-data", "/latest/user-data/", "/2016-09-02/user-data", "/latest/USER-DATA",
        "/latest/meta-data/user-data", "/latest/api/token", "/latest/meta-data/api/token", "/",
        "/latest", "/latest/meta-data", "/latest/meta-data/", "/latest/dynamic",
        "/latest/META-DATA/placement/region", "/latest/other/x", "/1.0/unknown",
        // not canonical
        "/latest/meta-data/%69am/info", "/latest/meta-data/../user-data", "/latest//dynamic/x",
        "/latest/./meta-data/placement/region", "/latest/meta-data/placement/region//",
        "/LATEST/meta-data/placement/region", "/2006-01-01/meta-data/placement/region"}) {
    EXPECT_TRUE(HardDeniedImdsPath(path)) << path;
  }
  for (const char* path :
       {"/latest/meta-data/placement/region", "/2016-09-02/meta-data/placement/availability-zone/",
        "/latest/dynamic/instance-identity/document", "/latest/meta-data/hostname",
        "/1.0/meta-data/local-ipv4"}) {
    EXPECT_FALSE(HardDeniedImdsPath(path)) << path;
  }
}

TEST(ImdsPathTest, DefaultAllowListIsTheThreeRegionDocumentsUnderAnyVersion) {
  for (const char* path :
       {"/latest/meta-data/placement/region", "/latest/meta-data/placement/availability-zone/",
        "/latest/dynamic/instance-identity/document", "/2016-09-02/meta-data/placement/region",
        "/1.0/dynamic/instance-identity/document/"}) {
    EXPECT_TRUE(InDefaultAllowList(path)) << path;
    EXPECT_TRUE(PassthroughAllowed(path, true, nullptr)) << path;
    EXPECT_FALSE(PassthroughAllowed(path, false, nullptr)) << path;
  }
  for (const char* path :
       {"/latest/meta-data/placement/availability-zone-id", "/latest/meta-data/placement",
        "/latest/meta-data/hostname", "/latest/dynamic/instance-identity/pkcs7",
        "/latest/dynamic/instance-identity", "/latest/Meta-Data/placement/region",
        "/latest/meta-data/placement/Region", "/latest/meta-data/placement/%72egion",
        "/latest/meta-data/placement/./region"}) {
    EXPECT_FALSE(InDefaultAllowList(path)) << path;
    EXPECT_FALSE(PassthroughAllowed(path, true, nullptr)) << path;
  }
}

TEST(ImdsPathTest, AllowAllPatternNeverOpensTheHardDenyList) {
  re2::RE2 all("^(?:.*)$");
  for (const char* path :
       {"/latest/user-data", "/2016-09-02/dynamic/instance-identity/pkcs7",
        "/LATEST/meta-data/IAM/security-credentials/app", "/latest/%2e%2e/user-data",
        "/latest/meta-data/%2e%2e/user-data", "//latest/user-data", "/latest/./meta-data/iam/info",
        "/latest/meta-data/iam/security-credentials/app", "/latest/api/token", "/", "/latest"}) {
    EXPECT_FALSE(PassthroughAllowed(path, true, &all)) << path;
  }
  EXPECT_TRUE(PassthroughAllowed("/latest/meta-data/hostname", false, &all));
  EXPECT_TRUE(PassthroughAllowed("/2012-01-12/meta-data/instance-id/", false, &all));
}

// --- The handler with these paths -------------------------------------------------------------

class OnePod final : public CallerDirectory {
 public:
  OnePod() {
    caller_.namespace_name = "team-a";
    caller_.pod_name = "web-1";
    caller_.pod_uid = "uid-1";
    caller_.ip = "10.0.0.1";
    caller_.decision.outcome = identity::Outcome::kAllowed;
    caller_.decision.role = *aws::ParseRoleArn("arn:aws:iam::123456789012:role/k8s/app");
    caller_.decision.source = identity::RoleSource::kPod;
  }
  std::shared_ptr<const Caller> Find(std::string_view ip) override {
    return ip == caller_.ip ? std::make_shared<const Caller>(caller_) : nullptr;
  }
  void Await(std::string_view ip, SteadyTime /*deadline*/, AwaitCallback done) override {
    done({.caller = Find(ip)});
  }
  bool Ready() override { return true; }
  bool IsNodeAddress(std::string_view /*ip*/) override { return false; }

 private:
  Caller caller_;
};

class FixedCredentials final : public CredentialSource {
 public:
  std::shared_ptr<const aws::Credentials> Cached(const Caller& /*caller*/) override {
    return std::make_shared<const aws::Credentials>(creds_);
  }
  Result<aws::Credentials> Fetch(const Caller& /*caller*/, SteadyTime /*deadline*/) override {
    return creds_;
  }

 private:
  aws::Credentials creds_{.access_key_id = "ASIAPOD",
                          .secret_access_key = "pod-secret",
                          .session_token = "pod-token",
                          .expiration = testing::FakeClock().Now() + std::chrono::hours(1)};
};

class RecordingUpstream final : public MetadataUpstream {
 public:
  Result<http::Response> Get(std::string_view path, SteadyTime /*deadline*/) override {
    paths.emplace_back(path);
    return http::Response::Text(200, "us-east-1");
  }
  std::vector<std::string> paths;
};

class ImdsHandlerPathsTest : public ::testing::Test {
 protected:
  std::shared_ptr<ImdsHandler> Make(ImdsOptions options, MetadataUpstream* upstream) {
    auto h = ImdsHandler::Create(directory_, creds_, *issuer_, clock_, metrics_, std::move(options),
                                 upstream);
    EXPECT_TRUE(h);
    return *h;
  }
  http::Response Get(http::Handler& h, std::string target) {
    http::Request req{.method = "GET", .target = std::move(target)};
    req.peer.address = "10.0.0.1";
    http::Response out;
    out.status = -1;
    h.Handle(std::move(req), [&](http::Response r) { out = std::move(r); });
    return out;
  }

  testing::FakeClock clock_;
  testing::FakeRandom random_;
  metrics::Registry registry_;
  ImdsMetrics metrics_{registry_};
  std::unique_ptr<ImdsTokenIssuer> issuer_ = *ImdsTokenIssuer::Create(random_, clock_);
  OnePod directory_;
  FixedCredentials creds_;
};

TEST_F(ImdsHandlerPathsTest, DatedVersionsServeThePodsOwnCredentials) {
  auto h = Make({}, nullptr);
  for (const char* v : {"2012-01-12", "2016-09-02", "1.0", "2022-09-24"}) {
    std::string base = std::string("/") + v + "/meta-data/iam/security-credentials/";
    EXPECT_EQ(Get(*h, base).body, "app") << v;
    auto creds = Get(*h, base + "app");
    ASSERT_EQ(creds.status, 200) << v;
    EXPECT_EQ(nlohmann::json::parse(creds.body)["SecretAccessKey"], "pod-secret");
    EXPECT_EQ(Get(*h, base + "admin").status, 404) << v;
  }
  EXPECT_EQ(Get(*h, "/LATEST/meta-data/IAM/security-credentials/app").status, 404);
  EXPECT_EQ(Get(*h, "/2006-01-01/meta-data/iam/security-credentials/app").status, 404);
}

TEST_F(ImdsHandlerPathsTest, DefaultAllowListPassesRegionDocumentsOnly) {
  RecordingUpstream upstream;
  auto h = Make({}, &upstream);
  EXPECT_EQ(Get(*h, "/latest/meta-data/placement/region").body, "us-east-1");
  EXPECT_EQ(Get(*h, "/latest/meta-data/placement/availability-zone/").status, 200);
  EXPECT_EQ(Get(*h, "/2016-09-02/dynamic/instance-identity/document").status, 200);
  for (const char* path :
       {"/latest/meta-data/hostname", "/latest/user-data",
        "/2016-09-02/dynamic/instance-identity/pkcs7",
        "/latest/dynamic/instance-identity/signature", "/latest/META-DATA/placement/region",
        "/latest/meta-data/placement/%72egion", "/latest/./meta-data/placement/region",
        "//latest/meta-data/placement/region", "/", "/latest", "/latest/meta-data/"}) {
    EXPECT_EQ(Get(*h, path).status, 404) << path;
  }
  EXPECT_EQ(upstream.paths,
            (std::vector<std::string>{"/latest/meta-data/placement/region",
                                      "/latest/meta-data/placement/availability-zone/",
                                      "/2016-09-02/dynamic/instance-identity/document"}));
}

TEST_F(ImdsHandlerPathsTest, DefaultAllowListOffOrNoUpstreamIs404) {
  RecordingUpstream upstream;
  auto off = Make({.default_allow_list = false}, &upstream);
  auto absent = Make({}, nullptr);
  for (const char* path :
       {"/latest/meta-data/placement/region", "/latest/dynamic/instance-identity/document"}) {
    EXPECT_EQ(Get(*off, path).status, 404) << path;
    EXPECT_EQ(Get(*absent, path).status, 404) << path;
  }
  EXPECT_TRUE(upstream.paths.empty());
}

TEST_F(ImdsHandlerPathsTest, AllowAllNeverPassesDeniedOrTrickPaths) {
  RecordingUpstream upstream;
  auto h = Make({.allow_path = ".*"}, &upstream);
  for (const char* path :
       {"/latest/user-data",
        "/latest/user-data/",
        "/2016-09-02/user-data",
        "/2016-09-02/dynamic/instance-identity/pkcs7",
        "/latest/dynamic/instance-identity/rsa2048",
        "/latest/dynamic/instance-identity/Signature",
        "/LATEST/meta-data/IAM/security-credentials/x",
        "/latest/meta-data/IAM/info",
        "/latest/%2e%2e/user-data",
        "/latest/meta-data/%2e%2e/user-data",
        "//latest/user-data",
        "/latest//user-data",
        "/latest/./meta-data/iam/info",
        "/latest/./user-data",
        "/latest/meta-data/identity-credentials/ec2/info",
        "/2016-09-02/meta-data/identity-credentials/ec2/security-credentials/ec2-instance",
        "/",
        "/latest",
        "/latest/meta-data",
        "/nope/meta-data/hostname"}) {
    EXPECT_EQ(Get(*h, path).status, 404) << path;
  }
  EXPECT_TRUE(upstream.paths.empty()) << upstream.paths.front();
  EXPECT_EQ(Get(*h, "/2012-01-12/meta-data/hostname").status, 200);
}

}  // namespace
}  // namespace podiam::metadata
