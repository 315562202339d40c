#include "podiam/controller/secret_format.hpp"

#include <gtest/gtest.h>

namespace podiam::controller {
namespace {

aws::Credentials Creds() {
  return {.access_key_id = "ASIAEXAMPLE",
          .secret_access_key = "secret/key",
          .session_token = "token",
          .expiration = *aws::ParseTimestamp("2026-12-05T01:00:00Z")};
}

TEST(SecretFormatTest, WritesTheFiveFiles) {
  FileMap f =
      SecretFiles(Creds(), "arn:aws:iam::123456789012:role/app", "podiam credential-process");
  EXPECT_EQ(f.size(), 5U);
  EXPECT_EQ(f["credentials"],
            "[default]\naws_access_key_id = ASIAEXAMPLE\naws_secret_access_key = secret/key\n"
            "aws_session_token = token\n");
  EXPECT_EQ(f["credentials.process"],
            "[default]\ncredential_process = podiam credential-process\n");
  EXPECT_EQ(f["role-arn"], "arn:aws:iam::123456789012:role/app");
  EXPECT_EQ(f["expiration"], "2026-12-05T01:00:00Z");
  auto back = ParseProcessCredentials(f["credentials.json"]);
  ASSERT_TRUE(back) << back.error().ToString();
  EXPECT_EQ(back->access_key_id, "ASIAEXAMPLE");
  EXPECT_EQ(back->secret_access_key, "secret/key");
  EXPECT_EQ(back->session_token, "token");
  EXPECT_EQ(back->expiration, Creds().expiration);
}

TEST(SecretFormatTest, SecretIsOwnedByTheRole) {
  RoleObject role{.api_version = "podiam.io/v1",
                  .namespace_name = "ns",
                  .name = "app",
                  .uid = "u1",
                  .secret_name = "creds"};
  k8s::Json s = SecretObject(role, {{"role-arn", "x"}});
  EXPECT_EQ(s["metadata"]["name"], "creds");
  EXPECT_EQ(s["metadata"]["namespace"], "ns");
  EXPECT_EQ(s["metadata"]["ownerReferences"][0]["uid"], "u1");
  EXPECT_EQ(s["metadata"]["ownerReferences"][0]["controller"], true);
  EXPECT_EQ(s["stringData"]["role-arn"], "x");
  EXPECT_TRUE(OwnedBy(s, role));
  role.uid = "u2";
  EXPECT_FALSE(OwnedBy(s, role));
  EXPECT_FALSE(Adoptable(s));
  s["metadata"]["annotations"] = {{"podiam.io/adopt", "true"}};
  EXPECT_TRUE(Adoptable(s));
}

TEST(SecretFormatTest, DecodesData) {
  k8s::Json s = {{"data", {{"a", "aGVsbG8="}, {"b", "!!"}, {"c", 1}}}};
  FileMap d = DecodedSecretData(s);
  EXPECT_EQ(d.size(), 1U);
  EXPECT_EQ(d["a"], "hello");
}

TEST(SecretFormatTest, RejectsMalformedProcessCredentials) {
  for (const char* text :
       {"", "[]", "{}", R"({"Version":2,"AccessKeyId":"a","SecretAccessKey":"b"})",
        R"({"Version":1,"AccessKeyId":"a"})",
        R"({"Version":1,"AccessKeyId":1,"SecretAccessKey":"b"})",
        R"({"Version":1,"AccessKeyId":"a","SecretAccessKey":"b","Expiration":"soon"})"}) {
    auto c = ParseProcessCredentials(text);
    ASSERT_FALSE(c) << text;
    EXPECT_EQ(c.error().code(), ErrorCode::kInvalidArgument);
    EXPECT_EQ(c.error().message().find("\"b\""), std::string::npos);
  }
  EXPECT_TRUE(ParseProcessCredentials(R"({"Version":1,"AccessKeyId":"a","SecretAccessKey":"b"})"));
}

}  // namespace
}  // namespace podiam::controller
