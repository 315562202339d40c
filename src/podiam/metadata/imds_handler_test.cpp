#include "podiam/metadata/imds_handler.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <mutex>
#include <nlohmann/json.hpp>

#include "podiam/testing/fake_clock.hpp"
#include "podiam/testing/fake_random.hpp"

namespace podiam::metadata {
namespace {

using ::testing::HasSubstr;

class FakeDirectory final : public CallerDirectory {
 public:
  std::shared_ptr<const Caller> Find(std::string_view ip) override {
    std::lock_guard lock(mu_);
    auto it = pods_.find(std::string(ip));
    return it == pods_.end() ? nullptr : it->second;
  }
  void Await(std::string_view ip, SteadyTime /*deadline*/, AwaitCallback done) override {
    ++awaits;
    if (on_await) {
      on_await();
    }
    done({.caller = Find(ip), .overloaded = overloaded});
  }
  bool Ready() override { return ready; }
  bool IsNodeAddress(std::string_view ip) override { return ip == "192.0.2.1"; }
  bool ready = true;
  bool overloaded = false;
  void Put(Caller c) {
    std::string ip = c.ip;
    std::lock_guard lock(mu_);
    pods_[ip] = std::make_shared<const Caller>(std::move(c));
  }
  int awaits = 0;
  std::function<void()> on_await;

 private:
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<const Caller>> pods_;
};

class FakeCredentials final : public CredentialSource {
 public:
  std::shared_ptr<const aws::Credentials> Cached(const Caller& c) override {
    auto it = cache.find(c.decision.role->ToString());
    return it == cache.end() ? nullptr : std::make_shared<const aws::Credentials>(it->second);
  }
  Result<aws::Credentials> Fetch(const Caller& c, SteadyTime /*deadline*/) override {
    ++fetches;
    if (error) {
      return tl::unexpected(*error);
    }
    return cache[c.decision.role->ToString()] = next;
  }
  std::map<std::string, aws::Credentials> cache;
  aws::Credentials next;
  std::optional<Error> error;
  int fetches = 0;
};

class FakeUpstream final : public MetadataUpstream {
 public:
  Result<http::Response> Get(std::string_view path, SteadyTime /*deadline*/) override {
    paths.emplace_back(path);
    return http::Response::Text(200, "us-east-1a");
  }
  std::vector<std::string> paths;
};

identity::Decision Allowed(std::string arn) {
  identity::Decision d;
  d.outcome = identity::Outcome::kAllowed;
  d.role = *aws::ParseRoleArn(arn);
  d.source = identity::RoleSource::kPod;
  return d;
}

class ImdsHandlerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    issuer_ = *ImdsTokenIssuer::Create(random_, clock_);
    directory_.Put({.namespace_name = "team-a",
                    .pod_name = "web-1",
                    .pod_uid = "uid-1",
                    .ip = "10.0.0.1",
                    .decision = Allowed("arn:aws:iam::123456789012:role/k8s/app")});
    creds_.next = {
        .access_key_id = "ASIAEXAMPLE",
        .secret_access_key = "secret/key+value",
        .session_token = "token-value",
        .expiration = clock_.Now() + std::chrono::minutes(61) + std::chrono::milliseconds(669)};
  }

  std::shared_ptr<ImdsHandler> Make(ImdsOptions options = {},
                                    MetadataUpstream* upstream = nullptr) {
    auto h = ImdsHandler::Create(directory_, creds_, *issuer_, clock_, metrics_, std::move(options),
                                 upstream);
    EXPECT_TRUE(h);
    return *h;
  }

  http::Response Call(http::Handler& h, std::string method, std::string target,
                      std::vector<std::pair<std::string, std::string>> headers = {},
                      std::string ip = "10.0.0.1") {
    http::Request req{.method = std::move(method), .target = std::move(target)};
    req.peer.address = std::move(ip);
    for (auto& [k, v] : headers) {
      req.headers.Add(k, v);
    }
    http::Response out;
    out.status = -1;
    h.Handle(std::move(req), [&](http::Response r) { out = std::move(r); });
    return out;
  }

