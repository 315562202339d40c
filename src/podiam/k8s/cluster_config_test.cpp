#include "podiam/k8s/cluster_config.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "podiam/testing/fake_clock.hpp"

namespace podiam::k8s {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

class ClusterConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/podiam-k8s-config-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string Write(const std::string& name, const std::string& content) {
    std::string path = dir_ + "/" + name;
    fs::create_directories(fs::path(path).parent_path());
    std::ofstream(path) << content;
    return path;
  }

  ConfigOptions Options() {
    ConfigOptions o;
    o.env = [this](std::string_view name) -> std::optional<std::string> {
      auto it = env_.find(std::string(name));
      if (it == env_.end()) {
        return std::nullopt;
      }
      return it->second;
    };
    o.temp_dir = dir_;
    o.in_cluster = {.token_file = dir_ + "/sa/token",
                    .ca_file = dir_ + "/sa/ca.crt",
                    .namespace_file = dir_ + "/sa/namespace"};
    return o;
  }

  Result<ClusterConfig> Parse(const std::string& yaml, ConfigOptions options) {
    return ParseKubeconfig(yaml, dir_, dir_ + "/config", options, clock_);
  }

  static std::string Kubeconfig(const std::string& cluster, const std::string& user,
                                const std::string& context_extra = "") {
    return "apiVersion: v1\nkind: Config\ncurrent-context: main\n"
           "contexts:\n- name: main\n  context:\n    cluster: c1\n    user: u1\n" +
           context_extra +
           "- name: other\n  context:\n    cluster: c1\n    user: u2\n"
           "clusters:\n- name: c1\n  cluster:\n" +
           cluster + "users:\n- name: u1\n  user:\n" + user +
           "- name: u2\n  user:\n    token: other-token\n";
  }

  std::string dir_;
  std::map<std::string, std::string> env_;
  testing::FakeClock clock_;
};

TEST_F(ClusterConfigTest, TokenAndRelativeCaFile) {
  Write("pki/ca.crt", "CA");
  auto c = Parse(Kubeconfig("    server: https://127.0.0.1:6443\n"
                            "    certificate-authority: pki/ca.crt\n",
                            "    token: abc123\n", "    namespace: team-a\n"),
                 Options());
  ASSERT_TRUE(c) << c.error().ToString();
  EXPECT_EQ(c->server, "https://127.0.0.1:6443");
  EXPECT_EQ(c->ca_file, dir_ + "/pki/ca.crt");
  EXPECT_EQ(c->namespace_name, "team-a");
  ASSERT_NE(c->token, nullptr);
  EXPECT_EQ(*c->token->Token(), "abc123");
  EXPECT_FALSE(c->insecure_skip_tls_verify);
  EXPECT_THAT(c->origin, HasSubstr("context main"));
}

TEST_F(ClusterConfigTest, ContextOverrideAndDefaults) {
  auto options = Options();
  options.context = "other";
  auto c = Parse(Kubeconfig("    server: https://api.example:443\n", "    token: t\n"), options);
  ASSERT_TRUE(c) << c.error().ToString();
  EXPECT_EQ(*c->token->Token(), "other-token");
  EXPECT_EQ(c->namespace_name, "default");
  EXPECT_EQ(c->ca_file, "");  // the system trust store

  options.context = "missing";
  auto missing = Parse(Kubeconfig("    server: https://a\n", "    token: t\n"), options);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(missing.error().message(), HasSubstr("missing"));
}

