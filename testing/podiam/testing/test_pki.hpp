// TestPki: a throwaway certificate authority for TLS tests, made with OpenSSL's C API (no CLI, no
// files checked in). It writes PEM files into a fresh temporary directory, removed on destruction:
// a CA, a server certificate for "localhost", 127.0.0.1 and ::1, a client certificate, and a
// second, unrelated CA for negative tests.
//
// Thread-safety: construct once per test; the file paths are then plain values.
//
//   testing::TestPki pki;
//   server_options.tls_cert_file = pki.server_cert;  // PEM paths
//   client_options.ca_file = pki.ca_cert;
#pragma once

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>

namespace podiam::testing {

class TestPki {
 public:
  TestPki() {
    char tmpl[] = "/tmp/podiam-pki-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) {
      throw std::runtime_error("mkdtemp failed");
    }
    dir = tmpl;
    Issued ca = Issue("podiam test CA", nullptr, nullptr, /*is_ca=*/true, "");
    ca_cert = Write("ca.pem", ca, /*key=*/false);
    Issued server = Issue("localhost", &ca, nullptr, false, "DNS:localhost,IP:127.0.0.1,IP:::1");
    server_cert = Write("server.pem", server, false);
    server_key = Write("server-key.pem", server, true);
    Issued client = Issue("podiam-agent", &ca, nullptr, false, "DNS:podiam-agent");
    client_cert = Write("client.pem", client, false);
    client_key = Write("client-key.pem", client, true);
    Issued other = Issue("unrelated CA", nullptr, nullptr, true, "");
    other_ca_cert = Write("other-ca.pem", other, false);
    Issued other_server = Issue("localhost", &other, nullptr, false, "DNS:localhost,IP:127.0.0.1");
    other_server_cert = Write("other-server.pem", other_server, false);
    other_server_key = Write("other-server-key.pem", other_server, true);
    // Signed by the right CA but for another name: hostname verification must refuse it.
    Issued wrong_name = Issue("elsewhere", &ca, nullptr, false, "DNS:elsewhere.example");
    wrong_name_cert = Write("wrong-name.pem", wrong_name, false);
    wrong_name_key = Write("wrong-name-key.pem", wrong_name, true);
    for (Issued* i : {&ca, &server, &client, &other, &other_server, &wrong_name}) {
      X509_free(i->cert);
      EVP_PKEY_free(i->key);
    }
  }
  ~TestPki() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  TestPki(const TestPki&) = delete;
  TestPki& operator=(const TestPki&) = delete;

  std::string dir;
  std::string ca_cert;
  std::string server_cert, server_key;
  std::string client_cert, client_key;
  std::string other_ca_cert;
  std::string other_server_cert, other_server_key;
  std::string wrong_name_cert, wrong_name_key;

 private:
  struct Issued {
    X509* cert = nullptr;
    EVP_PKEY* key = nullptr;
  };

  static void Require(bool ok, const char* what) {
    if (!ok) {
      throw std::runtime_error(std::string("TestPki: ") + what);
    }
  }

  static void AddExtension(X509* cert, X509* issuer, int nid, const char* value) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
    Require(ext != nullptr, "extension");
    X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
  }

  Issued Issue(const char* common_name, const Issued* issuer, const void* /*unused*/, bool is_ca,
               const std::string& san) {
    Issued out;
    out.key = EVP_EC_gen("P-256");
    Require(out.key != nullptr, "key generation");
    out.cert = X509_new();
    X509_set_version(out.cert, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(out.cert), ++serial_);
    X509_gmtime_adj(X509_getm_notBefore(out.cert), -3600);
    X509_gmtime_adj(X509_getm_notAfter(out.cert), 24 * 3600);
    X509_set_pubkey(out.cert, out.key);
    X509_NAME* name = X509_get_subject_name(out.cert);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>(common_name), -1, -1, 0);
    X509* issuer_cert = issuer != nullptr ? issuer->cert : out.cert;
    X509_set_issuer_name(out.cert, X509_get_subject_name(issuer_cert));
    AddExtension(out.cert, issuer_cert, NID_basic_constraints,
                 is_ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
    AddExtension(out.cert, issuer_cert, NID_key_usage,
                 is_ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature");
    AddExtension(out.cert, issuer_cert, NID_subject_key_identifier, "hash");
    if (!is_ca) {
      AddExtension(out.cert, issuer_cert, NID_ext_key_usage, "serverAuth,clientAuth");
      AddExtension(out.cert, issuer_cert, NID_subject_alt_name, san.c_str());
    }
    EVP_PKEY* signer = issuer != nullptr ? issuer->key : out.key;
    Require(X509_sign(out.cert, signer, EVP_sha256()) > 0, "sign");
    return out;
  }

  std::string Write(const char* file, const Issued& issued, bool key) {
    std::string path = dir + "/" + file;
    FILE* f = std::fopen(path.c_str(), "w");
    Require(f != nullptr, "open output file");
    bool ok = key ? PEM_write_PrivateKey(f, issued.key, nullptr, nullptr, 0, nullptr, nullptr) == 1
                  : PEM_write_X509(f, issued.cert) == 1;
    std::fclose(f);
    Require(ok, "write PEM");
    return path;
  }

  long serial_ = 0;  // NOLINT(google-runtime-int): ASN1_INTEGER_set takes long
};

}  // namespace podiam::testing
