#include "podiam/aws/sigv4.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace podiam::aws {
namespace {

using ::testing::HasSubstr;

// docs/protocols.md#sigv4: the public aws-c-auth vectors and the STS vector cross-checked with
// botocore.
const Credentials kExample{.access_key_id = "AKIDEXAMPLE",
                           .secret_access_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"};
constexpr std::string_view kToken =
    "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267";
constexpr std::string_view kStsBody =
    "Action=AssumeRole&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fpath%2Fmy-role&"
    "RoleSessionName=pod-web-1&Version=2011-06-15";

Clock::WallTime VectorTime() { return *ParseTimestamp("2015-08-30T12:36:00Z"); }

http::ClientRequest StsRequest() {
  http::ClientRequest request{.method = "POST",
                              .url = "https://sts.us-east-1.amazonaws.com/",
                              .body = std::string(kStsBody)};
  request.headers.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8");
  return request;
}

TEST(SigV4Test, GetVanilla) {
  http::ClientRequest request{.method = "GET", .url = "https://example.amazonaws.com/"};
  auto parts = SignRequest(request, kExample,
                           {.region = "us-east-1", .service = "service", .time = VectorTime()});
  ASSERT_TRUE(parts) << parts.error().ToString();
  EXPECT_EQ(request.headers.Get("Authorization"),
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
            "SignedHeaders=host;x-amz-date, "
            "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
  EXPECT_EQ(request.headers.Get("X-Amz-Date"), "20150830T123600Z");
  EXPECT_EQ(request.headers.Get("Host"), "example.amazonaws.com");
  EXPECT_FALSE(request.headers.Has("X-Amz-Security-Token"));
}

TEST(SigV4Test, GetVanillaWithSessionToken) {
  http::ClientRequest request{.method = "GET", .url = "https://example.amazonaws.com/"};
  Credentials creds = kExample;
  creds.session_token = std::string(kToken);
  auto parts = SignRequest(request, creds,
                           {.region = "us-east-1", .service = "service", .time = VectorTime()});
  ASSERT_TRUE(parts);
  EXPECT_EQ(parts->signed_headers, "host;x-amz-date;x-amz-security-token");
  EXPECT_EQ(parts->signature, "07ec1639c89043aa0e3e2de82b96708f198cceab042d4a97044c66dd9f74e7f8");
  EXPECT_EQ(request.headers.Get("X-Amz-Security-Token"), kToken);
}

TEST(SigV4Test, StsAssumeRoleVectorEveryStep) {
  http::ClientRequest request = StsRequest();
  auto parts = SignRequest(request, kExample,
                           {.region = "us-east-1", .service = "sts", .time = VectorTime()});
  ASSERT_TRUE(parts);
  EXPECT_EQ(Sha256Hex(kStsBody),
            "737a3b849a0c7eadeb5be3640c68f4cca0c51d1a1904023ab64848cbd3a17de1");
  EXPECT_EQ(parts->canonical_request,
            "POST\n"
            "/\n"
            "\n"
            "content-type:application/x-www-form-urlencoded; charset=utf-8\n"
            "host:sts.us-east-1.amazonaws.com\n"
            "x-amz-date:20150830T123600Z\n"
            "\n"
            "content-type;host;x-amz-date\n"
            "737a3b849a0c7eadeb5be3640c68f4cca0c51d1a1904023ab64848cbd3a17de1");
  EXPECT_EQ(parts->string_to_sign,
            "AWS4-HMAC-SHA256\n"
            "20150830T123600Z\n"
            "20150830/us-east-1/sts/aws4_request\n"
            "92f94b16ca0c97943246ffd7e4839d0ea0a3e3094951b130b3f2472f26af510d");
  EXPECT_EQ(HexEncode(DeriveSigningKey(kExample.secret_access_key, "20150830", "us-east-1", "sts")),
            "a9d028e9e96178f3ed6acfa66eff308447119de7ba1dd1dc7b666bbcb5686dfd");
  EXPECT_EQ(parts->authorization,
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/sts/aws4_request, "
            "SignedHeaders=content-type;host;x-amz-date, "
            "Signature=3bb0ad4e75c3c1b9e3e99af438ab117d52f9bcc3ac0c0a4682fd1e3dde4103c9");
  EXPECT_EQ(request.headers.Get("Authorization"), parts->authorization);
}

TEST(SigV4Test, StsAssumeRoleVectorWithSessionToken) {
  http::ClientRequest request = StsRequest();
  Credentials creds = kExample;
  creds.session_token = std::string(kToken);
  auto parts =
      SignRequest(request, creds, {.region = "us-east-1", .service = "sts", .time = VectorTime()});
  ASSERT_TRUE(parts);
  EXPECT_EQ(parts->signed_headers, "content-type;host;x-amz-date;x-amz-security-token");
  EXPECT_EQ(parts->signature, "e4afe705c3c56409accde04cfba678e773abe67a65415657b0587f07dea0a7f7");
}

TEST(SigV4Test, ResigningReplacesEarlierHeaders) {
  http::ClientRequest request = StsRequest();
  Credentials creds = kExample;
  creds.session_token = "old-token";
  ASSERT_TRUE(
      SignRequest(request, creds, {.region = "us-east-1", .service = "sts", .time = VectorTime()}));
  // A retry with long-term keys: no stale token, one Authorization, same result as a fresh sign.
  auto again = SignRequest(request, kExample,
                           {.region = "us-east-1", .service = "sts", .time = VectorTime()});
  ASSERT_TRUE(again);
  EXPECT_FALSE(request.headers.Has("X-Amz-Security-Token"));
  EXPECT_EQ(request.headers.Count("Authorization"), 1u);
  EXPECT_EQ(again->signature, "3bb0ad4e75c3c1b9e3e99af438ab117d52f9bcc3ac0c0a4682fd1e3dde4103c9");
}

TEST(SigV4Test, UserAgentAndHopByHopHeadersAreNotSigned) {
  http::ClientRequest request = StsRequest();
  request.headers.Set("User-Agent", "podiam/0.1");
  request.headers.Set("Connection", "keep-alive");
  auto parts = SignRequest(request, kExample,
                           {.region = "us-east-1", .service = "sts", .time = VectorTime()});
  ASSERT_TRUE(parts);
  EXPECT_EQ(parts->signed_headers, "content-type;host;x-amz-date");
}

TEST(SigV4Test, HeaderValuesAreTrimmedAndRepeatedHeadersJoined) {
  http::ClientRequest request{.method = "GET", .url = "https://example.amazonaws.com/"};
  request.headers.Add("My-Header1", "  value1  with   spaces ");
  request.headers.Add("my-header1", "\tsecond\n");
  auto parts = SignRequest(request, kExample,
                           {.region = "us-east-1", .service = "service", .time = VectorTime()});
  ASSERT_TRUE(parts);
  EXPECT_THAT(parts->canonical_request, HasSubstr("\nmy-header1:value1 with spaces,second\n"));
  EXPECT_EQ(parts->signed_headers, "host;my-header1;x-amz-date");
}

TEST(SigV4Test, NonDefaultPortIsPartOfHostAndQueryIsSorted) {
  http::ClientRequest request{.method = "GET",
                              .url = "http://127.0.0.1:5599/some%20path/x?b=2&a=1&a=0"};
  auto parts = SignRequest(request, kExample,
                           {.region = "us-east-1", .service = "sts", .time = VectorTime()});
  ASSERT_TRUE(parts);
  EXPECT_EQ(request.headers.Get("Host"), "127.0.0.1:5599");
  EXPECT_THAT(parts->canonical_request,
              HasSubstr("GET\n/some%2520path/x\na=0&a=1&b=2\nhost:127.0.0.1:5599\n"));
}

TEST(SigV4Test, MissingInputsAreErrors) {
  http::ClientRequest request = StsRequest();
  auto no_keys = SignRequest(request, Credentials{},
                             {.region = "us-east-1", .service = "sts", .time = VectorTime()});
  ASSERT_FALSE(no_keys);
  EXPECT_EQ(no_keys.error().code(), ErrorCode::kFailedPrecondition);
  auto no_region =
      SignRequest(request, kExample, {.region = "", .service = "sts", .time = VectorTime()});
  ASSERT_FALSE(no_region);
  EXPECT_EQ(no_region.error().code(), ErrorCode::kInvalidArgument);
  request.url = "not a url";
  auto bad_url = SignRequest(request, kExample,
                             {.region = "us-east-1", .service = "sts", .time = VectorTime()});
  ASSERT_FALSE(bad_url);
  EXPECT_THAT(bad_url.error().message(), HasSubstr("cannot sign"));
}

TEST(SigV4Test, BuildingBlocks) {
  EXPECT_EQ(UriEncode("AZaz09-_.~"), "AZaz09-_.~");
  EXPECT_EQ(UriEncode("a b+c/d=é"), "a%20b%2Bc%2Fd%3D%C3%A9");
  EXPECT_EQ(UriEncode("/a b/", /*keep_slash=*/true), "/a%20b/");
  EXPECT_EQ(HexEncode(std::string("\x00\xff", 2)), "00ff");
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  // RFC 4231 test case 2.
  EXPECT_EQ(HexEncode(HmacSha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  EXPECT_EQ(FormatAmzDate(VectorTime()), "20150830T123600Z");
}

}  // namespace
}  // namespace podiam::aws