  std::string Token(http::Handler& h, std::string ip = "10.0.0.1") {
    return Call(h, "PUT", "/latest/api/token", {{"X-aws-ec2-metadata-token-ttl-seconds", "21600"}},
                std::move(ip))
        .body;
  }

  double Rejections(std::string_view reason) {
    return metrics_.rejections.WithLabels({reason}).Value();
  }

  testing::FakeClock clock_;
  testing::FakeRandom random_;
  metrics::Registry registry_;
  ImdsMetrics metrics_{registry_};
  std::unique_ptr<ImdsTokenIssuer> issuer_;
  FakeDirectory directory_;
  FakeCredentials creds_;
};

TEST_F(ImdsHandlerTest, Imdsv2FlowServesRoleNameThenCredentials) {
  auto h = Make();
  auto put =
      Call(*h, "PUT", "/latest/api/token", {{"X-aws-ec2-metadata-token-ttl-seconds", "300"}});
  ASSERT_EQ(put.status, 200);
  EXPECT_EQ(put.headers.Get("X-aws-ec2-metadata-token-ttl-seconds"), "300");
  std::vector<std::pair<std::string, std::string>> auth = {{"X-aws-ec2-metadata-token", put.body}};

  auto list = Call(*h, "GET", "/latest/meta-data/iam/security-credentials/", auth);
  EXPECT_EQ(list.status, 200);
  EXPECT_EQ(list.body, "app");  // bare name, no trailing newline

  auto creds = Call(*h, "GET", "/latest/meta-data/iam/security-credentials/app", auth);
  ASSERT_EQ(creds.status, 200) << creds.body;
  auto json = nlohmann::json::parse(creds.body);
  EXPECT_EQ(json["Code"], "Success");
  EXPECT_EQ(json["Type"], "AWS-HMAC");
  EXPECT_EQ(json["AccessKeyId"], "ASIAEXAMPLE");
  EXPECT_EQ(json["SecretAccessKey"], "secret/key+value");
  EXPECT_EQ(json["Token"], "token-value");
  EXPECT_EQ(json["Expiration"], "2026-01-01T01:01:00Z");  // whole seconds, Z
  EXPECT_EQ(json["LastUpdated"], "2026-01-01T00:00:00Z");
  EXPECT_FALSE(json.contains("AccountId"));
  EXPECT_EQ(creds_.fetches, 1);

  // Cached now: served inline, no second fetch; trailing slash variant works.
  EXPECT_EQ(Call(*h, "GET", "/latest/meta-data/iam/security-credentials/app/", auth).status, 200);
  EXPECT_EQ(creds_.fetches, 1);
  EXPECT_EQ(metrics_.requests.WithLabels({"credentials", "200"}).Value(), 2);
  EXPECT_EQ(metrics_.tokens_issued.Value(), 1);
}

TEST_F(ImdsHandlerTest, CredentialDocumentBytesAndEscaping) {
  auto h = Make();
  auto plain = Call(*h, "GET", "/latest/meta-data/iam/security-credentials/app");
  ASSERT_EQ(plain.status, 200) << plain.body;
  EXPECT_EQ(plain.body,
            R"({"Code":"Success","LastUpdated":"2026-01-01T00:00:00Z","Type":"AWS-HMAC",)"
            R"("AccessKeyId":"ASIAEXAMPLE","SecretAccessKey":"secret/key+value",)"
            R"("Token":"token-value","Expiration":"2026-01-01T01:01:00Z"})");

  // Fields that are not plain printable ASCII are escaped (and bad UTF-8 replaced), never copied.
  creds_.cache.clear();
  creds_.next.session_token = "quote\"back\\slash\ttab\xff";
  auto odd = Call(*h, "GET", "/latest/meta-data/iam/security-credentials/app");
  ASSERT_EQ(odd.status, 200) << odd.body;
  EXPECT_THAT(odd.body, HasSubstr("\"Token\":\"quote\\\"back\\\\slash\\ttab\xEF\xBF\xBD\""));
  EXPECT_EQ(nlohmann::json::parse(odd.body)["Token"], "quote\"back\\slash\ttab\xEF\xBF\xBD");
}

