#include "podiam/pki/serving_cert.hpp"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <array>
#include <ctime>
#include <memory>

namespace podiam::pki {
namespace {

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct X509Free {
  void operator()(X509* p) const { X509_free(p); }
};
struct BioFree {
  void operator()(BIO* p) const { BIO_free(p); }
};
struct BnFree {
  void operator()(BIGNUM* p) const { BN_free(p); }
};
struct ExtFree {
  void operator()(X509_EXTENSION* p) const { X509_EXTENSION_free(p); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;
using Cert = std::unique_ptr<X509, X509Free>;

// Failed OpenSSL calls leave entries on the thread's error queue; drop them on the way out.
struct ClearErrorsOnExit {
  ClearErrorsOnExit() = default;
  ClearErrorsOnExit(const ClearErrorsOnExit&) = delete;
  ClearErrorsOnExit& operator=(const ClearErrorsOnExit&) = delete;
  ~ClearErrorsOnExit() { ERR_clear_error(); }
};

Error OpenSslError(const std::string& what) {
  std::array<char, 256> buf{};
  ERR_error_string_n(ERR_peek_last_error(), buf.data(), buf.size());
  return Error(ErrorCode::kInternal, what + ": " + buf.data());
}

bool IsDnsName(std::string_view name) {
  if (name.empty() || name.size() > 253) {
    return false;
  }
  std::size_t start = 0;
  while (true) {
    std::size_t dot = name.find('.', start);
    if (!IsDnsLabel(name.substr(start, dot == std::string_view::npos ? name.npos : dot - start))) {
      return false;
    }
    if (dot == std::string_view::npos) {
      return true;
    }
    start = dot + 1;
  }
}

Result<Pkey> NewKey() {
  Pkey key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (!key) {
    return tl::unexpected(OpenSslError("generating an EC P-256 key"));
  }
  return key;
}

bool SetName(X509_NAME* name, const std::string& common_name) {
  return X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                    reinterpret_cast<const unsigned char*>(  // NOLINT
                                        common_name.c_str()),
                                    -1, -1, 0) == 1;
}

bool AddExtension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  std::unique_ptr<X509_EXTENSION, ExtFree> ext(
      X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str()));
  return ext && X509_add_ext(cert, ext.get(), -1) == 1;
}

struct Extension {
  int nid;
  std::string value;
};

// A v3 certificate for `subject_key`, signed by `issuer_key` (self-signed when `issuer` is null).
Result<Cert> MakeCertificate(const std::string& common_name, EVP_PKEY* subject_key, X509* issuer,
                             EVP_PKEY* issuer_key, std::time_t not_before, std::time_t not_after,
                             const std::vector<Extension>& extensions) {
  Cert cert(X509_new());
  if (!cert || X509_set_version(cert.get(), X509_VERSION_3) != 1) {
    return tl::unexpected(OpenSslError("creating a certificate"));
  }
  std::array<unsigned char, 16> serial{};
  if (RAND_bytes(serial.data(), static_cast<int>(serial.size())) != 1) {
    return tl::unexpected(OpenSslError("drawing a serial number"));
  }
  serial[0] &= 0x7f;  // positive
  serial[0] |= 0x40;  // and 16 bytes long
  std::unique_ptr<BIGNUM, BnFree> bn(
      BN_bin2bn(serial.data(), static_cast<int>(serial.size()), nullptr));
  if (!bn || BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert.get())) == nullptr) {
    return tl::unexpected(OpenSslError("setting the serial number"));
  }
  if (!SetName(X509_get_subject_name(cert.get()), common_name) ||
      X509_set_issuer_name(cert.get(), issuer != nullptr
                                           ? X509_get_subject_name(issuer)
                                           : X509_get_subject_name(cert.get())) != 1 ||
      ASN1_TIME_set(X509_getm_notBefore(cert.get()), not_before) == nullptr ||
      ASN1_TIME_set(X509_getm_notAfter(cert.get()), not_after) == nullptr ||
      X509_set_pubkey(cert.get(), subject_key) != 1) {
    return tl::unexpected(OpenSslError("filling in the certificate"));
  }
  X509* signer = issuer != nullptr ? issuer : cert.get();
  for (const auto& ext : extensions) {
    if (!AddExtension(cert.get(), signer, ext.nid, ext.value)) {
      return tl::unexpected(OpenSslError("adding extension " + std::string(OBJ_nid2sn(ext.nid))));
    }
  }
  if (X509_sign(cert.get(), issuer_key, EVP_sha256()) == 0) {
    return tl::unexpected(OpenSslError("signing the certificate"));
  }
  return cert;
}

