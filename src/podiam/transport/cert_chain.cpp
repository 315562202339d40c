#include "podiam/transport/cert_chain.hpp"

#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <memory>

#include "podiam/transport/tls.hpp"

namespace podiam::transport {
namespace {

struct CtxFree {
  void operator()(SSL_CTX* p) const { SSL_CTX_free(p); }
};
struct BioFree {
  void operator()(BIO* p) const { BIO_free_all(p); }
};

}  // namespace

Result<std::vector<std::string>> FetchPeerChain(const PeerChainOptions& options) {
  const std::string target = (options.address.empty() ? options.host : options.address) + ":" +
                             std::to_string(options.port);
  std::unique_ptr<SSL_CTX, CtxFree> ctx(SSL_CTX_new(TLS_client_method()));
  if (!ctx) {
    return MakeError(ErrorCode::kInternal, "TLS context: " + LastOpenSslError());
  }
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);  // read the chain; IAM judges it
  std::unique_ptr<BIO, BioFree> bio(BIO_new_ssl_connect(ctx.get()));
  SSL* ssl = nullptr;
  BIO_ctrl(bio.get(), BIO_C_GET_SSL, 0, static_cast<void*>(&ssl));
  if (ssl == nullptr) {
    return MakeError(ErrorCode::kInternal, "TLS connection: " + LastOpenSslError());
  }
  SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
           const_cast<char*>(options.host.c_str()));  // NOLINT: OpenSSL macro without the cast
  BIO_ctrl(bio.get(), BIO_C_SET_CONNECT, 0, const_cast<char*>(target.c_str()));  // NOLINT
  if (BIO_ctrl(bio.get(), BIO_C_DO_STATE_MACHINE, 0, nullptr) != 1) {
    return MakeError(ErrorCode::kUnavailable,
                     "cannot connect to " + target + ": " + LastOpenSslError(), "", true);
  }
  int fd = -1;
  BIO_ctrl(bio.get(), BIO_C_GET_FD, 0, static_cast<void*>(&fd));
  if (fd >= 0) {
    auto usec = std::chrono::duration_cast<std::chrono::microseconds>(options.timeout).count();
    timeval tv{.tv_sec = usec / 1000000, .tv_usec = usec % 1000000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  }
  if (BIO_ctrl(bio.get(), BIO_C_DO_STATE_MACHINE, 0, nullptr) != 1) {
    return MakeError(ErrorCode::kUnavailable,
                     "TLS handshake with " + target + " failed: " + LastOpenSslError());
  }
  STACK_OF(X509)* chain = SSL_get_peer_cert_chain(ssl);
  std::vector<std::string> out;
  for (int i = 0; chain != nullptr && i < sk_X509_num(chain); ++i) {
    unsigned char* der = nullptr;
    int len = i2d_X509(sk_X509_value(chain, i), &der);
    if (len > 0) {
      out.emplace_back(reinterpret_cast<const char*>(der),
                       static_cast<std::size_t>(len));  // NOLINT
    }
    OPENSSL_free(der);
  }
  if (out.empty()) {
    return MakeError(ErrorCode::kUpstreamInvalid, target + " presented no certificate");
  }
  return out;
}

}  // namespace podiam::transport
