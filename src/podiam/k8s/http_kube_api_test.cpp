#include "podiam/k8s/http_kube_api.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "podiam/base/log.hpp"
#include "podiam/testing/fake_clock.hpp"
#include "podiam/testing/fake_http_client.hpp"

namespace podiam::k8s {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr const char* kToken = "s3cr3t-t0ken-value";

class HttpKubeApiTest : public ::testing::Test {
 protected:
  HttpKubeApiTest()
      : metrics_(registry_),
        api_(http_, "https://api.example:6443/", std::make_shared<StaticTokenSource>(kToken),
             metrics_, clock_) {}

  http::ClientRequest Last() { return http_.requests().back(); }

  static std::string StatusBody(int code, const std::string& reason, const std::string& message) {
    return Json{{"kind", "Status"},   {"apiVersion", "v1"}, {"status", "Failure"},
                {"message", message}, {"reason", reason},   {"code", code}}
        .dump();
  }

  testing::FakeHttpClient http_;
  testing::FakeClock clock_;
  metrics::Registry registry_;
  K8sMetrics metrics_;
  HttpKubeApi api_;
};

TEST_F(HttpKubeApiTest, GetSendsBearerTokenAndParsesTheObject) {
  http_.PushResponse(200, R"({"kind":"Pod","metadata":{"name":"web-1"}})");
  auto pod = api_.Get(resources::Pods(), "team-a", "web-1");
  ASSERT_TRUE(pod) << pod.error().ToString();
  EXPECT_EQ((*pod)["metadata"]["name"], "web-1");
  auto req = Last();
  EXPECT_EQ(req.method, "GET");
  EXPECT_EQ(req.url, "https://api.example:6443/api/v1/namespaces/team-a/pods/web-1");
  EXPECT_EQ(req.headers.Get("Authorization"), std::string("Bearer ") + kToken);
  EXPECT_EQ(req.headers.Get("Accept"), "application/json");
  EXPECT_EQ(metrics_.requests.WithLabels({"get", "pods", "200"}).Value(), 1);
}

TEST_F(HttpKubeApiTest, PathsForGroupsClusterScopeAndSubresources) {
  http_.PushResponse(200, "{}");
  http_.PushResponse(200, "{}");
  http_.PushResponse(200, "{}");
  ASSERT_TRUE(api_.Get(resources::Namespaces(), "ignored", "kube-system"));
  EXPECT_EQ(Last().url, "https://api.example:6443/api/v1/namespaces/kube-system");
  ASSERT_TRUE(api_.Get(resources::Leases(), "kube-system", "podiam"));
  EXPECT_EQ(Last().url,
            "https://api.example:6443/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/"
            "podiam");
  Resource crd{.group = "podiam.io", .version = "v1alpha1", .plural = "rolebindings"};
  ASSERT_TRUE(api_.MergePatch(crd, "ns", "x", {{"status", {{"ok", true}}}}, "status"));
  EXPECT_EQ(Last().url,
            "https://api.example:6443/apis/podiam.io/v1alpha1/namespaces/ns/rolebindings/x/status");
  EXPECT_EQ(Last().headers.Get("Content-Type"), "application/merge-patch+json");
}

TEST_F(HttpKubeApiTest, ListEncodesSelectorsAndPagination) {
  http_.PushResponse(200,
                     R"({"kind":"PodList","metadata":{"resourceVersion":"777","continue":"abc"},
                        "items":[{"metadata":{"name":"a"}},{"metadata":{"name":"b"}}]})");
  auto list = api_.List(resources::Pods(), "",
                        {.label_selector = "app=web,tier!=db",
                         .field_selector = "spec.nodeName=node-1",
                         .limit = 500,
                         .continue_token = "tok/en=="});
  ASSERT_TRUE(list) << list.error().ToString();
  EXPECT_EQ(list->items.size(), 2U);
  EXPECT_EQ(list->resource_version, "777");
  EXPECT_EQ(list->continue_token, "abc");
  EXPECT_EQ(Last().url,
            "https://api.example:6443/api/v1/pods?labelSelector=app%3Dweb%2Ctier%21%3Ddb"
            "&fieldSelector=spec.nodeName%3Dnode-1&limit=500&continue=tok%2Fen%3D%3D");
}