TEST_F(ImdsHandlerTest, ExtendedPathAddsAccountIdAndIsNeverProxied) {
  FakeUpstream upstream;
  auto h = Make({.allow_path = ".*"}, &upstream);
  auto r = Call(*h, "GET", "/latest/meta-data/iam/security-credentials-extended/app");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(nlohmann::json::parse(r.body)["AccountId"], "123456789012");
  EXPECT_EQ(Call(*h, "GET", "/latest/meta-data/iam/security-credentials-extended/").body, "app");
  EXPECT_EQ(Call(*h, "GET", "/latest/meta-data/iam/security-credentials-extended/other").status,
            404);
  EXPECT_TRUE(upstream.paths.empty());
}

TEST_F(ImdsHandlerTest, AnotherRolesNameIs404) {
  auto h = Make();
  EXPECT_EQ(Call(*h, "GET", "/latest/meta-data/iam/security-credentials/admin").status, 404);
  EXPECT_EQ(Call(*h, "GET", "/latest/meta-data/iam/security-credentials/k8s/app").status, 404);
  EXPECT_EQ(Rejections("wrong_role"), 1);
  EXPECT_EQ(creds_.fetches, 0);
}

TEST_F(ImdsHandlerTest, ForwardedRequestsAre403) {
  auto h = Make();
  EXPECT_EQ(Call(*h, "PUT", "/latest/api/token",
                 {{"X-aws-ec2-metadata-token-ttl-seconds", "60"}, {"X-Forwarded-For", "1.2.3.4"}})
                .status,
            403);
  EXPECT_EQ(Call(*h, "GET", "/latest/meta-data/iam/security-credentials/app",
                 {{"x-forwarded-for", "10.0.0.9"}})
                .status,
            403);
  EXPECT_EQ(Rejections("forwarded"), 2);
}

TEST_F(ImdsHandlerTest, TokenRules) {
  auto h = Make();
  for (const char* ttl : {"0", "21601", "abc", ""}) {
    auto r = Call(*h, "PUT", "/latest/api/token", {{"X-aws-ec2-metadata-token-ttl-seconds", ttl}});
    EXPECT_EQ(r.status, 400) << ttl;
    EXPECT_THAT(r.body, HasSubstr("1 to 21600"));
  }
  EXPECT_EQ(Call(*h, "PUT", "/latest/api/token").status, 400);
  EXPECT_EQ(Call(*h, "GET", "/latest/api/token").status, 405);

  auto bad = Call(*h, "GET", "/latest/meta-data/iam/security-credentials/",
                  {{"X-aws-ec2-metadata-token", "garbage"}});
  EXPECT_EQ(bad.status, 401);

  // A token issued to another pod is useless here.
  directory_.Put({.pod_uid = "uid-2",
                  .ip = "10.0.0.2",
                  .decision = Allowed("arn:aws:iam::123456789012:role/k8s/other")});
  std::string other_token = Token(*h, "10.0.0.2");
  EXPECT_EQ(Call(*h, "GET", "/latest/meta-data/iam/security-credentials/",
                 {{"X-aws-ec2-metadata-token", other_token}})
                .status,
            401);

  std::string token = Token(*h);
  clock_.Advance(std::chrono::seconds(21600));
  auto expired = Call(*h, "GET", "/latest/meta-data/iam/security-credentials/",
                      {{"X-aws-ec2-metadata-token", token}});
  EXPECT_EQ(expired.status, 401);
  EXPECT_THAT(expired.body, HasSubstr("expired"));
}

TEST_F(ImdsHandlerTest, Imdsv1DenyRequiresAToken) {
  auto h = Make({.imdsv1 = false});
  auto r = Call(*h, "GET", "/latest/meta-data/iam/security-credentials/");
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(Rejections("no_token"), 1);
  EXPECT_EQ(Call(*h, "GET", "/latest/meta-data/iam/security-credentials/",
                 {{"X-aws-ec2-metadata-token", Token(*h)}})
                .status,
            200);
}