TEST_F(ClusterConfigTest, InlineDataGoesToPrivateFilesThatDisappearWithTheConfig) {
  auto c = Parse(Kubeconfig("    server: https://127.0.0.1:6443\n"
                            "    certificate-authority-data: Q0EtUEVN\n",  // "CA-PEM"
                            "    client-certificate-data: Q0VSVA==\n"      // "CERT"
                            "    client-key-data: S0VZ\n"),                // "KEY"
                 Options());
  ASSERT_TRUE(c) << c.error().ToString();
  EXPECT_EQ(c->token, nullptr);
  std::string dir = fs::path(c->ca_file).parent_path();
  EXPECT_EQ(fs::path(c->client_key_file).parent_path(), dir);
  std::ifstream key(c->client_key_file);
  std::string text((std::istreambuf_iterator<char>(key)), {});
  EXPECT_EQ(text, "KEY");
  struct stat st {};
  ASSERT_EQ(stat(c->client_key_file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600U);
  ASSERT_EQ(stat(dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700U);

  ClusterConfig copy = *c;
  c = MakeError(ErrorCode::kInternal, "gone");
  EXPECT_TRUE(fs::exists(dir));  // the copy still holds it
  copy = ClusterConfig();
  EXPECT_FALSE(fs::exists(dir));
}

TEST_F(ClusterConfigTest, ClientCertificateFiles) {
  Write("client.crt", "CERT");
  Write("client.key", "KEY");
  auto c = Parse(Kubeconfig("    server: https://a:1\n",
                            "    client-certificate: client.crt\n"
                            "    client-key: " +
                                dir_ + "/client.key\n"),
                 Options());
  ASSERT_TRUE(c) << c.error().ToString();
  EXPECT_EQ(c->client_cert_file, dir_ + "/client.crt");
  EXPECT_EQ(c->client_key_file, dir_ + "/client.key");

  auto half = Parse(Kubeconfig("    server: https://a:1\n", "    client-certificate: client.crt\n"),
                    Options());
  ASSERT_FALSE(half);
  EXPECT_THAT(half.error().message(), HasSubstr("both a client certificate and a client key"));

  auto absent = Parse(Kubeconfig("    server: https://a:1\n",
                                 "    client-certificate: nope.crt\n"
                                 "    client-key: client.key\n"),
                      Options());
  ASSERT_FALSE(absent);
  EXPECT_THAT(absent.error().message(), HasSubstr("nope.crt"));
}

TEST_F(ClusterConfigTest, InsecureSkipVerifyNeedsPodiamsFlag) {
  std::string yaml =
      Kubeconfig("    server: https://a:1\n    insecure-skip-tls-verify: true\n", "    token: t\n");
  auto refused = Parse(yaml, Options());
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(refused.error().message(), HasSubstr("--kube-insecure-skip-tls-verify"));

  auto options = Options();
  options.allow_insecure = true;
  auto allowed = Parse(yaml, options);
  ASSERT_TRUE(allowed) << allowed.error().ToString();
  EXPECT_TRUE(allowed->insecure_skip_tls_verify);
}

TEST_F(ClusterConfigTest, PluginsAndOtherUnsupportedAuthAreRefusedClearly) {
  struct Case {
    std::string user;
    std::string says;
  };
  for (const Case& c : std::vector<Case>{
           {"    exec:\n      apiVersion: client.authentication.k8s.io/v1\n"
            "      command: aws\n",
            "exec credential plugin (aws)"},
           {"    auth-provider:\n      name: oidc\n", "auth-provider plugin \"oidc\""},
           {"    username: admin\n    password: secret\n", "basic auth"},
           {"    token: t\n    as: someone\n", "impersonation"}}) {
    auto r = Parse(Kubeconfig("    server: https://a:1\n", c.user), Options());
    ASSERT_FALSE(r) << c.user;
    EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
    EXPECT_THAT(r.error().message(), HasSubstr(c.says));
    EXPECT_THAT(r.error().message(), HasSubstr("not support"));
  }
}

TEST_F(ClusterConfigTest, MalformedKubeconfigs) {
  for (const std::string& yaml :
       {std::string("just a string"), std::string("current-context: x\n"), std::string("{{{"),
        Kubeconfig("    server: ftp://a\n", "    token: t\n"),
        Kubeconfig("    server: https://a\n    certificate-authority-data: '!!!'\n", ""),
        Kubeconfig("    server: https://a\n    proxy-url: http://proxy:3128\n", "")}) {
    auto r = Parse(yaml, Options());
    ASSERT_FALSE(r) << yaml;
    EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument) << r.error().ToString();
  }
}

TEST_F(ClusterConfigTest, TokenFileIsReReadAfterMaxAge) {
  Write("token", "first\n");
  auto c = Parse(Kubeconfig("    server: https://a:1\n", "    tokenFile: token\n"), Options());
  ASSERT_TRUE(c) << c.error().ToString();
  EXPECT_EQ(*c->token->Token(), "first");
  Write("token", "second\n");
  clock_.Advance(std::chrono::seconds(59));
  EXPECT_EQ(*c->token->Token(), "first");  // cached
  clock_.Advance(std::chrono::seconds(2));
  EXPECT_EQ(*c->token->Token(), "second");
  // A failed re-read keeps the last good token rather than logging us out.
  fs::remove(dir_ + "/token");
  clock_.Advance(std::chrono::seconds(61));
  EXPECT_EQ(*c->token->Token(), "second");
}

TEST_F(ClusterConfigTest, InClusterConfig) {
  env_ = {{"KUBERNETES_SERVICE_HOST", "10.96.0.1"}, {"KUBERNETES_SERVICE_PORT", "443"}};
  Write("sa/token", "sa-token\n");
  Write("sa/ca.crt", "CA");
  Write("sa/namespace", "podiam-system\n");
  auto c = LoadClusterConfig(Options(), clock_);
  ASSERT_TRUE(c) << c.error().ToString();
  EXPECT_EQ(c->server, "https://10.96.0.1:443");
  EXPECT_EQ(c->ca_file, dir_ + "/sa/ca.crt");
  EXPECT_EQ(c->namespace_name, "podiam-system");
  EXPECT_EQ(*c->token->Token(), "sa-token");
  EXPECT_EQ(c->origin, "in-cluster");

  // The kubelet rotates the projected token; we pick the new one up within a minute.
  Write("sa/token", "rotated\n");
  clock_.Advance(std::chrono::seconds(61));
  EXPECT_EQ(*c->token->Token(), "rotated");

  env_["KUBERNETES_SERVICE_HOST"] = "fd00::1";
  fs::remove(dir_ + "/sa/namespace");
  auto v6 = LoadClusterConfig(Options(), clock_);
  ASSERT_TRUE(v6) << v6.error().ToString();
  EXPECT_EQ(v6->server, "https://[fd00::1]:443");
  EXPECT_EQ(v6->namespace_name, "default");
}

TEST_F(ClusterConfigTest, InClusterErrors) {
  auto none = LoadClusterConfig(Options(), clock_);
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_THAT(none.error().message(), HasSubstr("--kubeconfig"));

  env_ = {{"KUBERNETES_SERVICE_HOST", "10.96.0.1"}, {"KUBERNETES_SERVICE_PORT", "443"}};
  auto no_token = LoadClusterConfig(Options(), clock_);
  ASSERT_FALSE(no_token);
  EXPECT_THAT(no_token.error().message(), HasSubstr("token"));

  Write("sa/token", "t");
  auto no_ca = LoadClusterConfig(Options(), clock_);
  ASSERT_FALSE(no_ca);
  EXPECT_THAT(no_ca.error().message(), HasSubstr("ca.crt"));
}

TEST_F(ClusterConfigTest, SourcesInOrder) {
  std::string a = Write("a.yaml", Kubeconfig("    server: https://a:1\n", "    token: from-a\n"));
  std::string b = Write("b.yaml", Kubeconfig("    server: https://b:1\n", "    token: from-b\n"));
  env_ = {{"KUBECONFIG", b + ":" + a},
          {"KUBERNETES_SERVICE_HOST", "10.96.0.1"},
          {"KUBERNETES_SERVICE_PORT", "443"}};
  auto from_env = LoadClusterConfig(Options(), clock_);
  ASSERT_TRUE(from_env) << from_env.error().ToString();
  EXPECT_EQ(from_env->server, "https://b:1");  // first file only

  auto options = Options();
  options.kubeconfig = a;
  auto from_flag = LoadClusterConfig(options, clock_);
  ASSERT_TRUE(from_flag);
  EXPECT_EQ(from_flag->server, "https://a:1");

  options.kubeconfig = dir_ + "/absent.yaml";
  auto absent = LoadClusterConfig(options, clock_);
  ASSERT_FALSE(absent);
  EXPECT_EQ(absent.error().code(), ErrorCode::kNotFound);
}

TEST(Base64Test, Decodes) {
  EXPECT_EQ(*DecodeBase64(""), "");
  EXPECT_EQ(*DecodeBase64("Zg=="), "f");
  EXPECT_EQ(*DecodeBase64("Zm8="), "fo");
  EXPECT_EQ(*DecodeBase64("Zm9v"), "foo");
  EXPECT_EQ(*DecodeBase64("Zm9v\nYmFy"), "foobar");
  EXPECT_EQ(*DecodeBase64("Zm9vYg"), "foob");  // padding optional
  EXPECT_FALSE(DecodeBase64("Zm9v!"));
  EXPECT_FALSE(DecodeBase64("Z"));
  EXPECT_FALSE(DecodeBase64("Zg==Zg"));
}

}  // namespace
}  // namespace podiam::k8s