TEST_F(HttpKubeApiTest, StatusErrorsMapToErrorCodes) {
  struct Case {
    int status;
    std::string reason;
    ErrorCode code;
    bool retryable;
  };
  for (const Case& c :
       std::vector<Case>{{404, "NotFound", ErrorCode::kNotFound, false},
                         {409, "AlreadyExists", ErrorCode::kConflict, false},
                         {409, "Conflict", ErrorCode::kConflict, false},
                         {403, "Forbidden", ErrorCode::kPermissionDenied, false},
                         {401, "Unauthorized", ErrorCode::kUnauthenticated, false},
                         {422, "Invalid", ErrorCode::kInvalidArgument, false},
                         {400, "BadRequest", ErrorCode::kInvalidArgument, false},
                         {429, "TooManyRequests", ErrorCode::kResourceExhausted, true},
                         {500, "InternalError", ErrorCode::kUnavailable, true},
                         {503, "ServiceUnavailable", ErrorCode::kUnavailable, true}}) {
    http_.PushResponse(c.status, StatusBody(c.status, c.reason, "the apiserver's own words"));
    auto r = api_.Get(resources::Pods(), "ns", "p");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), c.code) << c.status;
    EXPECT_EQ(r.error().upstream_code(), c.reason);
    EXPECT_EQ(r.error().retryable(), c.retryable) << c.status;
    EXPECT_EQ(r.error().message(), "the apiserver's own words");
    EXPECT_FALSE(IsGone(r.error()));
  }
}

TEST_F(HttpKubeApiTest, ForbiddenKeepsTheApiserversMessage) {
  const std::string message =
      "pods is forbidden: User \"system:serviceaccount:t:reader\" cannot create resource "
      "\"pods\" in API group \"\" in the namespace \"t\"";
  http_.PushResponse(403, StatusBody(403, "Forbidden", message));
  auto r = api_.Create(resources::Pods(), "t", {{"metadata", {{"name", "x"}}}});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kPermissionDenied);
  EXPECT_EQ(r.error().message(), message);
}

TEST_F(HttpKubeApiTest, GoneIsDistinguishable) {
  http_.PushResponse(410, StatusBody(410, "Expired", "too old resource version: 1 (5)"));
  auto r = api_.List(resources::Pods(), "", {.limit = 10, .continue_token = "old"});
  ASSERT_FALSE(r);
  EXPECT_TRUE(IsGone(r.error()));
  EXPECT_EQ(r.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_EQ(r.error().upstream_code(), "Expired");

  http_.PushResponse(410, "gone, and not even a Status");
  auto plain = api_.Get(resources::Pods(), "ns", "p");
  ASSERT_FALSE(plain);
  EXPECT_TRUE(IsGone(plain.error()));
  EXPECT_EQ(plain.error().upstream_code(), "Gone");
}

TEST_F(HttpKubeApiTest, NonStatusErrorBodiesAndTransportFailures) {
  http_.PushResponse(502, "<html>bad gateway</html>");
  auto r = api_.Get(resources::Pods(), "ns", "p");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kUnavailable);
  EXPECT_EQ(r.error().upstream_code(), "HTTP 502");
  EXPECT_THAT(r.error().message(), HasSubstr("bad gateway"));

  http_.PushFailure(Error(ErrorCode::kUnavailable, "connection refused", "", true));
  auto down = api_.Get(resources::Pods(), "ns", "p");
  ASSERT_FALSE(down);
  EXPECT_EQ(down.error().code(), ErrorCode::kUnavailable);
  EXPECT_TRUE(down.error().retryable());
  EXPECT_EQ(metrics_.requests.WithLabels({"get", "pods", "unavailable"}).Value(), 1);

  http_.PushResponse(200, "not json");
  auto garbage = api_.Get(resources::Pods(), "ns", "p");
  ASSERT_FALSE(garbage);
  EXPECT_EQ(garbage.error().code(), ErrorCode::kUpstreamInvalid);
}

TEST_F(HttpKubeApiTest, TheTokenIsNeverLogged) {
  log::Configure({.level = log::Level::kTrace});
  log::Capture capture;
  http_.PushResponse(401, StatusBody(401, "Unauthorized", "Unauthorized"));
  http_.PushFailure(Error(ErrorCode::kUnavailable, "reset"));
  EXPECT_FALSE(api_.Get(resources::Pods(), "ns", "p"));
  EXPECT_FALSE(api_.Get(resources::Pods(), "ns", "p"));
  log::Configure({});
  EXPECT_THAT(capture.Text(), HasSubstr("request"));    // something was logged...
  EXPECT_THAT(capture.Text(), Not(HasSubstr(kToken)));  // ...but never the token
}