TEST_F(ImdsHandlerTest, NoRoleDeniedAndInvalidGetNoCredentials) {
  auto h = Make();
  identity::Decision none;
  none.outcome = identity::Outcome::kNoRole;
  directory_.Put({.pod_uid = "u3", .ip = "10.0.0.3", .decision = none});
  EXPECT_EQ(Call(*h, "GET", "/latest/meta-data/iam/security-credentials/", {}, "10.0.0.3").status,
            404);

  identity::Decision denied = Allowed("arn:aws:iam::123456789012:role/k8s/admin");
  denied.outcome = identity::Outcome::kDenied;
  denied.reason = "namespace policy refuses it";
  directory_.Put({.pod_uid = "u4", .ip = "10.0.0.4", .decision = denied});
  auto r = Call(*h, "GET", "/latest/meta-data/iam/security-credentials/admin", {}, "10.0.0.4");
  EXPECT_EQ(r.status, 403);
  EXPECT_THAT(r.body, HasSubstr("namespace policy refuses it"));

  identity::Decision invalid;
  invalid.outcome = identity::Outcome::kInvalid;
  directory_.Put({.pod_uid = "u5", .ip = "10.0.0.5", .decision = invalid});
  EXPECT_EQ(Call(*h, "GET", "/latest/meta-data/iam/info", {}, "10.0.0.5").status, 403);
  EXPECT_EQ(creds_.fetches, 0);
  EXPECT_EQ(Rejections("no_role"), 1);
  EXPECT_EQ(Rejections("denied"), 1);
  EXPECT_EQ(Rejections("invalid_role"), 1);
}

TEST_F(ImdsHandlerTest, UnknownPodWaitsThenIs404AndNewPodIsServedOnceVisible) {
  auto h = Make();
  auto r = Call(*h, "GET", "/latest/meta-data/iam/security-credentials/", {}, "10.0.0.99");
  EXPECT_EQ(r.status, 404);
  EXPECT_THAT(r.body, HasSubstr("no pod with IP 10.0.0.99"));
  EXPECT_EQ(directory_.awaits, 1);

  // The pod appears while the request waits (the watch delivers it).
  directory_.on_await = [&] {
    directory_.Put({.pod_uid = "new",
                    .ip = "10.0.0.50",
                    .decision = Allowed("arn:aws:iam::123456789012:role/k8s/job")});
  };
  auto job = Call(*h, "GET", "/latest/meta-data/iam/security-credentials/job", {}, "10.0.0.50");
  EXPECT_EQ(job.status, 200);
}

TEST_F(ImdsHandlerTest, CredentialFailureIs503WithTheUpstreamCode) {
  auto h = Make();
  creds_.error = Error(ErrorCode::kPermissionDenied, "not authorized to assume", "AccessDenied");
  auto r = Call(*h, "GET", "/latest/meta-data/iam/security-credentials/app");
  EXPECT_EQ(r.status, 503);
  auto json = nlohmann::json::parse(r.body);
  EXPECT_EQ(json["Code"], "AccessDenied");
  EXPECT_EQ(json["Message"], "not authorized to assume");
  EXPECT_EQ(Rejections("credentials_unavailable"), 1);
}

// Found by fuzz/imds_request_fuzz: a credential error whose message (from STS) is not valid UTF-8
// threw out of Handle() (first from the warning's text log line, then from the 503 JSON body).
TEST_F(ImdsHandlerTest, CredentialFailureWithInvalidUtf8MessageIsStillA503) {
  auto h = Make();
  creds_.error = Error(ErrorCode::kUnavailable, "bad \xff\xfe bytes", "Throttling\xc3", true);
  http::Response r;
  ASSERT_NO_THROW(r = Call(*h, "GET", "/latest/meta-data/iam/security-credentials/app"));
  EXPECT_EQ(r.status, 503);
  auto json = nlohmann::json::parse(r.body);
  EXPECT_EQ(json["Message"], "bad \xef\xbf\xbd\xef\xbf\xbd bytes");
  EXPECT_EQ(json["Code"], "Throttling\xef\xbf\xbd");
}

