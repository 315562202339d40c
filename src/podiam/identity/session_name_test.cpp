#include "podiam/identity/session_name.hpp"

#include <gtest/gtest.h>

#include <regex>

namespace podiam::identity {
namespace {

bool ValidForSts(const std::string& s) {
  static const std::regex kAlphabet(R"([\w+=,.@-]{2,64})");
  return std::regex_match(s, kAlphabet);
}

TEST(SessionNameTest, NamespaceDotPod) {
  EXPECT_EQ(SessionName("team-a", "web-7d9f8c-x2x"), "team-a.web-7d9f8c-x2x");
}

TEST(SessionNameTest, ForeignCharactersBecomeDashes) {
  EXPECT_EQ(SanitizeSessionName("a b/c:d\xc3\xa9"), "a-b-c-d--");
  EXPECT_EQ(SanitizeSessionName(""), "--");
  EXPECT_EQ(SanitizeSessionName("x"), "x-");
}

TEST(SessionNameTest, LongNamesAreCutWithAHashSoTheyStayDistinct) {
  std::string pod(63, 'p');
  std::string a = SessionName("namespace-with-a-long-name", pod + "a");
  std::string b = SessionName("namespace-with-a-long-name", pod + "b");
  EXPECT_EQ(a.size(), 64U);
  EXPECT_NE(a, b);
  EXPECT_TRUE(ValidForSts(a)) << a;
  EXPECT_EQ(SanitizeSessionName(std::string(64, 'x')), std::string(64, 'x'));
}

// kiam's annotation is pod-controlled: a suffix after '@' (no Kubernetes name contains '@'), never
// the whole name, so it can never spell another pod's session.
TEST(SessionNameTest, KiamAnnotationIsOnlyASuffix) {
  EXPECT_EQ(SessionName("ns", "pod", "my session"), "ns.pod@my-session");
  EXPECT_EQ(SessionName("team-b", "attacker", "team-a.victim"), "team-b.attacker@team-a.victim");
  EXPECT_NE(SessionName("team-b", "attacker", "team-a.victim"), SessionName("team-a", "victim"));
  // Same pod, two suffixes that differ only in what sanitising hides: still its own prefix.
  std::string cut = SessionName("ns", "pod", std::string(80, 'x'));
  EXPECT_TRUE(cut.starts_with("ns.pod@")) << cut;
  EXPECT_TRUE(ValidForSts(cut)) << cut;
}

TEST(SessionNameTest, DerivedFromTrustedFieldsPerPod) {
  Session s = DeriveSession({.namespace_name = "team-a",
                             .pod_name = "web-1",
                             .pod_uid = "uid-1",
                             .service_account = "web",
                             .annotation = "batch"},
                            {.tags = true, .cluster_name = "prod", .source_identity = true});
  EXPECT_EQ(s.name, "team-a.web-1@batch");
  EXPECT_EQ(s.owner, "pod/uid-1");
  EXPECT_EQ(s.source_identity, s.name);
  std::vector<aws::Tag> want = {{"kubernetes-namespace", "team-a"},
                                {"kubernetes-pod-name", "web-1"},
                                {"kubernetes-service-account", "web"},
                                {"kubernetes-pod-uid", "uid-1"},
                                {"cluster-name", "prod"}};
  EXPECT_EQ(s.tags, want);
  Session plain = DeriveSession({.namespace_name = "team-a", .pod_name = "web-1"}, {});
  EXPECT_EQ(plain.name, "team-a.web-1");
  EXPECT_TRUE(plain.tags.empty());
  EXPECT_TRUE(plain.source_identity.empty());
}

TEST(SessionNameTest, ServiceAccountScopeNamesTheAccountNotThePod) {
  SessionOptions options{.scope = SessionScope::kServiceAccount, .tags = true};
  Session a = DeriveSession(
      {.namespace_name = "team-a", .pod_name = "web-1", .pod_uid = "u1", .service_account = "web"},
      options);
  Session b = DeriveSession(
      {.namespace_name = "team-a", .pod_name = "web-2", .pod_uid = "u2", .service_account = "web"},
      options);
  EXPECT_EQ(a.name, "team-a.sa=web");
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.owner, b.owner);
  EXPECT_EQ(a.tags, b.tags);
  std::vector<aws::Tag> want = {{"kubernetes-namespace", "team-a"},
                                {"kubernetes-service-account", "web"}};
  EXPECT_EQ(a.tags, want);
  // '=' is in no pod name: a pod called like the account's session cannot meet it.
  EXPECT_NE(SessionName("team-a", "sa-web"), a.name);
  Session other = DeriveSession({.namespace_name = "team-b", .service_account = "web"}, options);
  EXPECT_NE(other.owner, a.owner);
}

TEST(SessionNameTest, ObjectSessionTagsOnlyWithTags) {
  EXPECT_TRUE(ObjectSessionTags("team-a", "kubernetes-awsiamrole", "app", {}).empty());
  auto tags = ObjectSessionTags("team-a", "kubernetes-awsiamrole", "app",
                                {.tags = true, .cluster_name = "prod"});
  ASSERT_EQ(tags.size(), 3U);
  EXPECT_EQ(tags[0].key, "kubernetes-namespace");
  EXPECT_EQ(tags[0].value, "team-a");
  EXPECT_EQ(tags[1].key, "kubernetes-awsiamrole");
  EXPECT_EQ(tags[1].value, "app");
  EXPECT_EQ(tags[2].key, "cluster-name");
  EXPECT_EQ(tags[2].value, "prod");
  EXPECT_EQ(ObjectSessionTags("a", "k", "n", {.tags = true}).size(), 2U);
}

TEST(SessionNameTest, ScopeNames) {
  EXPECT_EQ(ParseSessionScope("pod"), SessionScope::kPod);
  EXPECT_EQ(ParseSessionScope("service-account"), SessionScope::kServiceAccount);
  EXPECT_FALSE(ParseSessionScope("namespace"));
  EXPECT_EQ(SessionScopeName(SessionScope::kServiceAccount), "service-account");
}

}  // namespace
}  // namespace podiam::identity