TEST_F(HttpKubeApiTest, WritesUseTheRightVerbsAndBodies) {
  for (int i = 0; i < 5; ++i) {
    http_.PushResponse(200, R"({"metadata":{"name":"x"}})");
  }
  Json pod = {{"metadata", {{"name", "x"}, {"namespace", "from-object"}}}};
  ASSERT_TRUE(api_.Create(resources::Pods(), "", pod));
  EXPECT_EQ(Last().method, "POST");
  EXPECT_EQ(Last().url, "https://api.example:6443/api/v1/namespaces/from-object/pods");
  EXPECT_EQ(Json::parse(Last().body), pod);

  pod["metadata"]["resourceVersion"] = "42";
  ASSERT_TRUE(api_.Update(resources::Pods(), "", pod));
  EXPECT_EQ(Last().method, "PUT");
  EXPECT_EQ(Last().url, "https://api.example:6443/api/v1/namespaces/from-object/pods/x");
  EXPECT_EQ(Json::parse(Last().body)["metadata"]["resourceVersion"], "42");

  ASSERT_TRUE(api_.Apply(resources::ConfigMaps(), "ns", "cm", {{"data", {{"k", "v"}}}},
                         {.field_manager = "podiam", .force = true}));
  EXPECT_EQ(Last().method, "PATCH");
  EXPECT_EQ(Last().url,
            "https://api.example:6443/api/v1/namespaces/ns/configmaps/cm?fieldManager=podiam"
            "&force=true");
  EXPECT_EQ(Last().headers.Get("Content-Type"), "application/apply-patch+yaml");

  ASSERT_TRUE(api_.Delete(resources::Pods(), "ns", "x",
                          {.grace_period_seconds = 0, .precondition_uid = "u-1"}));
  EXPECT_EQ(Last().method, "DELETE");
  Json body = Json::parse(Last().body);
  EXPECT_EQ(body["gracePeriodSeconds"], 0);
  EXPECT_EQ(body["preconditions"]["uid"], "u-1");

  ASSERT_TRUE(api_.DeleteCollection(resources::Pods(), "ns", {.label_selector = "app=x"}));
  EXPECT_EQ(Last().url, "https://api.example:6443/api/v1/namespaces/ns/pods?labelSelector=app%3Dx");

  auto no_manager = api_.Apply(resources::ConfigMaps(), "ns", "cm", {}, {});
  ASSERT_FALSE(no_manager);
  EXPECT_EQ(no_manager.error().code(), ErrorCode::kInvalidArgument);
  auto no_name = api_.Update(resources::Pods(), "ns", {{"metadata", Json::object()}});
  ASSERT_FALSE(no_name);
  auto no_ns = api_.Create(resources::Pods(), "", {{"metadata", {{"name", "x"}}}});
  ASSERT_FALSE(no_ns);
  EXPECT_EQ(http_.pending_replies(), 0U);
}

TEST_F(HttpKubeApiTest, WatchDecodesEventsAcrossChunks) {
  http_.PushStream(
      {R"({"type":"ADDED","object":{"metadata":{"name":"a","resourceVersion":"11"}}})"
       "\n{\"type\":\"MODI",
       R"(FIED","object":{"metadata":{"name":"a","resourceVersion":"12"}}})"
       "\n",
       R"({"type":"BOOKMARK","object":{"kind":"Pod","metadata":{"resourceVersion":"20"}}})"
       "\n"});
  std::vector<std::string> seen;
  auto r = api_.Watch(resources::Pods(), "",
                      {.resource_version = "10",
                       .field_selector = "spec.nodeName=n1",
                       .timeout = std::chrono::seconds(300)},
                      [&](WatchEvent&& e) {
                        seen.push_back(std::string(WatchEventTypeName(e.type)) + "@" +
                                       StringAt(e.object["metadata"], "resourceVersion"));
                        return true;
                      });
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(seen, (std::vector<std::string>{"ADDED@11", "MODIFIED@12", "BOOKMARK@20"}));
  auto req = Last();
  EXPECT_EQ(req.url,
            "https://api.example:6443/api/v1/pods?watch=1&allowWatchBookmarks=true"
            "&resourceVersion=10&fieldSelector=spec.nodeName%3Dn1&timeoutSeconds=300");
  EXPECT_EQ(req.timeout, std::chrono::milliseconds(90000));
  EXPECT_FALSE(req.stop.stop_possible());  // no stop token given, none passed on
  EXPECT_EQ(req.headers.Get("Authorization"), std::string("Bearer ") + kToken);
}