TEST_F(ImdsHandlerTest, EverythingElseIs404UnlessExplicitlyAllowedAndNeverCredentials) {
  FakeUpstream upstream;
  auto closed = Make({}, &upstream);
  for (const char* path :
       {"/latest/user-data", "/latest/meta-data/", "/latest/meta-data/hostname",
        "/latest/meta-data/identity-credentials/ec2/security-credentials/ec2-instance", "/",
        "/latest"}) {
    EXPECT_EQ(Call(*closed, "GET", path).status, 404) << path;
  }
  auto open = Make({.allow_path = ".*"}, &upstream);
  EXPECT_EQ(Call(*open, "GET", "/latest/meta-data/placement/availability-zone/").body,
            "us-east-1a");
  for (const char* path : {"/latest/user-data", "/latest/meta-data/identity-credentials/ec2/info",
                           "/latest/meta-data/iam/security-credentials/../x",
                           "/latest/meta-data//iam/x", "/latest/meta-data/%69am/info"}) {
    EXPECT_EQ(Call(*open, "GET", path).status, 404) << path;
  }
  EXPECT_EQ(upstream.paths,
            std::vector<std::string>{"/latest/meta-data/placement/availability-zone/"});
}

TEST_F(ImdsHandlerTest, OnlyGetAndHeadOnMetadataPaths) {
  auto h = Make();
  auto r = Call(*h, "POST", "/latest/meta-data/iam/security-credentials/app");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.headers.Get("Allow"), "GET, HEAD");
  EXPECT_EQ(Call(*h, "DELETE", "/latest/api/token").status, 405);
  EXPECT_EQ(Call(*h, "HEAD", "/latest/meta-data/iam/security-credentials/").status, 200);
}

TEST_F(ImdsHandlerTest, IamInfoIsSynthesisedForThePodsRole) {
  auto h = Make();
  auto info = Call(*h, "GET", "/latest/meta-data/iam/info");
  ASSERT_EQ(info.status, 200);
  auto json = nlohmann::json::parse(info.body);
  EXPECT_EQ(json["Code"], "Success");
  EXPECT_EQ(json["InstanceProfileArn"], "arn:aws:iam::123456789012:instance-profile/app");
  EXPECT_EQ(json["InstanceProfileId"].get<std::string>().substr(0, 4), "AIPA");
  EXPECT_EQ(Call(*h, "GET", "/latest/meta-data/iam/").body, "info\nsecurity-credentials/");
}

TEST_F(ImdsHandlerTest, InvalidAllowPathIsAStartupError) {
  auto h = ImdsHandler::Create(directory_, creds_, *issuer_, clock_, metrics_,
                               {.allow_path = "(unclosed"});
  ASSERT_FALSE(h);
  EXPECT_THAT(h.error().message(), HasSubstr("--allow-metadata-path"));
}

TEST(ImdsClassifyTest, Routes) {
  std::string role;
  EXPECT_EQ(ImdsHandler::Classify("/latest/api/token", nullptr), Route::kToken);
  EXPECT_EQ(ImdsHandler::Classify("/latest/meta-data/iam/security-credentials", nullptr),
            Route::kRoleList);
  EXPECT_EQ(ImdsHandler::Classify("/latest/meta-data/iam/security-credentials/r/", &role),
            Route::kCredentials);
  EXPECT_EQ(role, "r");
  EXPECT_EQ(ImdsHandler::Classify("/latest/meta-data/iam/security-credentials//", nullptr),
            Route::kOther);
  EXPECT_EQ(ImdsHandler::Classify("/latest/meta-data/iam/security-credentialsX", nullptr),
            Route::kOther);
}

// Until the pod, namespace and ServiceAccount caches are listed no answer is final: a pod whose
// namespace the agent has not seen would otherwise be denied (403 + an Event) on every restart.
TEST_F(ImdsHandlerTest, NothingIsDecidedBeforeTheDirectoryIsReady) {
  auto h = Make();
  directory_.ready = false;
  for (const char* path : {"/latest/meta-data/iam/security-credentials/",
                           "/latest/meta-data/iam/security-credentials/app"}) {
    auto r = Call(*h, "GET", path);
    EXPECT_EQ(r.status, 503) << path;
    EXPECT_EQ(nlohmann::json::parse(r.body)["Code"], "NotReady");
  }
  EXPECT_EQ(Call(*h, "GET", "/latest/meta-data/iam/security-credentials/", {}, "10.0.0.99").status,
            503);  // not 404: the pod may simply not be listed yet
  EXPECT_EQ(directory_.awaits, 0);
  EXPECT_EQ(creds_.fetches, 0);
  EXPECT_EQ(Rejections("not_ready"), 3);
  directory_.ready = true;
  EXPECT_EQ(Call(*h, "GET", "/latest/meta-data/iam/security-credentials/").status, 200);
}

