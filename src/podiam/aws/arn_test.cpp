#include "podiam/aws/arn.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "podiam/aws/partition.hpp"

namespace podiam::aws {
namespace {

using ::testing::HasSubstr;

// The error of a failed Result, checked for kind and wording.
template <typename T>
std::string ErrorMessage(const Result<T>& result) {
  EXPECT_FALSE(result.has_value());
  if (result.has_value()) {
    return {};
  }
  EXPECT_EQ(result.error().code(), ErrorCode::kInvalidArgument);
  return result.error().message();
}

TEST(ArnTest, ParsesAndFormatsEveryPartition) {
  for (const auto& partition : Partitions()) {
    std::string text = "arn:" + std::string(partition.id) + ":iam::123456789012:role/app";
    auto arn = ParseArn(text);
    ASSERT_TRUE(arn) << arn.error().ToString();
    EXPECT_EQ(arn->partition, partition.id);
    EXPECT_EQ(arn->service, "iam");
    EXPECT_EQ(arn->region, "");
    EXPECT_EQ(arn->account, "123456789012");
    EXPECT_EQ(arn->resource, "role/app");
    EXPECT_EQ(arn->ToString(), text);

    auto role = ParseRoleArn(text);
    ASSERT_TRUE(role) << role.error().ToString();
    EXPECT_EQ(role->partition, partition.id);
    EXPECT_EQ(role->ToString(), text);
  }
  EXPECT_EQ(Partitions().size(), 8u);
}

TEST(ArnTest, GenericArnKeepsColonsInResourceAndAllowsRegionAndManagedAccount) {
  auto arn = ParseArn("arn:aws:logs:eu-west-1:123456789012:log-group:/aws/x:*");
  ASSERT_TRUE(arn);
  EXPECT_EQ(arn->region, "eu-west-1");
  EXPECT_EQ(arn->resource, "log-group:/aws/x:*");
  auto managed = ParseArn("arn:aws:iam::aws:policy/ReadOnlyAccess");
  ASSERT_TRUE(managed);
  EXPECT_EQ(managed->account, "aws");
  auto s3 = ParseArn("arn:aws:s3:::my-bucket/key");
  ASSERT_TRUE(s3);
  EXPECT_EQ(s3->account, "");
}

TEST(ArnTest, MalformedArnsSayWhatIsWrong) {
  EXPECT_THAT(ErrorMessage(ParseArn("")), HasSubstr("empty"));
  EXPECT_THAT(ErrorMessage(ParseArn("role/app")), HasSubstr("must start with 'arn:'"));
  EXPECT_THAT(ErrorMessage(ParseArn("arn:aws:iam")), HasSubstr("6 ':'-separated fields"));
  EXPECT_THAT(ErrorMessage(ParseArn("arn:aws-moon:iam::123456789012:role/x")),
              HasSubstr("unknown partition 'aws-moon'"));
  EXPECT_THAT(ErrorMessage(ParseArn("arn:aws::eu-west-1:123456789012:x")),
              HasSubstr("empty service"));
  EXPECT_THAT(ErrorMessage(ParseArn("arn:aws:IAM::123456789012:role/x")),
              HasSubstr("invalid service"));
  EXPECT_THAT(ErrorMessage(ParseArn("arn:aws:ec2:EU_WEST:123456789012:x")),
              HasSubstr("invalid region"));
  EXPECT_THAT(ErrorMessage(ParseArn("arn:aws:iam::12345:role/x")), HasSubstr("12 digits"));
  EXPECT_THAT(ErrorMessage(ParseArn("arn:aws:iam::123456789012:")), HasSubstr("empty resource"));
  EXPECT_THAT(ErrorMessage(ParseArn("arn:aws:iam::123456789012:role/a\nb")),
              HasSubstr("control character"));
  EXPECT_THAT(ErrorMessage(ParseArn("arn:aws:iam::123456789012:role/" + std::string(3000, 'a'))),
              HasSubstr("maximum is 2048"));
}

TEST(ArnTest, ErrorMessagesQuoteInputSafely) {
  std::string message = ErrorMessage(ParseArn(std::string("x\x01y") + std::string(500, 'z')));
  EXPECT_THAT(message, HasSubstr("'x\\x01y"));
  EXPECT_THAT(message, HasSubstr("(503 bytes)"));
  EXPECT_LT(message.size(), 250u);
}

TEST(ArnTest, RoleArnWithPath) {
  auto role = ParseRoleArn("arn:aws:iam::123456789012:role/division/team/Name");
  ASSERT_TRUE(role);
  EXPECT_EQ(role->path, "/division/team/");
  EXPECT_EQ(role->name, "Name");
  EXPECT_EQ(role->ToString(), "arn:aws:iam::123456789012:role/division/team/Name");

  auto plain = ParseRoleArn("arn:aws-cn:iam::123456789012:role/app");
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->path, "/");
  EXPECT_EQ(plain->name, "app");
}

TEST(ArnTest, RoleNamesOfExactly64CharactersAndAllAllowedSymbols) {
  std::string name64(64, 'r');
  EXPECT_TRUE(ParseRoleArn("arn:aws:iam::123456789012:role/" + name64));
  EXPECT_TRUE(IsValidRoleName(name64));
  EXPECT_FALSE(IsValidRoleName(name64 + "r"));
  EXPECT_THAT(ErrorMessage(ParseRoleArn("arn:aws:iam::123456789012:role/" + name64 + "r")),
              HasSubstr("at most 64"));
  EXPECT_TRUE(IsValidRoleName("a_b+c=d,e.f@g-h"));
  EXPECT_FALSE(IsValidRoleName(""));
  EXPECT_FALSE(IsValidRoleName("with space"));
}

TEST(ArnTest, RoleArnErrors) {
  EXPECT_THAT(ErrorMessage(ParseRoleArn("arn:aws:iam::123456789012:user/bob")),
              HasSubstr("must start with 'role/'"));
  EXPECT_THAT(ErrorMessage(ParseRoleArn("arn:aws:s3:::bucket")), HasSubstr("service is 's3'"));
  EXPECT_THAT(ErrorMessage(ParseRoleArn("arn:aws:iam:us-east-1:123456789012:role/x")),
              HasSubstr("names region"));
  EXPECT_THAT(ErrorMessage(ParseRoleArn("arn:aws:iam::aws:role/x")), HasSubstr("12 digits"));
  EXPECT_THAT(ErrorMessage(ParseRoleArn("arn:aws:iam::123456789012:role/team/")),
              HasSubstr("no role name"));
  EXPECT_THAT(ErrorMessage(ParseRoleArn("arn:aws:iam::123456789012:role/a//b")),
              HasSubstr("empty segment"));
  EXPECT_THAT(ErrorMessage(ParseRoleArn("arn:aws:iam::123456789012:role/bad name")),
              HasSubstr("contains ' '"));
  EXPECT_THAT(ErrorMessage(ParseRoleArn("arn:aws:sts::123456789012:assumed-role/app/session")),
              HasSubstr("assumed-role (session) ARN"));
}

TEST(ArnTest, UnicodeIsRejectedWithAClearMessage) {
  EXPECT_THAT(ErrorMessage(ParseRoleArn("arn:aws:iam::123456789012:role/r\xc3\xb4le")),
              HasSubstr("role name"));
  EXPECT_THAT(ErrorMessage(ParseRoleArn("arn:aws:iam::123456789012:role/p\xc3\xa4th/app")),
              HasSubstr("printable ASCII"));
  EXPECT_THAT(ErrorMessage(ParseArn("arn:\xc3\xa4ws:iam::123456789012:role/x")),
              HasSubstr("unknown partition"));
}

TEST(ArnTest, BaseRoleArn) {
  auto root = ParseBaseRoleArn("arn:aws:iam::123456789012:role/");
  ASSERT_TRUE(root);
  EXPECT_EQ(root->path, "/");
  auto with_path = ParseBaseRoleArn("arn:aws:iam::123456789012:role/k8s/");
  ASSERT_TRUE(with_path);
  EXPECT_EQ(with_path->path, "/k8s/");
  // A missing trailing slash is added (kube2iam).
  auto no_slash = ParseBaseRoleArn("arn:aws:iam::123456789012:role/k8s");
  ASSERT_TRUE(no_slash);
  EXPECT_EQ(no_slash->path, "/k8s/");
  auto bare = ParseBaseRoleArn("arn:aws:iam::123456789012:role");
  ASSERT_TRUE(bare);
  EXPECT_EQ(bare->path, "/");
  EXPECT_EQ(bare->ToString(), "arn:aws:iam::123456789012:role/");

  EXPECT_THAT(ErrorMessage(ParseBaseRoleArn("arn:aws:iam::123456789012:user/")),
              HasSubstr("must end with 'role/'"));
  EXPECT_THAT(ErrorMessage(ParseBaseRoleArn("")), HasSubstr("empty"));
}

TEST(ArnTest, ResolveBareNameKeepsTheBasePath) {
  auto base = ParseBaseRoleArn("arn:aws:iam::123456789012:role/k8s/");
  ASSERT_TRUE(base);
  auto role = ResolveRoleArn("app", *base);
  ASSERT_TRUE(role);
  EXPECT_EQ(role->ToString(), "arn:aws:iam::123456789012:role/k8s/app");
  EXPECT_EQ(role->name, "app");

  auto nested = ResolveRoleArn("team/app-role", *base);
  ASSERT_TRUE(nested);
  EXPECT_EQ(nested->ToString(), "arn:aws:iam::123456789012:role/k8s/team/app-role");
  EXPECT_EQ(nested->path, "/k8s/team/");
  EXPECT_EQ(nested->name, "app-role");

  // One leading '/' is ignored (kiam); two leave an empty segment.
  auto leading = ResolveRoleArn("/app", *base);
  ASSERT_TRUE(leading);
  EXPECT_EQ(leading->ToString(), "arn:aws:iam::123456789012:role/k8s/app");
  EXPECT_THAT(ErrorMessage(ResolveRoleArn("//app", *base)), HasSubstr("empty segment"));
}

TEST(ArnTest, ResolveFullArnIsUsedAsIs) {
  auto base = ParseBaseRoleArn("arn:aws:iam::123456789012:role/k8s/");
  ASSERT_TRUE(base);
  auto other = ResolveRoleArn("arn:aws-us-gov:iam::210987654321:role/x/y", *base);
  ASSERT_TRUE(other);
  EXPECT_EQ(other->ToString(), "arn:aws-us-gov:iam::210987654321:role/x/y");
  EXPECT_EQ(other->partition, "aws-us-gov");
  EXPECT_EQ(other->account, "210987654321");
  EXPECT_THAT(ErrorMessage(ResolveRoleArn("arn:nonsense", *base)), HasSubstr("6 ':'-separated"));
}

TEST(ArnTest, ResolveErrors) {
  BaseRoleArn base{.partition = "aws", .account = "123456789012", .path = "/"};
  EXPECT_THAT(ErrorMessage(ResolveRoleArn("", base)), HasSubstr("role is empty"));
  EXPECT_THAT(ErrorMessage(ResolveRoleArn("/", base)), HasSubstr("has no name"));
  EXPECT_THAT(ErrorMessage(ResolveRoleArn("team/", base)), HasSubstr("no role name"));
  EXPECT_THAT(ErrorMessage(ResolveRoleArn("b\xc3\xa4"
                                          "d",
                                          base)),
              HasSubstr("role name"));
  EXPECT_THAT(ErrorMessage(ResolveRoleArn(std::string(65, 'a'), base)), HasSubstr("at most 64"));
  EXPECT_THAT(ErrorMessage(ResolveRoleArn("app")), HasSubstr("no base role ARN"));
  EXPECT_TRUE(ResolveRoleArn("arn:aws:iam::123456789012:role/app"));
}

TEST(ArnTest, BaseOfARoleIsItsPrefix) {
  auto role = ParseRoleArn("arn:aws:iam::123456789012:role/nodes/node-role");
  ASSERT_TRUE(role);
  BaseRoleArn base = BaseOf(*role);
  EXPECT_EQ(base.ToString(), "arn:aws:iam::123456789012:role/nodes/");
  EXPECT_EQ(ResolveRoleArn("app", base)->ToString(), "arn:aws:iam::123456789012:role/nodes/app");
}

TEST(ArnTest, RoleNameIsTheLastPathSegment) {
  EXPECT_EQ(*RoleName("arn:aws:iam::123456789012:role/division/team/Name"), "Name");
  EXPECT_EQ(*RoleName("arn:aws:iam::123456789012:role/app"), "app");
  EXPECT_FALSE(RoleName("app"));
}

TEST(ArnTest, AssumedRoleArnDropsThePath) {
  auto role = ParseRoleArn("arn:aws:iam::123456789012:role/division/team/Name");
  ASSERT_TRUE(role);
  AssumedRoleArn assumed = AssumedRoleArnFor(*role, "pod-web-1");
  EXPECT_EQ(assumed.ToString(), "arn:aws:sts::123456789012:assumed-role/Name/pod-web-1");

  auto parsed = ParseAssumedRoleArn("arn:aws-cn:sts::123456789012:assumed-role/Name/pod-web-1");
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->partition, "aws-cn");
  EXPECT_EQ(parsed->role_name, "Name");
  EXPECT_EQ(parsed->session_name, "pod-web-1");

