#include "podiam/aws/credential_sources.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "podiam/testing/fake_clock.hpp"
#include "podiam/testing/fake_http_client.hpp"
#include "podiam/testing/fake_sts_client.hpp"

namespace podiam::aws {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using Files = std::map<std::string, std::string>;

FileReader FakeFiles(Files files) {
  return [files = std::move(files)](const std::string& path) -> Result<std::string> {
    auto it = files.find(path);
    if (it == files.end()) {
      return MakeError(ErrorCode::kNotFound, "cannot read '" + path + "': No such file");
    }
    return it->second;
  };
}

// --- environment -------------------------------------------------------------------------

TEST(EnvironmentCredentialsTest, ReadsKeysTokenAndExpiration) {
  EnvironmentCredentialsProvider provider(
      MapEnvironment({{"AWS_ACCESS_KEY_ID", "AKIDENV"},
                      {"AWS_SECRET_ACCESS_KEY", "env-secret"},
                      {"AWS_SESSION_TOKEN", "env-token"},
                      {"AWS_CREDENTIAL_EXPIRATION", "2026-01-01T01:00:00Z"}}));
  auto creds = provider.Get();
  ASSERT_TRUE(creds);
  EXPECT_EQ(creds->access_key_id, "AKIDENV");
  EXPECT_EQ(creds->secret_access_key, "env-secret");
  EXPECT_EQ(creds->session_token, "env-token");
  EXPECT_EQ(creds->expiration, *ParseTimestamp("2026-01-01T01:00:00Z"));
  EXPECT_EQ(creds->source, "environment");
}

TEST(EnvironmentCredentialsTest, LegacyTokenAndErrors) {
  auto legacy = EnvironmentCredentialsProvider(MapEnvironment({{"AWS_ACCESS_KEY_ID", "A"},
                                                               {"AWS_SECRET_ACCESS_KEY", "S"},
                                                               {"AWS_SECURITY_TOKEN", "T"}}))
                    .Get();
  ASSERT_TRUE(legacy);
  EXPECT_EQ(legacy->session_token, "T");
  EXPECT_FALSE(legacy->expiration);

  auto unset = EnvironmentCredentialsProvider(MapEnvironment({{"AWS_ACCESS_KEY_ID", ""}})).Get();
  ASSERT_FALSE(unset);
  EXPECT_EQ(unset.error().code(), ErrorCode::kNotFound);

  auto partial = EnvironmentCredentialsProvider(MapEnvironment({{"AWS_ACCESS_KEY_ID", "A"}})).Get();
  ASSERT_FALSE(partial);
  EXPECT_EQ(partial.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(partial.error().message(), HasSubstr("only one of"));

  auto bad_expiry =
      EnvironmentCredentialsProvider(MapEnvironment({{"AWS_ACCESS_KEY_ID", "A"},
                                                     {"AWS_SECRET_ACCESS_KEY", "S"},
                                                     {"AWS_CREDENTIAL_EXPIRATION", "soon"}}))
          .Get();
  ASSERT_FALSE(bad_expiry);
  EXPECT_THAT(bad_expiry.error().message(), HasSubstr("AWS_CREDENTIAL_EXPIRATION"));
}

// --- shared files ------------------------------------------------------------------------

TEST(SharedFilesCredentialsTest, DefaultProfileFromTheCredentialsFile) {
  SharedFilesCredentialsProvider provider(
      MapEnvironment({{"HOME", "/home/p"}}),
      FakeFiles({{"/home/p/.aws/credentials",
                  "[default]\naws_access_key_id = AKIDFILE\naws_secret_access_key = s\n"
                  "aws_session_token = t\n"}}));
  auto creds = provider.Get();
  ASSERT_TRUE(creds) << creds.error().ToString();
  EXPECT_EQ(creds->access_key_id, "AKIDFILE");
  EXPECT_EQ(creds->session_token, "t");
  EXPECT_EQ(creds->source, "shared-files profile=default file=/home/p/.aws/credentials");
}

TEST(SharedFilesCredentialsTest, NamedProfileFromEnvPathsAndConfigFile) {
  SharedFilesCredentialsProvider provider(
      MapEnvironment({{"HOME", "/home/p"},
                      {"AWS_PROFILE", "ci"},
                      {"AWS_SHARED_CREDENTIALS_FILE", "~/creds"},
                      {"AWS_CONFIG_FILE", "/etc/aws/config"}}),
      FakeFiles({{"/home/p/creds", "[other]\naws_access_key_id=X\naws_secret_access_key=Y\n"},
                 {"/etc/aws/config",
                  "[default]\nregion=us-east-1\n[profile ci]\nregion = eu-west-1\n"
                  "aws_access_key_id = AKIDCI\naws_secret_access_key = ci-secret\n"
                  "aws_security_token = legacy\n"}}));
  auto creds = provider.Get();
  ASSERT_TRUE(creds) << creds.error().ToString();
  EXPECT_EQ(creds->access_key_id, "AKIDCI");
  EXPECT_EQ(creds->session_token, "legacy");
  EXPECT_EQ(creds->source, "shared-files profile=ci file=/etc/aws/config");
}

TEST(SharedFilesCredentialsTest, CredentialsFileWinsOverConfigFile) {
  SharedFilesCredentialsProvider provider(
      MapEnvironment({{"HOME", "/h"}, {"AWS_DEFAULT_PROFILE", "p"}}),
      FakeFiles({{"/h/.aws/credentials",
                  "[p]\naws_access_key_id=FROMCREDS\n"
                  "aws_secret_access_key=s\n"},
                 {"/h/.aws/config",
                  "[profile p]\naws_access_key_id=FROMCONFIG\n"
                  "aws_secret_access_key=s\n"}}));
  EXPECT_EQ(provider.Get()->access_key_id, "FROMCREDS");
}

TEST(SharedFilesCredentialsTest, MissingFilesOrProfiles) {
  auto none = SharedFilesCredentialsProvider(MapEnvironment({{"HOME", "/h"}}), FakeFiles({})).Get();
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code(), ErrorCode::kNotFound);
  EXPECT_THAT(none.error().message(), HasSubstr("/h/.aws/credentials or /h/.aws/config"));

  // An explicitly chosen profile that does not exist is a configuration error.
  auto missing =
      SharedFilesCredentialsProvider(MapEnvironment({{"HOME", "/h"}, {"AWS_PROFILE", "nope"}}),
                                     FakeFiles({{"/h/.aws/credentials", "[default]\n"}}))
          .Get();
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(missing.error().message(), HasSubstr("profile 'nope' (from AWS_PROFILE)"));

  // A profile with only settings (region) has no credentials: the chain moves on.
  auto settings_only = SharedFilesCredentialsProvider(
                           MapEnvironment({{"HOME", "/h"}}),
                           FakeFiles({{"/h/.aws/config", "[default]\nregion = eu-west-1\n"}}))
                           .Get();
  ASSERT_FALSE(settings_only);
  EXPECT_EQ(settings_only.error().code(), ErrorCode::kNotFound);
}

TEST(SharedFilesCredentialsTest, UnsupportedProfileKindsAreClearErrors) {
  for (std::string line :
       {"role_arn = arn:aws:iam::123456789012:role/x\nsource_profile = base",
        "credential_process = /bin/creds", "sso_session = corp", "web_identity_token_file = /t"}) {
    auto result =
        SharedFilesCredentialsProvider(MapEnvironment({{"HOME", "/h"}}),
                                       FakeFiles({{"/h/.aws/config", "[default]\n" + line + "\n"}}))
            .Get();
    ASSERT_FALSE(result) << line;
    EXPECT_EQ(result.error().code(), ErrorCode::kFailedPrecondition);
    EXPECT_THAT(result.error().message(), HasSubstr("which podiam does not support"));
  }
}

TEST(SharedFilesCredentialsTest, PartialKeysAndBrokenFiles) {
  auto partial = SharedFilesCredentialsProvider(
                     MapEnvironment({{"HOME", "/h"}}),
                     FakeFiles({{"/h/.aws/credentials", "[default]\naws_access_key_id=A\n"}}))
                     .Get();
  ASSERT_FALSE(partial);
  EXPECT_EQ(partial.error().code(), ErrorCode::kInvalidArgument);
  auto broken = SharedFilesCredentialsProvider(
                    MapEnvironment({{"HOME", "/h"}}),
                    FakeFiles({{"/h/.aws/credentials", "[default]\nAKIA-not-an-option\n"}}))
                    .Get();
  ASSERT_FALSE(broken);
  EXPECT_THAT(broken.error().message(), HasSubstr("/h/.aws/credentials: line 2"));
  EXPECT_THAT(broken.error().message(), Not(HasSubstr("AKIA")));
}

// --- web identity ------------------------------------------------------------------------

TEST(WebIdentityCredentialsTest, AssumesTheRoleWithTheTokenFile) {
  testing::FakeClock clock;
  testing::FakeStsClient sts(clock);
  WebIdentityCredentialsProvider provider(
      sts,
      MapEnvironment({{"AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/podiam"},
                      {"AWS_WEB_IDENTITY_TOKEN_FILE", "/var/run/token"},
                      {"AWS_ROLE_SESSION_NAME", "agent-1"}}),
      FakeFiles({{"/var/run/token", "eyJhbGciOi.payload.sig\n"}}), clock);
  auto creds = provider.Get();
  ASSERT_TRUE(creds) << creds.error().ToString();
  EXPECT_EQ(creds->source, "web-identity role=arn:aws:iam::123456789012:role/podiam");
  EXPECT_EQ(sts.Calls(testing::FakeStsClient::Action::kAssumeRoleWithWebIdentity), 1);
}

TEST(WebIdentityCredentialsTest, ConfigurationErrors) {
  testing::FakeClock clock;
  testing::FakeStsClient sts(clock);
  auto not_set =
      WebIdentityCredentialsProvider(sts, MapEnvironment({}), FakeFiles({}), clock).Get();
  ASSERT_FALSE(not_set);
  EXPECT_EQ(not_set.error().code(), ErrorCode::kNotFound);

  auto no_role =
      WebIdentityCredentialsProvider(sts, MapEnvironment({{"AWS_WEB_IDENTITY_TOKEN_FILE", "/t"}}),
                                     FakeFiles({}), clock)
          .Get();
  ASSERT_FALSE(no_role);
  EXPECT_EQ(no_role.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(no_role.error().message(), HasSubstr("AWS_ROLE_ARN is not"));

  auto env = MapEnvironment({{"AWS_WEB_IDENTITY_TOKEN_FILE", "/t"},
                             {"AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/x"}});
  auto no_file = WebIdentityCredentialsProvider(sts, env, FakeFiles({}), clock).Get();
  ASSERT_FALSE(no_file);
  EXPECT_EQ(no_file.error().code(), ErrorCode::kUnavailable);  // configured, so the chain stops
  auto empty = WebIdentityCredentialsProvider(sts, env, FakeFiles({{"/t", "\n"}}), clock).Get();
  ASSERT_FALSE(empty);
  EXPECT_THAT(empty.error().message(), HasSubstr("is empty"));
  EXPECT_EQ(sts.Calls(testing::FakeStsClient::Action::kAssumeRoleWithWebIdentity), 0);
}

// --- container ---------------------------------------------------------------------------

constexpr std::string_view kCredentialsJson =
    R"({"AccessKeyId":"ASIACONT","SecretAccessKey":"cs","Token":"ct","AccountId":"123456789012",)"
    R"("Expiration":"2026-01-01T01:00:00Z"})";

TEST(ContainerCredentialsTest, FullUriWithTokenFile) {
  testing::FakeHttpClient http;
  http.PushResponse(200, std::string(kCredentialsJson));
  ContainerCredentialsProvider provider(
      http,
      MapEnvironment(
          {{"AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://169.254.170.23/v1/credentials"},
           {"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "/tok"},
           {"AWS_CONTAINER_AUTHORIZATION_TOKEN", "ignored"}}),
      FakeFiles({{"/tok", "eyJpod.token.sig"}}));
  auto creds = provider.Get();
  ASSERT_TRUE(creds) << creds.error().ToString();
  EXPECT_EQ(creds->access_key_id, "ASIACONT");
  EXPECT_EQ(creds->session_token, "ct");
  EXPECT_EQ(creds->source, "container url=http://169.254.170.23/v1/credentials");
  auto sent = http.last_request();
  EXPECT_EQ(sent.method, "GET");
  EXPECT_EQ(sent.url, "http://169.254.170.23/v1/credentials");
  EXPECT_EQ(sent.headers.Get("Authorization"), "eyJpod.token.sig");
  EXPECT_EQ(sent.headers.Get("Accept"), "application/json");
  EXPECT_EQ(sent.timeout, std::chrono::seconds(2));
}

TEST(ContainerCredentialsTest, RelativeUriComesFirstAndUsesTheLiteralToken) {
  testing::FakeHttpClient http;
  http.PushResponse(200, std::string(kCredentialsJson));
  ContainerCredentialsProvider provider(
      http,
      MapEnvironment({{"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/credentials/abc"},
                      {"AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1/x"},
                      {"AWS_CONTAINER_AUTHORIZATION_TOKEN", "Basic abc"}}),
      FakeFiles({}));
  ASSERT_TRUE(provider.Get());
  EXPECT_EQ(http.last_request().url, "http://169.254.170.2/v2/credentials/abc");
  EXPECT_EQ(http.last_request().headers.Get("Authorization"), "Basic abc");
}

TEST(ContainerCredentialsTest, HostRules) {
  for (std::string allowed :
       {"http://127.0.0.1:8080/c", "http://127.1.2.3/c", "http://[::1]/c", "http://localhost/c",
        "http://169.254.170.2/c", "http://[fd00:ec2::23]/c", "https://creds.example.com/c"}) {
    testing::FakeHttpClient http;
    http.PushResponse(200, std::string(kCredentialsJson));
    ContainerCredentialsProvider provider(
        http, MapEnvironment({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", allowed}}), FakeFiles({}));
    EXPECT_TRUE(provider.Get()) << allowed;
  }
  for (std::string denied :
       {"http://10.1.2.3/c", "http://example.com/c", "http://127.0.0.1.evil/c"}) {
    testing::FakeHttpClient http;
    ContainerCredentialsProvider provider(
        http, MapEnvironment({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", denied}}), FakeFiles({}));
    auto result = provider.Get();
    ASSERT_FALSE(result) << denied;
    EXPECT_EQ(result.error().code(), ErrorCode::kInvalidArgument);
    EXPECT_THAT(result.error().message(), HasSubstr("is not allowed over http"));
    EXPECT_EQ(http.request_count(), 0u);
  }
}

TEST(ContainerCredentialsTest, Failures) {
  testing::FakeHttpClient http;
  auto env = MapEnvironment({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1/c"},
                             {"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "/tok"}});
  auto crlf = ContainerCredentialsProvider(http, env, FakeFiles({{"/tok", "abc\n"}})).Get();
  ASSERT_FALSE(crlf);
  EXPECT_THAT(crlf.error().message(), HasSubstr("CR or LF"));

  http.PushResponse(500, "oops");
  auto server = ContainerCredentialsProvider(http, env, FakeFiles({{"/tok", "abc"}})).Get();
  ASSERT_FALSE(server);
  EXPECT_EQ(server.error().code(), ErrorCode::kUnavailable);
  EXPECT_THAT(server.error().message(), HasSubstr("HTTP 500"));

  http.PushResponse(200, R"({"AccessKeyId":"A","Token":"secret-token"})");
  auto incomplete = ContainerCredentialsProvider(http, env, FakeFiles({{"/tok", "abc"}})).Get();
  ASSERT_FALSE(incomplete);
  EXPECT_EQ(incomplete.error().code(), ErrorCode::kUpstreamInvalid);
  EXPECT_THAT(incomplete.error().message(), Not(HasSubstr("secret-token")));

  auto unset = ContainerCredentialsProvider(http, MapEnvironment({}), FakeFiles({})).Get();
  ASSERT_FALSE(unset);
  EXPECT_EQ(unset.error().code(), ErrorCode::kNotFound);
}

TEST(CredentialsJsonTest, StaticWhenNoExpirationAndCodeMustBeSuccess) {
  auto static_creds = ParseCredentialsJson(R"({"AccessKeyId":"A","SecretAccessKey":"S"})", "x");
  ASSERT_TRUE(static_creds);
  EXPECT_FALSE(static_creds->expiration);
  auto failed = ParseCredentialsJson(
      R"({"Code":"AssumeRoleUnauthorizedAccess","Message":"nope","AccessKeyId":"A"})", "imds");
  ASSERT_FALSE(failed);
  EXPECT_THAT(failed.error().message(), HasSubstr("Code 'AssumeRoleUnauthorizedAccess'"));
  EXPECT_TRUE(ParseCredentialsJson(R"({"Code":"success","AccessKeyId":"A","SecretAccessKey":"S"})",
                                   "imds"));
  EXPECT_FALSE(ParseCredentialsJson("[1,2]", "x"));
  EXPECT_FALSE(ParseCredentialsJson("not json", "x"));
}

// --- IMDS --------------------------------------------------------------------------------

constexpr std::string_view kImdsJson =
    R"({"Code":"Success","LastUpdated":"2026-01-01T00:00:00Z","Type":"AWS-HMAC",)"
    R"("AccessKeyId":"ASIANODE","SecretAccessKey":"ns","Token":"nt",)"
    R"("Expiration":"2026-01-01T06:00:00Z"})";

// Time stands still: every request gets the whole per-request timeout.
const Clock& ImdsClock() {
  static const testing::FakeClock clock;
  return clock;
}

TEST(ImdsCredentialsTest, Imdsv2Sequence) {
  testing::FakeHttpClient http;
  http.PushResponse(200, "the-token");
  http.PushResponse(200, "node-role\nsecond-line");
  http.PushResponse(200, std::string(kImdsJson));
  ImdsCredentialsProvider provider(http, MapEnvironment({}), ImdsClock());
  auto creds = provider.Get();
  ASSERT_TRUE(creds) << creds.error().ToString();
  EXPECT_EQ(creds->access_key_id, "ASIANODE");
  EXPECT_EQ(creds->source, "imds role=node-role");
  auto requests = http.requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_EQ(requests[0].method, "PUT");
  EXPECT_EQ(requests[0].url, "http://169.254.169.254/latest/api/token");
  EXPECT_EQ(requests[0].headers.Get("X-aws-ec2-metadata-token-ttl-seconds"), "21600");
  EXPECT_EQ(requests[0].timeout, std::chrono::seconds(1));
  EXPECT_EQ(requests[1].url, "http://169.254.169.254/latest/meta-data/iam/security-credentials/");
  EXPECT_EQ(requests[1].headers.Get("X-aws-ec2-metadata-token"), "the-token");
  EXPECT_EQ(requests[2].url,
            "http://169.254.169.254/latest/meta-data/iam/security-credentials/node-role");
  EXPECT_EQ(requests[2].headers.Get("X-aws-ec2-metadata-token"), "the-token");
}

TEST(ImdsCredentialsTest, FallsBackToImdsv1LikeBotocore) {
  for (int status : {403, 404, 405}) {
    testing::FakeHttpClient http;
    http.PushResponse(status, "");
    http.PushResponse(200, "node-role");
    http.PushResponse(200, std::string(kImdsJson));
    ImdsCredentialsProvider provider(
        http, MapEnvironment({{"AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:8181/"}}),
        ImdsClock());
    ASSERT_TRUE(provider.Get()) << status;
    auto requests = http.requests();
    EXPECT_EQ(requests[1].url, "http://127.0.0.1:8181/latest/meta-data/iam/security-credentials/");
    EXPECT_FALSE(requests[1].headers.Has("X-aws-ec2-metadata-token"));
  }
  // A token PUT that times out also falls back...
  testing::FakeHttpClient slow;
  slow.PushError(ErrorCode::kDeadlineExceeded, "timed out");
  slow.PushResponse(200, "node-role");
  slow.PushResponse(200, std::string(kImdsJson));
  EXPECT_TRUE(ImdsCredentialsProvider(slow, MapEnvironment({}), ImdsClock()).Get());
  // ...unless IMDSv1 is disabled.
  testing::FakeHttpClient v1_off;
  v1_off.PushResponse(403, "");
  auto refused =
      ImdsCredentialsProvider(v1_off, MapEnvironment({{"AWS_EC2_METADATA_V1_DISABLED", "true"}}),
                              ImdsClock())
          .Get();
  ASSERT_FALSE(refused);
  EXPECT_THAT(refused.error().message(), HasSubstr("AWS_EC2_METADATA_V1_DISABLED"));
}

TEST(ImdsCredentialsTest, Failures) {
  testing::FakeHttpClient down;
  down.PushError(ErrorCode::kUnavailable, "connection refused");
  auto nothing = ImdsCredentialsProvider(down, MapEnvironment({}), ImdsClock()).Get();
  ASSERT_FALSE(nothing);
  EXPECT_EQ(nothing.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(down.request_count(), 1u);

  testing::FakeHttpClient bad_request;
  bad_request.PushResponse(400, "");
  auto rejected = ImdsCredentialsProvider(bad_request, MapEnvironment({}), ImdsClock()).Get();
  ASSERT_FALSE(rejected);
  EXPECT_EQ(rejected.error().code(), ErrorCode::kUnavailable);

  testing::FakeHttpClient no_profile;
  no_profile.PushResponse(200, "tok");
  no_profile.PushResponse(404, "");
  auto none = ImdsCredentialsProvider(no_profile, MapEnvironment({}), ImdsClock()).Get();
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code(), ErrorCode::kNotFound);
  EXPECT_THAT(none.error().message(), HasSubstr("no instance profile"));

  testing::FakeHttpClient disabled;
  auto off = ImdsCredentialsProvider(
                 disabled, MapEnvironment({{"AWS_EC2_METADATA_DISABLED", "TRUE"}}), ImdsClock())
                 .Get();
  ASSERT_FALSE(off);
  EXPECT_EQ(off.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(disabled.request_count(), 0u);
}

// --- the default chain ---------------------------------------------------------------------

struct ChainFixture {
  testing::FakeClock clock;
  testing::FakeStsClient sts{clock};
  testing::FakeHttpClient http;

  Result<Credentials> Get(std::map<std::string, std::string, std::less<>> env, Files files = {}) {
    auto chain = NewDefaultCredentialsChain({.http = http,
                                             .web_identity_sts = sts,
                                             .clock = clock,
                                             .env = MapEnvironment(std::move(env)),
                                             .read_file = FakeFiles(std::move(files))});
    return chain->Get();
  }
};

TEST(DefaultChainTest, OrderIsEnvWebIdentityFilesContainerImds) {
  const std::map<std::string, std::string, std::less<>> everything = {
      {"HOME", "/h"},
      {"AWS_ACCESS_KEY_ID", "AKIDENV"},
      {"AWS_SECRET_ACCESS_KEY", "s"},
      {"AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/irsa"},
      {"AWS_WEB_IDENTITY_TOKEN_FILE", "/token"},
      {"AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1/c"}};
  const Files files = {
      {"/token", "eyJ.a.b"},
      {"/h/.aws/credentials", "[default]\naws_access_key_id=AKIDFILE\naws_secret_access_key=s\n"}};
  auto env = everything;
  {
    ChainFixture f;
    EXPECT_EQ(f.Get(env, files)->source, "environment");
  }
  env.erase("AWS_ACCESS_KEY_ID");
  env.erase("AWS_SECRET_ACCESS_KEY");
  {
    ChainFixture f;
    EXPECT_EQ(f.Get(env, files)->source, "web-identity role=arn:aws:iam::123456789012:role/irsa");
  }
  env.erase("AWS_WEB_IDENTITY_TOKEN_FILE");
  {
    ChainFixture f;
    EXPECT_EQ(f.Get(env, files)->source, "shared-files profile=default file=/h/.aws/credentials");
  }
  {
    ChainFixture f;
    f.http.PushResponse(200, std::string(kCredentialsJson));
    EXPECT_EQ(f.Get(env)->source, "container url=http://127.0.0.1/c");
  }
  env.erase("AWS_CONTAINER_CREDENTIALS_FULL_URI");
  {
    ChainFixture f;
    f.http.PushResponse(200, "tok");
    f.http.PushResponse(200, "node-role");
    f.http.PushResponse(200, std::string(kImdsJson));
    EXPECT_EQ(f.Get(env)->source, "imds role=node-role");
  }
  {
    ChainFixture f;
    f.http.PushError(ErrorCode::kUnavailable, "connection refused");
    auto none = f.Get(env);
    ASSERT_FALSE(none);
    EXPECT_EQ(none.error().code(), ErrorCode::kNotFound);
    EXPECT_THAT(none.error().message(),
                HasSubstr("tried environment (AWS_ACCESS_KEY_ID is not set); web-identity"));
    EXPECT_THAT(none.error().message(), HasSubstr("imds (no instance metadata service"));
  }
}

TEST(DefaultChainTest, ContainerFailureStopsTheChainBeforeImds) {
  ChainFixture f;
  f.http.PushResponse(503, "");
  auto result = f.Get({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1/c"}});
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code(), ErrorCode::kUnavailable);
  EXPECT_THAT(result.error().message(), HasSubstr("container: "));
  EXPECT_EQ(f.http.request_count(), 1u);
}

}  // namespace
}  // namespace podiam::aws
