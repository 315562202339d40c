// HTTPS between BeastHttpClient and HttpServer's TLS mode, with a throwaway PKI.
#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include "podiam/metrics/registry.hpp"
#include "podiam/testing/test_pki.hpp"
#include "podiam/transport/cert_chain.hpp"
#include "podiam/transport/http_client.hpp"
#include "podiam/transport/http_server.hpp"
#include "podiam/transport/metrics.hpp"

namespace podiam::transport {
namespace {

using ::testing::HasSubstr;

class TlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { pki_ = new testing::TestPki(); }
  static void TearDownTestSuite() {
    delete pki_;
    pki_ = nullptr;
  }

  void StartServer(HttpServerOptions options) {
    server_ =
        std::make_unique<HttpServer>(options, http::MakeSyncHandler([](const http::Request& r) {
                                       return http::Response::Text(200, "hello " + r.peer.address);
                                     }));
    auto started = server_->Start();
    ASSERT_TRUE(started) << started.error().ToString();
  }
  void StartServer() {
    StartServer({.tls_cert_file = pki_->server_cert, .tls_key_file = pki_->server_key});
  }

  std::string Url(const char* host) const {
    return std::string("https://") + host + ":" + std::to_string(server_->port()) + "/";
  }

  static std::unique_ptr<BeastHttpClient> Client(BeastHttpClientOptions options) {
    auto client = BeastHttpClient::Create(std::move(options));
    EXPECT_TRUE(client) << client.error().ToString();
    return std::move(*client);
  }

  static testing::TestPki* pki_;
  // Before server_: its connections update the series until it is destroyed.
  metrics::Registry registry_;
  HttpServerMetrics families_{registry_};
  std::unique_ptr<HttpServer> server_;
};

testing::TestPki* TlsTest::pki_ = nullptr;

TEST_F(TlsTest, FetchPeerChainReturnsWhatTheServerPresents) {
  StartServer();
  auto chain =
      FetchPeerChain({.host = "localhost", .port = server_->port(), .address = "127.0.0.1"});
  ASSERT_TRUE(chain) << chain.error().ToString();
  ASSERT_FALSE(chain->empty());
  EXPECT_EQ(chain->front().front(), '\x30');  // DER SEQUENCE
  auto closed = FetchPeerChain({.host = "localhost", .port = 1, .address = "127.0.0.1"});
  ASSERT_FALSE(closed);
  EXPECT_EQ(closed.error().code(), ErrorCode::kUnavailable);
}

TEST_F(TlsTest, FetchPeerChainGivesUpOnAServerThatAcceptsButNeverAnswers) {
  // A listening socket nobody accepts from: the kernel completes the TCP handshake, then silence.
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), len), 0);  // NOLINT
  ASSERT_EQ(::listen(fd, 4), 0);
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);  // NOLINT
  auto silent = FetchPeerChain({.host = "localhost",
                                .port = ntohs(addr.sin_port),
                                .address = "127.0.0.1",
                                .timeout = std::chrono::milliseconds(200)});
  ::close(fd);
  ASSERT_FALSE(silent);
  EXPECT_EQ(silent.error().code(), ErrorCode::kUnavailable);
  EXPECT_THAT(silent.error().message(), HasSubstr("TLS handshake with 127.0.0.1:"));
}

TEST_F(TlsTest, VerifiesServerByNameAndByIp) {
  StartServer();
  auto client = Client({.ca_file = pki_->ca_cert});
  for (const char* host : {"localhost", "127.0.0.1"}) {
    auto r = client->Send({.url = Url(host)});
    ASSERT_TRUE(r) << host << ": " << r.error().ToString();
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "hello 127.0.0.1");
  }
  ASSERT_TRUE(client->Send({.url = Url("localhost")}));
  EXPECT_EQ(client->connections_opened(), 2u);  // one per host key, then reused
}

TEST_F(TlsTest, UnknownCaIsRejectedWithAClearNonRetryableError) {
  StartServer();
  auto r = Client({.ca_file = pki_->other_ca_cert})->Send({.url = Url("localhost")});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kUnavailable);
  EXPECT_FALSE(r.error().retryable());
  EXPECT_THAT(r.error().message(), HasSubstr("TLS certificate verification failed"));
  EXPECT_THAT(r.error().message(), HasSubstr("unable to get local issuer certificate"));
}

TEST_F(TlsTest, HostnameMismatchIsRejected) {
  StartServer({.tls_cert_file = pki_->wrong_name_cert, .tls_key_file = pki_->wrong_name_key});
  auto client = Client({.ca_file = pki_->ca_cert});
  auto r = client->Send({.url = Url("localhost")});
  ASSERT_FALSE(r);
  EXPECT_FALSE(r.error().retryable());
  EXPECT_THAT(r.error().message(), HasSubstr("hostname mismatch"));
  r = client->Send({.url = Url("127.0.0.1")});
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message(), HasSubstr("IP address mismatch"));
}

