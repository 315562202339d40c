#include "podiam/webhook/admission_handler.hpp"

#include <gtest/gtest.h>

#include <map>

#include "podiam/testing/fake_clock.hpp"
#include "podiam/testing/fake_random.hpp"

namespace podiam::webhook {
namespace {

using Json = nlohmann::json;

class FakeAccounts final : public ServiceAccountDirectory {
 public:
  std::optional<AccountAnnotations> Cached(std::string_view ns, std::string_view name) override {
    auto it = cached.find(std::string(ns) + "/" + std::string(name));
    if (it == cached.end()) {
      return std::nullopt;
    }
    return std::make_shared<const k8s::Annotations>(it->second);
  }
  Result<AccountAnnotations> Fetch(std::string_view ns, std::string_view name,
                                   SteadyTime deadline) override {
    ++fetches;
    last_deadline = deadline;
    if (fetch_error) {
      return tl::unexpected(*fetch_error);
    }
    auto it = remote.find(std::string(ns) + "/" + std::string(name));
    if (it == remote.end()) {
      return AccountAnnotations();
    }
    return std::make_shared<const k8s::Annotations>(it->second);
  }
  std::map<std::string, k8s::Annotations> cached;
  std::map<std::string, k8s::Annotations> remote;
  std::optional<Error> fetch_error;
  int fetches = 0;
  SteadyTime last_deadline{};
};

class FakeAssociations final : public AssociationDirectory {
 public:
  bool Selects(std::string_view ns, std::string_view sa) override {
    return selected.count(std::string(ns) + "/" + std::string(sa)) > 0;
  }
  std::set<std::string> selected;
};

const k8s::Annotations kRole{{"eks.amazonaws.com/role-arn", "arn:aws:iam::111122223333:role/r"}};

std::string Review(const std::string& operation = "CREATE", const std::string& sa = "web",
                   const std::string& extra_container = "") {
  return R"({"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u-1",
    "kind":{"group":"","version":"v1","kind":"Pod"},"resource":{"group":"","version":"v1","resource":"pods"},
    "namespace":"team-a","operation":")" +
         operation + R"(","object":{"metadata":{"name":"p"},"spec":{"serviceAccountName":")" + sa +
         R"(","containers":[{"name":"app")" + extra_container + "}]}}}}";
}

class AdmissionHandlerTest : public ::testing::Test {
 protected:
  http::Response Call(std::string body, std::string content_type = "application/json",
                      std::string method = "POST", std::string target = "/mutate") {
    http::Request r{
        .method = std::move(method), .target = std::move(target), .body = std::move(body)};
    r.headers.Set("Content-Type", content_type);
    http::Response out;
    handler.Handle(std::move(r), [&out](http::Response resp) { out = std::move(resp); });
    return out;
  }
  Json Answer(const std::string& body) {
    auto resp = Call(body);
    EXPECT_EQ(resp.status, 200);
    return Json::parse(resp.body);
  }
  double Count(const std::string& mode, const std::string& result) {
    return metrics.admissions.WithLabels({mode, result}).Value();
  }

  FakeAccounts accounts;
  FakeAssociations associations;
  testing::FakeClock clock;
  testing::FakeRandom random;
  metrics::Registry registry;
  WebhookMetrics metrics{registry};
  AdmissionHandler handler{accounts, associations, clock, random, metrics, {}};
};

TEST_F(AdmissionHandlerTest, CachedAccountWithRoleIsMutated) {
  accounts.cached["team-a/web"] = kRole;
  auto out = Answer(Review());
  EXPECT_EQ(out["response"]["uid"], "u-1");
  EXPECT_EQ(out["response"]["allowed"], true);
  EXPECT_EQ(out["response"]["patchType"], "JSONPatch");
  EXPECT_EQ(accounts.fetches, 0);
  EXPECT_EQ(Count("web_identity", "mutated"), 1);
}

TEST_F(AdmissionHandlerTest, CacheMissReadsTheAccountDirectly) {
  accounts.remote["team-a/web"] = kRole;
  auto out = Answer(Review());
  EXPECT_EQ(out["response"]["patchType"], "JSONPatch");
  EXPECT_EQ(accounts.fetches, 1);
  EXPECT_EQ(accounts.last_deadline, clock.SteadyNow() + std::chrono::seconds(3));
  EXPECT_EQ(metrics.cache_misses.WithLabels({"found"}).Value(), 1);
}

