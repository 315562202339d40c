#include "podiam/pki/serving_cert.hpp"

#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <chrono>
#include <memory>

namespace podiam::pki {
namespace {

using std::chrono::hours;
using std::chrono::system_clock;

struct X509Free {
  void operator()(X509* p) const { X509_free(p); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
using Cert = std::unique_ptr<X509, X509Free>;

Cert ParseCert(const std::string& pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), &BIO_free);
  return Cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
}

std::unique_ptr<EVP_PKEY, PkeyFree> ParseKey(const std::string& pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), &BIO_free);
  return std::unique_ptr<EVP_PKEY, PkeyFree>(
      PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
}

// X509_verify_cert of `leaf` against `ca` only, for host `host`, at time `at`, for TLS servers.
// Returns the verification error (X509_V_OK when it verifies).
int Verify(X509* leaf, X509* ca, const std::string& host, system_clock::time_point at) {
  std::unique_ptr<X509_STORE, decltype(&X509_STORE_free)> store(X509_STORE_new(), &X509_STORE_free);
  X509_STORE_add_cert(store.get(), ca);
  std::unique_ptr<X509_STORE_CTX, decltype(&X509_STORE_CTX_free)> ctx(X509_STORE_CTX_new(),
                                                                      &X509_STORE_CTX_free);
  X509_STORE_CTX_init(ctx.get(), store.get(), leaf, nullptr);
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx.get());
  X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size());
  X509_VERIFY_PARAM_set_time(param, system_clock::to_time_t(at));
  X509_VERIFY_PARAM_set_purpose(param, X509_PURPOSE_SSL_SERVER);
  if (X509_verify_cert(ctx.get()) == 1) {
    return X509_V_OK;
  }
  return X509_STORE_CTX_get_error(ctx.get());
}

