#include "podiam/k8s/token_review.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "podiam/testing/fake_kube_api.hpp"

namespace podiam::k8s {
namespace {

using ::testing::HasSubstr;

class TokenReviewTest : public ::testing::Test {
 protected:
  void Answer(Json status) {
    api_.OnCreate("tokenreviews", [this, status](const Json& review) -> Result<Json> {
      sent_ = review;
      Json out = review;
      out["status"] = status;
      return out;
    });
  }
  testing::FakeKubeApi api_;
  TokenReviewer reviewer_{api_};
  Json sent_;
};

TEST_F(TokenReviewTest, PodBoundServiceAccountToken) {
  Answer({{"authenticated", true},
          {"audiences", {"sts.amazonaws.com"}},
          {"user",
           {{"username", "system:serviceaccount:team-a:web"},
            {"uid", "sa-uid"},
            {"groups", {"system:serviceaccounts", "system:serviceaccounts:team-a"}},
            {"extra",
             {{"authentication.kubernetes.io/pod-name", {"web-1"}},
              {"authentication.kubernetes.io/pod-uid", {"pod-uid"}},
              {"authentication.kubernetes.io/node-name", {"node-1"}},
              {"authentication.kubernetes.io/node-uid", {"node-uid"}}}}}}});
  auto who = reviewer_.Review("the.jwt.token", {"sts.amazonaws.com"});
  ASSERT_TRUE(who) << who.error().ToString();
  EXPECT_EQ(sent_["spec"]["token"], "the.jwt.token");
  EXPECT_EQ(sent_["spec"]["audiences"], Json({"sts.amazonaws.com"}));
  EXPECT_EQ(sent_["apiVersion"], "authentication.k8s.io/v1");
  EXPECT_EQ(who->username, "system:serviceaccount:team-a:web");
  EXPECT_EQ(who->service_account_namespace, "team-a");
  EXPECT_EQ(who->service_account_name, "web");
  EXPECT_EQ(who->pod_name, "web-1");
  EXPECT_EQ(who->pod_uid, "pod-uid");
  EXPECT_EQ(who->node_name, "node-1");
  EXPECT_EQ(who->node_uid, "node-uid");
  EXPECT_EQ(who->groups.size(), 2U);
}

TEST_F(TokenReviewTest, NotAuthenticated) {
  Answer({{"authenticated", false}, {"error", "token has expired"}});
  auto who = reviewer_.Review("t", {"sts.amazonaws.com"});
  ASSERT_FALSE(who);
  EXPECT_EQ(who.error().code(), ErrorCode::kUnauthenticated);
  EXPECT_THAT(who.error().message(), HasSubstr("token has expired"));
}

TEST_F(TokenReviewTest, NoMatchingAudience) {
  Answer({{"authenticated", true},
          {"audiences", Json::array()},
          {"user", {{"username", "system:serviceaccount:a:b"}}}});
  auto who = reviewer_.Review("t", {"sts.amazonaws.com"});
  ASSERT_FALSE(who);
  EXPECT_EQ(who.error().code(), ErrorCode::kUnauthenticated);
}

TEST_F(TokenReviewTest, OtherUsersAndMissingRbac) {
  Answer({{"authenticated", true}, {"user", {{"username", "alice"}}}});
  auto alice = reviewer_.Review("t", {});
  ASSERT_TRUE(alice);
  EXPECT_EQ(alice->service_account_name, "");
  EXPECT_FALSE(sent_["spec"].contains("audiences"));

  api_.FailNext("create", testing::FakeKubeApi::Status(403, "Forbidden",
                                                       "tokenreviews is forbidden: cannot create"));
  auto denied = reviewer_.Review("t", {});
  ASSERT_FALSE(denied);
  EXPECT_EQ(denied.error().code(), ErrorCode::kPermissionDenied);
  EXPECT_THAT(denied.error().message(), HasSubstr("tokenreviews is forbidden"));
}

}  // namespace
}  // namespace podiam::k8s
