#include "podiam/transport/cert_chain.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <system_error>
#include <utility>

#include "podiam/transport/tls.hpp"

namespace podiam::transport {
namespace {

struct CtxFree {
  void operator()(SSL_CTX* p) const { SSL_CTX_free(p); }
};
struct SslFree {
  void operator()(SSL* p) const { SSL_free(p); }
};
struct AddrFree {
  void operator()(addrinfo* p) const { freeaddrinfo(p); }
};

class Socket {
 public:
  Socket() = default;
  explicit Socket(int fd) : fd_(fd) {}
  Socket(Socket&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Socket& operator=(Socket&& other) noexcept {
    std::swap(fd_, other.fd_);
    return *this;
  }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  ~Socket() {
    if (fd_ >= 0) {
      ::close(fd_);
    }
  }
  [[nodiscard]] int get() const { return fd_; }

 private:
  int fd_ = -1;
};

std::string ErrnoText(int error) {
  return std::error_code(error, std::system_category()).message();
}

// Connects within `timeout` (per address tried) and returns a blocking socket whose reads and
// writes also give up after `timeout`, so a server that accepts and then says nothing cannot hang
// the handshake.
Result<Socket> Connect(const std::string& host, std::uint16_t port,
                       std::chrono::milliseconds timeout) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  if (int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &found); rc != 0) {
    return MakeError(ErrorCode::kUnavailable, "cannot resolve " + host + ": " + ::gai_strerror(rc),
                     "", true);
  }
  std::unique_ptr<addrinfo, AddrFree> list(found);
  std::string last = "no address";
  const int wait_ms = static_cast<int>(timeout.count());
  for (const addrinfo* a = list.get(); a != nullptr; a = a->ai_next) {
    Socket s(::socket(a->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (s.get() < 0) {
      last = ErrnoText(errno);
      continue;
    }
    if (::connect(s.get(), a->ai_addr, a->ai_addrlen) != 0) {
      if (errno != EINPROGRESS) {
        last = ErrnoText(errno);
        continue;
      }
      pollfd p{.fd = s.get(), .events = POLLOUT, .revents = 0};
      int ready = ::poll(&p, 1, wait_ms);
      int err = 0;
      socklen_t len = sizeof err;
      if (ready <= 0) {
        last = ready == 0 ? "timed out" : ErrnoText(errno);
        continue;
      }
      if (::getsockopt(s.get(), SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
        last = ErrnoText(err != 0 ? err : errno);
        continue;
      }
    }
    ::fcntl(s.get(), F_SETFL, ::fcntl(s.get(), F_GETFL) & ~O_NONBLOCK);  // NOLINT: C varargs
    const auto usec = std::chrono::duration_cast<std::chrono::microseconds>(timeout).count();
    timeval tv{.tv_sec = usec / 1000000, .tv_usec = usec % 1000000};
    ::setsockopt(s.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(s.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    return s;
  }
  return MakeError(ErrorCode::kUnavailable,
                   "cannot connect to " + host + ":" + service + ": " + last, "", true);
}

}  // namespace

Result<std::vector<std::string>> FetchPeerChain(const PeerChainOptions& options) {
  const std::string& connect_to = options.address.empty() ? options.host : options.address;
  const std::string target = connect_to + ":" + std::to_string(options.port);
  std::unique_ptr<SSL_CTX, CtxFree> ctx(SSL_CTX_new(TLS_client_method()));
  if (!ctx) {
    return MakeError(ErrorCode::kInternal, "TLS context: " + LastOpenSslError());
  }
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);  // read the chain; IAM judges it
  auto socket = Connect(connect_to, options.port, options.timeout);
  if (!socket) {
    return tl::unexpected(socket.error());
  }
  std::unique_ptr<SSL, SslFree> ssl(SSL_new(ctx.get()));
  if (!ssl || SSL_set_fd(ssl.get(), socket->get()) != 1) {
    return MakeError(ErrorCode::kInternal, "TLS connection: " + LastOpenSslError());
  }
  SSL_ctrl(ssl.get(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
           const_cast<char*>(options.host.c_str()));  // NOLINT: OpenSSL macro without the cast
  if (SSL_connect(ssl.get()) != 1) {
    return MakeError(ErrorCode::kUnavailable,
                     "TLS handshake with " + target + " failed: " + LastOpenSslError());
  }
  STACK_OF(X509)* chain = SSL_get_peer_cert_chain(ssl.get());
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