const system_clock::time_point kNow = system_clock::from_time_t(1'780'000'000);

TEST(ServingCertificate, VerifiesAgainstItsCaForBothServiceNames) {
  auto names = ServiceDnsNames("podiam-webhook", "podiam-system");
  ASSERT_EQ(names, (std::vector<std::string>{"podiam-webhook.podiam-system.svc",
                                             "podiam-webhook.podiam-system.svc.cluster.local"}));
  auto issued = IssueServingCertificate({.dns_names = names}, kNow);
  ASSERT_TRUE(issued) << issued.error().ToString();
  auto ca = ParseCert(issued->ca_cert_pem);
  auto leaf = ParseCert(issued->cert_pem);
  ASSERT_TRUE(ca && leaf);
  for (const auto& host : names) {
    EXPECT_EQ(Verify(leaf.get(), ca.get(), host, kNow), X509_V_OK) << host;
  }
  EXPECT_EQ(Verify(leaf.get(), ca.get(), "other.podiam-system.svc", kNow),
            X509_V_ERR_HOSTNAME_MISMATCH);
  EXPECT_EQ(Verify(leaf.get(), ca.get(), "podiam-webhook", kNow), X509_V_ERR_HOSTNAME_MISMATCH);
  // Another issue is another CA: it does not vouch for this certificate.
  auto other = IssueServingCertificate({.dns_names = names}, kNow);
  ASSERT_TRUE(other);
  auto other_ca = ParseCert(other->ca_cert_pem);
  EXPECT_NE(Verify(leaf.get(), other_ca.get(), names[0], kNow), X509_V_OK);
  EXPECT_NE(issued->ca_cert_pem, other->ca_cert_pem);
}

TEST(ServingCertificate, ValidityStartsJustBeforeNowAndLastsTheRequestedTime) {
  auto issued =
      IssueServingCertificate({.dns_names = {"hook.ns.svc"}, .validity = hours(24 * 30)}, kNow);
  ASSERT_TRUE(issued);
  auto ca = ParseCert(issued->ca_cert_pem);
  auto leaf = ParseCert(issued->cert_pem);
  EXPECT_EQ(Verify(leaf.get(), ca.get(), "hook.ns.svc", kNow - std::chrono::minutes(4)), X509_V_OK);
  EXPECT_EQ(Verify(leaf.get(), ca.get(), "hook.ns.svc", kNow + hours(24 * 30 - 1)), X509_V_OK);
  EXPECT_EQ(Verify(leaf.get(), ca.get(), "hook.ns.svc", kNow - hours(1)),
            X509_V_ERR_CERT_NOT_YET_VALID);
  EXPECT_EQ(Verify(leaf.get(), ca.get(), "hook.ns.svc", kNow + hours(24 * 30 + 1)),
            X509_V_ERR_CERT_HAS_EXPIRED);
  int day = 0;
  int sec = 0;
  ASSERT_EQ(
      ASN1_TIME_diff(&day, &sec, X509_get0_notBefore(leaf.get()), X509_get0_notAfter(leaf.get())),
      1);
  EXPECT_EQ(day * 86400 + sec, 30 * 86400 + 300);
}

TEST(ServingCertificate, KeyUsagesAndConstraints) {
  auto issued = IssueServingCertificate({.dns_names = {"hook.ns.svc"}}, kNow);
  ASSERT_TRUE(issued);
  auto ca = ParseCert(issued->ca_cert_pem);
  auto leaf = ParseCert(issued->cert_pem);
  // The leaf: a TLS server certificate that cannot sign certificates.
  EXPECT_EQ(X509_check_ca(leaf.get()), 0);
  EXPECT_EQ(X509_get_key_usage(leaf.get()), static_cast<std::uint32_t>(KU_DIGITAL_SIGNATURE));
  EXPECT_EQ(X509_get_extended_key_usage(leaf.get()), static_cast<std::uint32_t>(XKU_SSL_SERVER));
  EXPECT_EQ(X509_check_purpose(leaf.get(), X509_PURPOSE_SSL_SERVER, 0), 1);
  EXPECT_EQ(X509_get_version(leaf.get()), X509_VERSION_3);
  // The CA: signs certificates only, one level.
  EXPECT_GT(X509_check_ca(ca.get()), 0);
  EXPECT_EQ(X509_get_key_usage(ca.get()),
            static_cast<std::uint32_t>(KU_KEY_CERT_SIGN | KU_CRL_SIGN));
  EXPECT_EQ(X509_get_pathlen(ca.get()), 0);
  EXPECT_EQ(X509_check_issued(ca.get(), leaf.get()), X509_V_OK);
  // The key is the leaf's, EC P-256, and the serials are positive 128-bit numbers.
  auto key = ParseKey(issued->key_pem);
  ASSERT_TRUE(key);
  EXPECT_EQ(X509_check_private_key(leaf.get(), key.get()), 1);
  EXPECT_EQ(EVP_PKEY_get_bits(key.get()), 256);
  EXPECT_TRUE(issued->key_pem.starts_with("-----BEGIN PRIVATE KEY-----"));
  const ASN1_INTEGER* serial = X509_get0_serialNumber(leaf.get());
  EXPECT_EQ(ASN1_STRING_length(serial), 16);
  EXPECT_NE(ASN1_INTEGER_cmp(serial, X509_get0_serialNumber(ca.get())), 0);
}

TEST(ServingCertificate, RefusesBadRequests) {
  for (const auto& names : std::vector<std::vector<std::string>>{
           {}, {"Hook.ns.svc"}, {"hook..svc"}, {"hook.ns.svc,DNS:evil.com"}, {"-a.svc"}, {""}}) {
    auto issued = IssueServingCertificate({.dns_names = names}, kNow);
    ASSERT_FALSE(issued) << (names.empty() ? "(none)" : names[0]);
    EXPECT_EQ(issued.error().code(), ErrorCode::kInvalidArgument);
  }
  EXPECT_FALSE(IssueServingCertificate({.dns_names = {"a.b"}, .validity = hours(0)}, kNow));
  EXPECT_FALSE(
      IssueServingCertificate({.dns_names = {"a.b"}, .validity = hours(24 * 365 * 101)}, kNow));
}

TEST(ServingCertificate, DnsLabelsAndBase64) {
  EXPECT_TRUE(IsDnsLabel("podiam-webhook"));
  EXPECT_TRUE(IsDnsLabel("a1"));
  EXPECT_FALSE(IsDnsLabel("Podiam"));
  EXPECT_FALSE(IsDnsLabel("-a"));
  EXPECT_FALSE(IsDnsLabel("a-"));
  EXPECT_FALSE(IsDnsLabel("a.b"));
  EXPECT_FALSE(IsDnsLabel(std::string(64, 'a')));
  EXPECT_EQ(Base64(""), "");
  EXPECT_EQ(Base64("f"), "Zg==");
  EXPECT_EQ(Base64("foob"), "Zm9vYg==");
  EXPECT_EQ(Base64("foobar"), "Zm9vYmFy");
}

}  // namespace
}  // namespace podiam::pki
