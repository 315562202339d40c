// Service-account signing keys as OIDC publishes them: PEM loading (OpenSSL 3), the JWK of a
// public key, and its `kid` derived exactly as kube-apiserver derives it (docs/oidc.md):
//   kid = base64url-without-padding(SHA-256(DER SubjectPublicKeyInfo)).
// Supported: RSA >= 2048 bits (RS256) and EC P-256 / P-384 (ES256 / ES384), from a public key
// (PKIX "PUBLIC KEY" or PKCS#1 "RSA PUBLIC KEY") or a private key (PKCS#8, PKCS#1, SEC1) file.
//
// Thread-safety: pure functions over values.
//
//   auto key = oidc::LoadPublicKeyPem(pem_text);
//   key->kid;   // "9aNWvlDBXOKpZLoXC5OFCUPPjeqtAJonebZiu9-I80E"
//   key->jwk;   // {"use":"sig","kty":"RSA","kid":...,"alg":"RS256","n":...,"e":"AQAB"}
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "podiam/base/error.hpp"

namespace podiam::oidc {

enum class KeyType { kRsa, kEc };

struct PublicKey {
  KeyType type = KeyType::kRsa;
  std::string alg;       // "RS256", "ES256", "ES384"
  int bits = 0;          // RSA modulus size or EC field size
  std::string spki_der;  // DER SubjectPublicKeyInfo
  std::string kid;
  nlohmann::ordered_json jwk;  // field order as kube-apiserver (go-jose) writes it
};

// One PEM text holding a public or private key (the first key block; "EC PARAMETERS" blocks are
// skipped). kInvalidArgument with a message naming what is wrong.
Result<PublicKey> LoadPublicKeyPem(std::string_view pem);
// From DER SubjectPublicKeyInfo.
Result<PublicKey> PublicKeyFromSpki(std::string_view der);
// From an untrusted JWK (kty RSA with n/e, or EC with crv/x/y). The `kid` is the JWK's own (may
// be empty), not a derived one; `alg`, when present, must match the key.
Result<PublicKey> PublicKeyFromJwk(const nlohmann::json& jwk);

std::string KidFromSpki(std::string_view der);

// RFC 4648 §5 without padding.
std::string Base64UrlEncode(std::string_view bytes);
// Accepts unpadded base64url only; kInvalidArgument otherwise.
Result<std::string> Base64UrlDecode(std::string_view text);

// Verifies a JWS signature (RS256: PKCS#1 v1.5 SHA-256; ES256/ES384: raw r||s as JWS encodes
// it). kUnauthenticated when it does not verify, kInvalidArgument when `alg` does not fit the key.
Result<void> VerifySignature(const PublicKey& key, std::string_view alg,
                             std::string_view signing_input, std::string_view signature);

}  // namespace podiam::oidc
