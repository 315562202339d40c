#include "podiam/aws/iam_codec.hpp"

#include <gtest/gtest.h>

namespace podiam::aws {
namespace {

constexpr const char* kNs = R"( xmlns="https://iam.amazonaws.com/doc/2010-05-08/")";

std::string Wrap(const std::string& action, const std::string& result) {
  return "<" + action + "Response" + kNs + "><" + action + "Result>" + result + "</" + action +
         "Result><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></" + action +
         "Response>";
}

TEST(IamCodec, EncodesActionVersionAndMembers) {
  FormParams p{{"Url", "https://oidc.example.com/c"}};
  AppendMembers(p, "ClientIDList", {"sts.amazonaws.com", "b"});
  EXPECT_EQ(EncodeIam("CreateOpenIDConnectProvider", p),
            "Action=CreateOpenIDConnectProvider&Version=2010-05-08&Url=https%3A%2F%2Foidc.example."
            "com%2Fc&ClientIDList.member.1=sts.amazonaws.com&ClientIDList.member.2=b");
}

TEST(IamCodec, ParsesReplies) {
  EXPECT_EQ(ParseCreateOidcProvider(Wrap("CreateOpenIDConnectProvider",
                                         "<OpenIDConnectProviderArn>arn:aws:iam::1:oidc-provider/"
                                         "h/p</OpenIDConnectProviderArn>"))
                .value_or(""),
            "arn:aws:iam::1:oidc-provider/h/p");
  auto list = ParseListOidcProviders(
      Wrap("ListOpenIDConnectProviders",
           "<OpenIDConnectProviderList><member><Arn>a1</Arn></member><member><Arn>a2</Arn>"
           "</member></OpenIDConnectProviderList>"));
  ASSERT_TRUE(list);
  EXPECT_EQ(*list, (std::vector<std::string>{"a1", "a2"}));
  auto provider = ParseGetOidcProvider(
      Wrap("GetOpenIDConnectProvider",
           "<Url>h/p</Url><ClientIDList><member>sts.amazonaws.com</member></ClientIDList>"
           "<ThumbprintList><member>aa</member></ThumbprintList>"));
  ASSERT_TRUE(provider);
  EXPECT_EQ(provider->url, "h/p");
  EXPECT_EQ(provider->client_ids, std::vector<std::string>{"sts.amazonaws.com"});
  EXPECT_EQ(provider->thumbprints, std::vector<std::string>{"aa"});
  auto role = ParseIamRole(Wrap("GetRole",
                                "<Role><Path>/</Path><RoleName>app</RoleName><Arn>arn:aws:iam::1:"
                                "role/app</Arn><AssumeRolePolicyDocument>%7B%22a%22%3A%201%7D"
                                "</AssumeRolePolicyDocument></Role>"),
                           "GetRole");
  ASSERT_TRUE(role);
  EXPECT_EQ(role->assume_role_policy, R"({"a": 1})");
  auto attached = ParseListAttachedRolePolicies(
      Wrap("ListAttachedRolePolicies",
           "<AttachedPolicies><member><PolicyName>x</PolicyName><PolicyArn>arn:x</PolicyArn>"
           "</member></AttachedPolicies><IsTruncated>false</IsTruncated>"));
  ASSERT_TRUE(attached);
  EXPECT_EQ(*attached, std::vector<std::string>{"arn:x"});
  EXPECT_TRUE(ParseIamEmpty(std::string("<AttachRolePolicyResponse") + kNs +
                                "><ResponseMetadata/></AttachRolePolicyResponse>",
                            "AttachRolePolicy"));
}

TEST(IamCodec, RefusesUnexpectedShapes) {
  EXPECT_FALSE(ParseCreateOidcProvider("not xml"));
  EXPECT_FALSE(ParseCreateOidcProvider(Wrap("GetRole", "")));
  EXPECT_FALSE(ParseIamRole(Wrap("GetRole", "<Role/>"), "GetRole"));
  EXPECT_FALSE(ParseListAttachedRolePolicies(
      Wrap("ListAttachedRolePolicies", "<IsTruncated>true</IsTruncated>")));
}

TEST(IamCodec, ErrorsCarryIamsCode) {
  std::string body =
      R"(<ErrorResponse><Error><Type>Sender</Type><Code>NoSuchEntity</Code><Message>The role with )"
      R"(name app cannot be found.</Message></Error><RequestId>r</RequestId></ErrorResponse>)";
  Error e = IamErrorFromResponse("GetRole", 404, body);
  EXPECT_EQ(e.code(), ErrorCode::kNotFound);
  EXPECT_EQ(e.upstream_code(), "NoSuchEntity");
  EXPECT_EQ(e.message(), "IAM GetRole: NoSuchEntity: The role with name app cannot be found.");
  EXPECT_FALSE(e.retryable());
  Error throttled = IamErrorFromResponse(
      "GetRole", 400, "<ErrorResponse><Error><Code>Throttling</Code></Error></ErrorResponse>");
  EXPECT_TRUE(throttled.retryable());
  Error bare = IamErrorFromResponse("GetRole", 503, "oops");
  EXPECT_TRUE(bare.retryable());
  EXPECT_EQ(bare.code(), ErrorCode::kUnavailable);
  auto in_200 = ParseIamRole(body, "GetRole");
  ASSERT_FALSE(in_200);
  EXPECT_EQ(in_200.error().upstream_code(), "NoSuchEntity");
  EXPECT_EQ(UrlDecode("%7b%ZZ%4"), "{%ZZ%4");
}

}  // namespace
}  // namespace podiam::aws
