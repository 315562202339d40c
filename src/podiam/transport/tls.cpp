#include "podiam/transport/tls.hpp"

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <boost/asio/ip/address.hpp>

#include "podiam/base/log.hpp"

namespace podiam::transport {
namespace ssl = boost::asio::ssl;

std::string LastOpenSslError() {
  unsigned long code = ERR_get_error();  // NOLINT(google-runtime-int): OpenSSL's type
  std::string text;
  if (code != 0) {
    char buf[256];
    ERR_error_string_n(code, buf, sizeof(buf));
    text = buf;
  }
  ERR_clear_error();
  return text.empty() ? "unknown OpenSSL error" : text;
}

namespace {

// Asio's context setters have error_code overloads; using them keeps exceptions out.
Result<void> Check(const boost::system::error_code& ec, std::string_view what,
                   const std::string& file) {
  if (ec) {
    return MakeError(ErrorCode::kInvalidArgument,
                     std::string(what) + " '" + file + "': " + ec.message());
  }
  return Ok();
}

Result<std::shared_ptr<ssl::context>> NewContext(ssl::context::method method) {
  auto ctx = std::make_shared<ssl::context>(method);
  // TLS 1.2 is the oldest version STS and the Kubernetes API still speak; nothing older.
  if (SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION) != 1) {
    return MakeError(ErrorCode::kInternal,
                     "TLS: cannot set minimum version: " + LastOpenSslError());
  }
  boost::system::error_code ec;
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_compression, ec);
  return ctx;
}

Result<void> UseCertificate(ssl::context& ctx, const std::string& cert, const std::string& key) {
  if (cert.empty() != key.empty()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "TLS: a certificate file needs a key file and vice versa");
  }
  if (cert.empty()) {
    return Ok();
  }
  boost::system::error_code ec;
  ctx.use_certificate_chain_file(cert, ec);
  if (auto r = Check(ec, "TLS: cannot load certificate chain", cert); !r) {
    return r;
  }
  ctx.use_private_key_file(key, ssl::context::pem, ec);
  if (auto r = Check(ec, "TLS: cannot load private key", key); !r) {
    return r;
  }
  if (SSL_CTX_check_private_key(ctx.native_handle()) != 1) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "TLS: private key '" + key + "' does not match certificate '" + cert + "'");
  }
  return Ok();
}

}  // namespace

Result<std::shared_ptr<ssl::context>> MakeClientTlsContext(const ClientTlsFiles& f) {
  auto ctx = NewContext(ssl::context::tls_client);
  if (!ctx) {
    return ctx;
  }
  boost::system::error_code ec;
  if (f.insecure_skip_verify) {
    (*ctx)->set_verify_mode(ssl::verify_none, ec);
  } else {
    (*ctx)->set_verify_mode(ssl::verify_peer, ec);
    if (f.ca_file.empty()) {
      (*ctx)->set_default_verify_paths(ec);
      if (auto r = Check(ec, "TLS: cannot load the system trust store", "default"); !r) {
        return tl::unexpected(r.error());
      }
    } else {
      (*ctx)->load_verify_file(f.ca_file, ec);
      if (auto r = Check(ec, "TLS: cannot load CA bundle", f.ca_file); !r) {
        return tl::unexpected(r.error());
      }
    }
  }
  if (auto r = UseCertificate(**ctx, f.cert_file, f.key_file); !r) {
    return tl::unexpected(r.error());
  }
  return ctx;
}

Result<std::shared_ptr<ssl::context>> MakeServerTlsContext(const ServerTlsFiles& f) {
  if (f.cert_file.empty() || f.key_file.empty()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "TLS server needs both tls_cert_file and tls_key_file");
  }
  auto ctx = NewContext(ssl::context::tls_server);
  if (!ctx) {
    return ctx;
  }
  if (auto r = UseCertificate(**ctx, f.cert_file, f.key_file); !r) {
    return tl::unexpected(r.error());
  }
  boost::system::error_code ec;
  if (!f.client_ca_file.empty()) {
    (*ctx)->load_verify_file(f.client_ca_file, ec);
    if (auto r = Check(ec, "TLS: cannot load client CA bundle", f.client_ca_file); !r) {
      return tl::unexpected(r.error());
    }
    (*ctx)->set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert, ec);
  } else {
    (*ctx)->set_verify_mode(ssl::verify_none, ec);
  }
  return ctx;
}