TEST_F(AdmissionHandlerTest, UnreadableAccountIsRefusedWithAMessage) {
  accounts.fetch_error = Error(ErrorCode::kUnavailable, "connection refused");
  auto out = Answer(Review());
  EXPECT_EQ(out["response"]["uid"], "u-1");
  EXPECT_EQ(out["response"]["allowed"], false);
  EXPECT_EQ(out["response"]["status"]["code"], 503);
  std::string message = out["response"]["status"]["message"];
  EXPECT_NE(message.find("ServiceAccount team-a/web"), std::string::npos) << message;
  EXPECT_NE(message.find("connection refused"), std::string::npos) << message;
  EXPECT_EQ(Count("none", "denied"), 1);
  EXPECT_EQ(metrics.cache_misses.WithLabels({"error"}).Value(), 1);
}

TEST_F(AdmissionHandlerTest, MissingAccountIsAllowedUnchanged) {
  auto out = Answer(Review());
  EXPECT_EQ(out["response"]["allowed"], true);
  EXPECT_FALSE(out["response"].contains("patch"));
  EXPECT_EQ(metrics.cache_misses.WithLabels({"not_found"}).Value(), 1);
  EXPECT_EQ(Count("none", "skipped"), 1);
}

TEST_F(AdmissionHandlerTest, EmptyServiceAccountNameMeansDefault) {
  accounts.cached["team-a/default"] = kRole;
  auto out = Answer(Review("CREATE", ""));
  EXPECT_EQ(out["response"]["patchType"], "JSONPatch");
}

TEST_F(AdmissionHandlerTest, OnlyPodCreationsAreMutated) {
  accounts.cached["team-a/web"] = kRole;
  auto out = Answer(Review("UPDATE"));
  EXPECT_EQ(out["response"]["allowed"], true);
  EXPECT_FALSE(out["response"].contains("patch"));
}

TEST_F(AdmissionHandlerTest, AlreadyMutatedPodGetsNoPatch) {
  accounts.cached["team-a/web"] = kRole;
  auto first = Answer(Review());
  // The same pod after the apiserver applied the patch.
  std::string patch_b64 = first["response"]["patch"];
  (void)patch_b64;
  auto review = Json::parse(Review());
  review["request"]["object"]["spec"]["volumes"] =
      Json::parse(R"([{"name":"aws-iam-token","projected":{"sources":[]}}])");
  review["request"]["object"]["spec"]["containers"][0]["env"] = Json::parse(
      R"([{"name":"AWS_ROLE_ARN","value":"x"},{"name":"AWS_WEB_IDENTITY_TOKEN_FILE","value":"y"}])");
  review["request"]["object"]["spec"]["containers"][0]["volumeMounts"] =
      Json::parse(R"([{"name":"aws-iam-token","mountPath":"/x"}])");
  auto out = Answer(review.dump());
  EXPECT_EQ(out["response"]["allowed"], true);
  EXPECT_FALSE(out["response"].contains("patch"));
  EXPECT_EQ(Count("web_identity", "unchanged"), 1);
}

TEST_F(AdmissionHandlerTest, AssociationSelectsContainerCredentials) {
  accounts.cached["team-a/web"] = kRole;
  associations.selected.insert("team-a/web");
  auto out = Answer(Review());
  EXPECT_EQ(out["response"]["patchType"], "JSONPatch");
  EXPECT_EQ(Count("container_credentials", "mutated"), 1);
}

TEST_F(AdmissionHandlerTest, BadReviewsAreAnsweredNotDropped) {
  auto out = Answer("{not json");
  EXPECT_EQ(out["response"]["allowed"], false);
  EXPECT_EQ(out["response"]["uid"], "");
  EXPECT_EQ(out["response"]["status"]["code"], 400);
  accounts.cached["team-a/web"] = kRole;
  out = Answer(Review("CREATE", "web", R"(,"env":"x")"));
  EXPECT_EQ(out["response"]["uid"], "u-1");
  EXPECT_EQ(out["response"]["allowed"], false);
  EXPECT_EQ(Count("none", "invalid"), 2);
}

TEST_F(AdmissionHandlerTest, HttpLevelChecks) {
  EXPECT_EQ(Call(Review(), "text/plain").status, 415);
  EXPECT_EQ(Call(Review(), "application/json; charset=utf-8").status, 200);
  EXPECT_EQ(Call(Review(), "application/json", "GET").status, 405);
  EXPECT_EQ(Call(Review(), "application/json", "POST", "/other").status, 404);
}

}  // namespace
}  // namespace podiam::webhook
