// TLS contexts for HttpServer and BeastHttpClient (internal to transport/): loading certificate
// files and choosing verification once, with errors as values instead of Asio exceptions.
//
// Thread-safety: build a context once; afterwards it is shared read-only by all connections.
//
//   auto ctx = transport::MakeClientTlsContext({.ca_file = "/etc/podiam/ca.pem"});
//   if (!ctx) { return tl::unexpected(ctx.error()); }
//   auto verify = transport::PrepareClientTls(stream.native_handle(), "sts.amazonaws.com");
#pragma once

#include <openssl/ssl.h>

#include <atomic>
#include <boost/asio/ssl/context.hpp>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "podiam/base/error.hpp"

namespace podiam::transport {

struct ClientTlsFiles {
  std::string ca_file;  // empty: the system's default trust store
  std::string cert_file;
  std::string key_file;
  bool insecure_skip_verify = false;
};

struct ServerTlsFiles {
  std::string cert_file;
  std::string key_file;
  std::string client_ca_file;  // set: require and verify client certificates
};

Result<std::shared_ptr<boost::asio::ssl::context>> MakeClientTlsContext(const ClientTlsFiles& f);
Result<std::shared_ptr<boost::asio::ssl::context>> MakeServerTlsContext(const ServerTlsFiles& f);

// The server's TLS context, re-read when the certificate or key file changes (cert-manager and
// kubelet secret rotation replace them in place). New connections get the current context;
// connections already open keep the one they started with (OpenSSL reference-counts it), so a
// rotation drops nothing. A pair that does not load (cert and key from different rotations while
// the files are being replaced) keeps the previous context and is tried again at the next check.
//
// Thread-safety: Current() from any thread.
class ReloadingServerTls {
 public:
  static Result<std::unique_ptr<ReloadingServerTls>> Create(ServerTlsFiles files,
                                                            std::chrono::milliseconds interval);
  // The context for a new connection; checks the files' modification times at most once per
  // interval (0: never reloads).
  std::shared_ptr<boost::asio::ssl::context> Current(std::chrono::steady_clock::time_point now);
  [[nodiscard]] std::uint64_t reloads() const { return reloads_.load(); }

 private:
  ReloadingServerTls() = default;
  struct Stamp {
    std::filesystem::file_time_type cert{};
    std::filesystem::file_time_type key{};
    std::uintmax_t cert_size = 0;
    std::uintmax_t key_size = 0;
    bool operator==(const Stamp&) const = default;
  };
  std::optional<Stamp> StampOf() const;

  ServerTlsFiles files_;
  std::chrono::milliseconds interval_{0};
  std::mutex mu_;
  std::shared_ptr<boost::asio::ssl::context> current_;
  std::vector<std::shared_ptr<boost::asio::ssl::context>> retired_;  // the last few, kept alive
  Stamp stamp_;
  std::chrono::steady_clock::time_point next_check_{};
  std::atomic<std::uint64_t> reloads_{0};
};

// Per connection: SNI for host names (never for IP literals, RFC 6066) and the name or address the
// peer certificate must match (checked by OpenSSL during the handshake).
Result<void> PrepareClientTls(SSL* ssl, const std::string& host, bool verify);

// After a failed handshake: OpenSSL's verdict on the peer certificate, or empty when the failure
// was not about verification.
std::string VerifyFailure(SSL* ssl);

// The text of the last OpenSSL error on this thread (and clears the queue).
std::string LastOpenSslError();

}  // namespace podiam::transport