TEST_F(ImdsHandlerTest, PendingDecisionIsRetryNotDenial) {
  auto h = Make();
  identity::Decision pending;
  pending.outcome = identity::Outcome::kPending;
  pending.reason = "namespace team-z is not known to the agent yet; retry";
  directory_.Put({.pod_uid = "u7", .ip = "10.0.0.7", .decision = pending});
  auto r = Call(*h, "GET", "/latest/meta-data/iam/security-credentials/", {}, "10.0.0.7");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(nlohmann::json::parse(r.body)["Code"], "Pending");
  EXPECT_EQ(Rejections("pending"), 1);
  EXPECT_EQ(Rejections("denied"), 0);
}

// kube2iam's chart probes GET /healthz on the metadata port, kiam's /ping.
TEST_F(ImdsHandlerTest, HealthPathsAnswerTheNodeOnlyAndEvenBeforeReady) {
  auto h = Make();
  directory_.ready = false;
  auto healthz = Call(*h, "GET", "/healthz", {}, "192.0.2.1");
  EXPECT_EQ(healthz.status, 200);
  EXPECT_EQ(healthz.body, "ok");
  auto ping = Call(*h, "GET", "/ping", {}, "192.0.2.1");
  EXPECT_EQ(ping.status, 200);
  EXPECT_EQ(ping.body, "pong");
  EXPECT_EQ(Call(*h, "HEAD", "/healthz", {}, "192.0.2.1").status, 200);
  directory_.ready = true;
  EXPECT_EQ(Call(*h, "GET", "/healthz", {}, "10.0.0.1").status, 404);  // a pod: nothing special
  EXPECT_EQ(directory_.awaits, 0);
}

TEST_F(ImdsHandlerTest, OverloadIsAnImmediateRetry) {
  // Too many requests already parked in the directory.
  auto h = Make();
  directory_.overloaded = true;
  auto r = Call(*h, "GET", "/latest/meta-data/iam/security-credentials/", {}, "10.0.0.99");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(nlohmann::json::parse(r.body)["Code"], "Busy");
  directory_.overloaded = false;

  // The blocking-work queue refuses this source.
  int offered = 0;
  auto refusing = Make({.offload = [&](std::string_view source, std::function<void()>) {
    EXPECT_EQ(source, "10.0.0.1");
    ++offered;
    return false;
  }});
  auto busy = Call(*refusing, "GET", "/latest/meta-data/iam/security-credentials/app");
  EXPECT_EQ(busy.status, 503);
  EXPECT_EQ(offered, 1);
  EXPECT_EQ(creds_.fetches, 0);
  EXPECT_EQ(Rejections("busy"), 2);
}

// The token is checked once, when the request arrives: a request queued for blocking work is not
// refused because its (then valid) token expired while it waited in the queue.
TEST_F(ImdsHandlerTest, TokenIsVerifiedOnceBeforeBlockingWork) {
  std::function<void()> queued;
  auto h = Make({.offload = [&](std::string_view, std::function<void()> work) {
    queued = std::move(work);
    return true;
  }});
  std::string token =
      Call(*h, "PUT", "/latest/api/token", {{"X-aws-ec2-metadata-token-ttl-seconds", "1"}}).body;
  http::Request req{.method = "GET", .target = "/latest/meta-data/iam/security-credentials/app"};
  req.peer.address = "10.0.0.1";
  req.headers.Add("X-aws-ec2-metadata-token", token);
  http::Response out;
  out.status = -1;
  h->Handle(std::move(req), [&](http::Response r) { out = std::move(r); });
  ASSERT_TRUE(queued);  // not cached: handed to a worker
  EXPECT_EQ(out.status, -1);
  clock_.Advance(std::chrono::seconds(5));  // the token expires while the request waits
  queued();
  EXPECT_EQ(out.status, 200) << out.body;
  EXPECT_EQ(Rejections("bad_token"), 0);
}

}  // namespace
}  // namespace podiam::metadata