TEST_F(TlsTest, VerifiesAgainstTheGivenNameWhileConnectingToAnAddress) {
  // An endpoint's IP connected to, the certificate checked for the Service's name (and SNI).
  StartServer({.tls_cert_file = pki_->wrong_name_cert, .tls_key_file = pki_->wrong_name_key});
  auto client = Client({.ca_file = pki_->ca_cert});
  auto r = client->Send({.url = Url("127.0.0.1"), .tls_server_name = "elsewhere.example"});
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->status, 200);
  // Another name is a mismatch, and the connection verified for the first is not reused for it.
  r = client->Send({.url = Url("127.0.0.1"), .tls_server_name = "other.example"});
  ASSERT_FALSE(r);
  EXPECT_FALSE(r.error().retryable());
  EXPECT_THAT(r.error().message(), HasSubstr("hostname mismatch"));
  EXPECT_EQ(client->connections_opened(), 2u);
  // Without a name the URL's host (127.0.0.1) is checked: this certificate does not carry it.
  r = client->Send({.url = Url("127.0.0.1")});
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message(), HasSubstr("IP address mismatch"));
}

TEST_F(TlsTest, InsecureSkipVerifyAcceptsAnything) {
  StartServer({.tls_cert_file = pki_->other_server_cert, .tls_key_file = pki_->other_server_key});
  auto r = Client({.insecure_skip_verify = true})->Send({.url = Url("localhost")});
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->status, 200);
}

TEST_F(TlsTest, MutualTlsRequiresTheClientCertificate) {
  StartServer({.name = "mtls",
               .metrics = &families_,
               .tls_cert_file = pki_->server_cert,
               .tls_key_file = pki_->server_key,
               .tls_client_ca_file = pki_->ca_cert});
  auto without = Client({.ca_file = pki_->ca_cert})->Send({.url = Url("localhost")});
  ASSERT_FALSE(without);
  EXPECT_EQ(without.error().code(), ErrorCode::kUnavailable);
  // The refusal is counted where an operator looks (the server closes; TLS 1.3 may tell the
  // client only on its first read, so wait for the server's side).
  const std::string refused = R"(podiam_http_server_tls_handshake_failures_total{server="mtls"} 1)";
  for (int i = 0; i < 200 && registry_.Render().find(refused) == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_THAT(registry_.Render(), HasSubstr(refused));

  auto with = Client({.ca_file = pki_->ca_cert,
                      .client_cert_file = pki_->client_cert,
                      .client_key_file = pki_->client_key})
                  ->Send({.url = Url("localhost")});
  ASSERT_TRUE(with) << with.error().ToString();
  EXPECT_EQ(with->status, 200);
}

TEST_F(TlsTest, PlainHttpToTlsServerFailsCleanly) {
  StartServer();
  auto r = Client({})->Send({.url = "http://127.0.0.1:" + std::to_string(server_->port()) + "/",
                             .timeout = std::chrono::seconds(2)});
  ASSERT_FALSE(r);
}

TEST_F(TlsTest, BadFilesAreInvalidArgument) {
  auto client = BeastHttpClient::Create({.ca_file = "/nonexistent/ca.pem"});
  ASSERT_FALSE(client);
  EXPECT_EQ(client.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(client.error().message(), HasSubstr("/nonexistent/ca.pem"));

  client = BeastHttpClient::Create({.client_cert_file = pki_->client_cert});
  ASSERT_FALSE(client);  // a certificate without a key

  client = BeastHttpClient::Create(
      {.client_cert_file = pki_->client_cert, .client_key_file = pki_->server_key});
  ASSERT_FALSE(client);
  EXPECT_THAT(client.error().message(), HasSubstr("private key"));

  HttpServer server({.tls_cert_file = pki_->server_cert, .tls_key_file = "/nonexistent/key.pem"},
                    http::MakeSyncHandler([](const http::Request&) { return http::Response{}; }));
  auto started = server.Start();
  ASSERT_FALSE(started);
  EXPECT_EQ(started.error().code(), ErrorCode::kInvalidArgument);
}

TEST_F(TlsTest, RotatedCertificateIsServedToNewConnectionsWithoutDroppingOpenOnes) {
  // Copies of the files, replaced below the way cert-manager's Secret update lands on disk.
  std::string cert = pki_->dir + "/rotating.pem";
  std::string key = pki_->dir + "/rotating-key.pem";
  std::filesystem::copy_file(pki_->server_cert, cert,
                             std::filesystem::copy_options::overwrite_existing);
  std::filesystem::copy_file(pki_->server_key, key,
                             std::filesystem::copy_options::overwrite_existing);
  StartServer({.tls_cert_file = cert,
               .tls_key_file = key,
               .tls_reload_interval = std::chrono::milliseconds(1)});
  auto old_client = Client({.ca_file = pki_->ca_cert});
  ASSERT_TRUE(old_client->Send({.url = Url("127.0.0.1")}));

  // A half-done rotation (new cert, old key) is not loaded: the old pair keeps serving.
  std::filesystem::copy_file(pki_->other_server_cert, cert,
                             std::filesystem::copy_options::overwrite_existing);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_TRUE(Client({.ca_file = pki_->ca_cert})->Send({.url = Url("127.0.0.1")}));

  std::filesystem::copy_file(pki_->other_server_key, key,
                             std::filesystem::copy_options::overwrite_existing);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  auto fresh = Client({.ca_file = pki_->other_ca_cert})->Send({.url = Url("127.0.0.1")});
  ASSERT_TRUE(fresh) << fresh.error().ToString();
  EXPECT_EQ(fresh->status, 200);
  EXPECT_FALSE(Client({.ca_file = pki_->ca_cert})->Send({.url = Url("127.0.0.1")}));
  // The connection opened before the rotation still works.
  auto again = old_client->Send({.url = Url("127.0.0.1")});
  ASSERT_TRUE(again) << again.error().ToString();
  EXPECT_EQ(old_client->connections_opened(), 1u);
}

}  // namespace
}  // namespace podiam::transport