  std::string session64(64, 's');
  EXPECT_TRUE(ParseAssumedRoleArn("arn:aws:sts::123456789012:assumed-role/r/" + session64));
  EXPECT_THAT(ErrorMessage(ParseAssumedRoleArn("arn:aws:sts::123456789012:assumed-role/r/" +
                                               session64 + "s")),
              HasSubstr("1 to 64"));
  EXPECT_THAT(ErrorMessage(ParseAssumedRoleArn("arn:aws:sts::123456789012:assumed-role/r")),
              HasSubstr("assumed-role/<role>/<session>"));
  EXPECT_THAT(ErrorMessage(ParseAssumedRoleArn("arn:aws:sts::123456789012:assumed-role/r/a b")),
              HasSubstr("does not allow"));
  EXPECT_THAT(ErrorMessage(ParseAssumedRoleArn("arn:aws:iam::123456789012:role/r")),
              HasSubstr("service is 'iam'"));
}

TEST(ArnTest, AccountIds) {
  EXPECT_TRUE(IsValidAccountId("123456789012"));
  EXPECT_TRUE(IsValidAccountId("000000000000"));
  EXPECT_FALSE(IsValidAccountId("12345678901"));
  EXPECT_FALSE(IsValidAccountId("1234567890123"));
  EXPECT_FALSE(IsValidAccountId("12345678901a"));
  EXPECT_FALSE(IsValidAccountId(""));
  EXPECT_FALSE(IsValidAccountId("\xef\xbc\x91\xef\xbc\x92\xef\xbc\x93\xef\xbc\x94"));  // fullwidth
}

}  // namespace
}  // namespace podiam::aws
