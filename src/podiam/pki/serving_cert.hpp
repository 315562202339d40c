// A private CA and a TLS serving certificate it signs, for a webhook reached through a Service
// (`podiam webhook certs`, docs/webhook.md "Serving certificate"). The apiserver calls the webhook
// at SERVICE.NAMESPACE.svc and verifies the certificate against the configuration's caBundle,
// so the certificate names that host (and .svc.cluster.local) and the CA is the bundle.
//
// Keys are EC P-256 from OpenSSL's CSPRNG; serial numbers are 128 random bits. The CA can sign
// only at issue time: its key is not returned (rotate by issuing a new pair and caBundle).
// Validity starts five minutes before `now` (clock skew between nodes) and lasts `validity`.
//
// Thread-safety: pure functions (OpenSSL's thread-safe RNG is the only shared state).
//
//   auto issued = pki::IssueServingCertificate(
//       {.dns_names = pki::ServiceDnsNames("podiam-webhook", "podiam-webhook")}, clock.Now());
//   if (issued) { write issued->cert_pem, issued->key_pem (0600), issued->ca_cert_pem }
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "podiam/base/error.hpp"

namespace podiam::pki {

struct ServingCertificateRequest {
  // The names the certificate is valid for; the first is also its subject's common name.
  std::vector<std::string> dns_names;
  std::chrono::hours validity{24 * 365};
  std::string ca_common_name = "podiam webhook CA";
};

struct IssuedServingCertificate {
  std::string ca_cert_pem;  // the caBundle (PEM)
  std::string cert_pem;     // tls.crt
  std::string key_pem;      // tls.key (PKCS#8, unencrypted)
};

// kInvalidArgument for no names, a name that is not a lower-case DNS name, or a validity outside
// [1 hour, 100 years]; kInternal when OpenSSL fails.
Result<IssuedServingCertificate> IssueServingCertificate(const ServingCertificateRequest& request,
                                                         std::chrono::system_clock::time_point now);

// SERVICE.NAMESPACE.svc and SERVICE.NAMESPACE.svc.cluster.local: the host names the apiserver
// uses for a service clientConfig (kube-apiserver dials SERVICE.NAMESPACE.svc).
std::vector<std::string> ServiceDnsNames(std::string_view service, std::string_view namespace_name);

// Whether `name` is a DNS-1123 label (lower-case alphanumerics and '-', 1..63, alphanumeric at
// both ends), as Service and Namespace names are.
bool IsDnsLabel(std::string_view name);

// Standard base64 (with padding), as caBundle carries the PEM.
std::string Base64(std::string_view bytes);

}  // namespace podiam::pki