Result<void> PrepareClientTls(SSL* ssl, const std::string& host, bool verify) {
  boost::system::error_code ec;
  boost::asio::ip::make_address(host, ec);
  const bool is_ip = !ec;
  // SSL_set_tlsext_host_name() is a macro with a C cast; this is what it expands to.
  if (!is_ip && SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                         const_cast<char*>(host.c_str())) != 1) {
    return MakeError(ErrorCode::kInvalidArgument, "TLS: cannot set SNI to '" + host + "'");
  }
  if (!verify) {
    return Ok();
  }
  // OpenSSL's own name check (rather than a verify callback) so that a mismatch is reported as
  // X509_V_ERR_HOSTNAME_MISMATCH / X509_V_ERR_IP_ADDRESS_MISMATCH with a readable reason.
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
  X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  int ok = is_ip ? X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str())
                 : X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size());
  if (ok != 1) {
    return MakeError(ErrorCode::kInvalidArgument, "TLS: cannot verify against '" + host + "'");
  }
  return Ok();
}

std::string VerifyFailure(SSL* ssl) {
  long result = SSL_get_verify_result(ssl);  // NOLINT(google-runtime-int): OpenSSL's type
  if (result == X509_V_OK) {
    return {};
  }
  return X509_verify_cert_error_string(result);
}

Result<std::unique_ptr<ReloadingServerTls>> ReloadingServerTls::Create(
    ServerTlsFiles files, std::chrono::milliseconds interval) {
  std::unique_ptr<ReloadingServerTls> out(new ReloadingServerTls());
  out->files_ = std::move(files);
  out->interval_ = interval;
  if (auto stamp = out->StampOf()) {
    out->stamp_ = *stamp;
  }
  auto ctx = MakeServerTlsContext(out->files_);
  if (!ctx) {
    return tl::unexpected(ctx.error());
  }
  out->current_ = *ctx;
  return out;
}

std::optional<ReloadingServerTls::Stamp> ReloadingServerTls::StampOf() const {
  std::error_code ec;
  Stamp s;
  s.cert = std::filesystem::last_write_time(files_.cert_file, ec);
  if (!ec) {
    s.key = std::filesystem::last_write_time(files_.key_file, ec);
  }
  if (!ec) {
    s.cert_size = std::filesystem::file_size(files_.cert_file, ec);
  }
  if (!ec) {
    s.key_size = std::filesystem::file_size(files_.key_file, ec);
  }
  if (ec) {
    return std::nullopt;
  }
  return s;
}

std::shared_ptr<boost::asio::ssl::context> ReloadingServerTls::Current(
    std::chrono::steady_clock::time_point now) {
  std::lock_guard lock(mu_);
  if (interval_.count() <= 0 || now < next_check_) {
    return current_;
  }
  next_check_ = now + interval_;
  auto stamp = StampOf();
  if (!stamp || *stamp == stamp_) {
    return current_;
  }
  auto ctx = MakeServerTlsContext(files_);
  if (!ctx) {
    log::Logger("tls").Warn("TLS certificate files changed but do not load; keeping the old ones",
                            {{"cert", files_.cert_file}, {"error", ctx.error().ToString()}});
    return current_;
  }
  stamp_ = *stamp;
  retired_.push_back(current_);
  if (retired_.size() > 4) {
    retired_.erase(retired_.begin());
  }
  current_ = *ctx;
  reloads_.fetch_add(1);
  log::Logger("tls").Info("TLS certificate reloaded", {{"cert", files_.cert_file}});
  return current_;
}

}  // namespace podiam::transport
