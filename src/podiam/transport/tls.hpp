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

#include <boost/asio/ssl/context.hpp>
#include <memory>
#include <string>
#include <string_view>

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

// Per connection: SNI for host names (never for IP literals, RFC 6066) and the name or address the
// peer certificate must match (checked by OpenSSL during the handshake).
Result<void> PrepareClientTls(SSL* ssl, const std::string& host, bool verify);

// After a failed handshake: OpenSSL's verdict on the peer certificate, or empty when the failure
// was not about verification.
std::string VerifyFailure(SSL* ssl);

// The text of the last OpenSSL error on this thread (and clears the queue).
std::string LastOpenSslError();

}  // namespace podiam::transport