TEST_F(HttpKubeApiTest, WatchGoneInStreamAndAsHttpStatus) {
  http_.PushStream(
      {R"({"type":"ADDED","object":{"metadata":{"name":"a"}}})"
       "\n"
       R"js({"type":"ERROR","object":{"kind":"Status","code":410,"reason":"Expired","message":"too old resource version: 5 (9)"}})js"
       "\n"
       R"({"type":"ADDED","object":{"metadata":{"name":"never"}}})"
       "\n"});
  int events = 0;
  auto count = [&](WatchEvent&&) {
    ++events;
    return true;
  };
  auto in_stream = api_.Watch(resources::Pods(), "", {.resource_version = "5"}, count);
  ASSERT_FALSE(in_stream);
  EXPECT_TRUE(IsGone(in_stream.error()));
  EXPECT_THAT(in_stream.error().message(), HasSubstr("too old"));
  EXPECT_EQ(events, 1);

  http_.PushResponse(410, StatusBody(410, "Gone", "too old"));
  auto status = api_.Watch(resources::Pods(), "", {.resource_version = "5"}, count);
  ASSERT_FALSE(status);
  EXPECT_TRUE(IsGone(status.error()));
}

TEST_F(HttpKubeApiTest, WatchStopsOnHandlerOrStopToken) {
  http_.PushStream({"{\"type\":\"ADDED\",\"object\":{}}\n{\"type\":\"ADDED\",\"object\":{}}\n",
                    "{\"type\":\"ADDED\",\"object\":{}}\n"});
  int events = 0;
  ASSERT_TRUE(api_.Watch(resources::Pods(), "", {}, [&](WatchEvent&&) { return ++events < 1; }));
  EXPECT_EQ(events, 1);

  std::stop_source stop;
  http_.PushStream(
      {"{\"type\":\"ADDED\",\"object\":{}}\n", "{\"type\":\"ADDED\",\"object\":{}}\n"});
  events = 0;
  ASSERT_TRUE(api_.Watch(resources::Pods(), "", {.stop = stop.get_token()}, [&](WatchEvent&&) {
    ++events;
    stop.request_stop();
    return true;
  }));
  EXPECT_EQ(events, 1);
  // The token reaches the transport, which cancels a blocked read with it.
  EXPECT_TRUE(Last().stop == stop.get_token());
}

TEST_F(HttpKubeApiTest, WatchMalformedStreamIsAnError) {
  http_.PushStream({"{\"type\":\"ADDED\",\"object\":{}}\n", "<<garbage>>\n"});
  auto r = api_.Watch(resources::Pods(), "", {}, [](WatchEvent&&) { return true; });
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kUpstreamInvalid);
}

TEST(ListAllTest, WalksPagesAndRestartsOnExpiredContinue) {
  testing::FakeHttpClient http;
  testing::FakeClock clock;
  metrics::Registry registry;
  K8sMetrics metrics(registry);
  HttpKubeApi api(http, "https://a", nullptr, metrics, clock);
  http.PushResponse(200,
                    R"({"metadata":{"resourceVersion":"5","continue":"p2"},"items":[{"n":1}]})");
  http.PushResponse(410, R"({"kind":"Status","code":410,"reason":"Expired"})");
  http.PushResponse(200, R"({"metadata":{"resourceVersion":"9"},"items":[{"n":1},{"n":2}]})");
  std::vector<Json> items;
  int restarts = 0;
  auto rv = ListAll(
      api, resources::Pods(), "", {.limit = 1}, [&](Json&& j) { items.push_back(j); },
      [&] {
        ++restarts;
        items.clear();
      });
  ASSERT_TRUE(rv) << rv.error().ToString();
  EXPECT_EQ(*rv, "9");
  EXPECT_EQ(items.size(), 2U);
  EXPECT_EQ(restarts, 1);
  EXPECT_EQ(http.requests()[2].url, "https://a/api/v1/pods");  // no limit, no continue
  EXPECT_FALSE(http.requests()[2].headers.Has("Authorization"));
}

}  // namespace
}  // namespace podiam::k8s