template <typename Write>
Result<std::string> ToPem(Write write, const std::string& what) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new(BIO_s_mem()));
  if (!bio || !write(bio.get())) {
    return tl::unexpected(OpenSslError("encoding the " + what));
  }
  char* data = nullptr;
  long size = BIO_get_mem_data(bio.get(), &data);  // NOLINT(google-runtime-int): OpenSSL's type
  return std::string(data, static_cast<std::size_t>(size));
}

}  // namespace

bool IsDnsLabel(std::string_view name) {
  if (name.empty() || name.size() > 63 || name.front() == '-' || name.back() == '-') {
    return false;
  }
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
      return false;
    }
  }
  return true;
}

std::vector<std::string> ServiceDnsNames(std::string_view service,
                                         std::string_view namespace_name) {
  std::string svc = std::string(service) + "." + std::string(namespace_name) + ".svc";
  return {svc, svc + ".cluster.local"};
}

std::string Base64(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),          // NOLINT
                          reinterpret_cast<const unsigned char*>(bytes.data()),  // NOLINT
                          static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

Result<IssuedServingCertificate> IssueServingCertificate(
    const ServingCertificateRequest& request, std::chrono::system_clock::time_point now) {
  ClearErrorsOnExit clear_errors;
  if (request.dns_names.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "no DNS name for the certificate");
  }
  for (const auto& name : request.dns_names) {
    if (!IsDnsName(name)) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "\"" + name + "\" is not a lower-case DNS name");
    }
  }
  constexpr auto kMaxValidity = std::chrono::hours(24 * 365 * 100);
  if (request.validity < std::chrono::hours(1) || request.validity > kMaxValidity) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "the validity must be between one hour and 100 years");
  }
  if (request.ca_common_name.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "the CA needs a common name");
  }
  const std::time_t not_before =
      std::chrono::system_clock::to_time_t(now - std::chrono::minutes(5));
  const std::time_t not_after = std::chrono::system_clock::to_time_t(now + request.validity);

  auto ca_key = NewKey();
  if (!ca_key) {
    return tl::unexpected(ca_key.error());
  }
  auto key = NewKey();
  if (!key) {
    return tl::unexpected(key.error());
  }
  auto ca = MakeCertificate(request.ca_common_name, ca_key->get(), nullptr, ca_key->get(),
                            not_before, not_after,
                            {{NID_basic_constraints, "critical,CA:TRUE,pathlen:0"},
                             {NID_key_usage, "critical,keyCertSign,cRLSign"},
                             {NID_subject_key_identifier, "hash"}});
  if (!ca) {
    return tl::unexpected(ca.error());
  }
  std::string alt_names;
  for (const auto& name : request.dns_names) {
    alt_names += (alt_names.empty() ? "DNS:" : ",DNS:") + name;
  }
  auto cert = MakeCertificate(request.dns_names.front(), key->get(), ca->get(), ca_key->get(),
                              not_before, not_after,
                              {{NID_basic_constraints, "critical,CA:FALSE"},
                               {NID_key_usage, "critical,digitalSignature"},
                               {NID_ext_key_usage, "serverAuth"},
                               {NID_subject_key_identifier, "hash"},
                               {NID_authority_key_identifier, "keyid:always"},
                               {NID_subject_alt_name, alt_names}});
  if (!cert) {
    return tl::unexpected(cert.error());
  }
  IssuedServingCertificate out;
  auto ca_pem = ToPem([&](BIO* b) { return PEM_write_bio_X509(b, ca->get()) == 1; }, "CA");
  auto cert_pem =
      ToPem([&](BIO* b) { return PEM_write_bio_X509(b, cert->get()) == 1; }, "certificate");
  auto key_pem = ToPem(
      [&](BIO* b) {
        return PEM_write_bio_PrivateKey(b, key->get(), nullptr, nullptr, 0, nullptr, nullptr) == 1;
      },
      "key");
  if (!ca_pem || !cert_pem || !key_pem) {
    return tl::unexpected(!ca_pem     ? ca_pem.error()
                          : !cert_pem ? cert_pem.error()
                                      : key_pem.error());
  }
  return IssuedServingCertificate{.ca_cert_pem = std::move(*ca_pem),
                                  .cert_pem = std::move(*cert_pem),
                                  .key_pem = std::move(*key_pem)};
}

}  // namespace podiam::pki
