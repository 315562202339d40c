// Test helper: signs a JWS with a PEM private key (OpenSSL), so the tests make real tokens.
#pragma once

#include <openssl/bn.h>
#include <openssl/decoder.h>
#include <openssl/ec.h>
#include <openssl/evp.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "podiam/oidc/keys.hpp"

namespace podiam::oidc::testing {

inline std::string Sign(std::string private_pem, const std::string& alg, const std::string& input) {
  if (auto at = private_pem.find("-----BEGIN EC PRIVATE KEY"); at != std::string::npos) {
    private_pem = private_pem.substr(at);  // skip EC PARAMETERS
  }
  EVP_PKEY* pkey = nullptr;
  OSSL_DECODER_CTX* dctx =
      OSSL_DECODER_CTX_new_for_pkey(&pkey, "PEM", nullptr, nullptr, 0, nullptr, nullptr);
  const auto* data = reinterpret_cast<const unsigned char*>(private_pem.data());  // NOLINT
  std::size_t len = private_pem.size();
  OSSL_DECODER_from_data(dctx, &data, &len);
  OSSL_DECODER_CTX_free(dctx);
  const EVP_MD* md = alg == "ES384" ? EVP_sha384() : EVP_sha256();
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestSignInit(ctx, nullptr, md, nullptr, pkey);
  std::size_t sig_len = 0;
  const auto* in = reinterpret_cast<const unsigned char*>(input.data());  // NOLINT
  EVP_DigestSign(ctx, nullptr, &sig_len, in, input.size());
  std::string sig(sig_len, '\0');
  EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &sig_len, in,  // NOLINT
                 input.size());
  sig.resize(sig_len);
  EVP_MD_CTX_free(ctx);
  EVP_PKEY_free(pkey);
  if (alg != "ES256" && alg != "ES384") {
    return sig;
  }
  // DER ECDSA-Sig-Value -> JWS raw r||s.
  int half = alg == "ES384" ? 48 : 32;
  const auto* p = reinterpret_cast<const unsigned char*>(sig.data());  // NOLINT
  ECDSA_SIG* es = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size()));
  std::string raw(static_cast<std::size_t>(2 * half), '\0');
  auto* out = reinterpret_cast<unsigned char*>(raw.data());  // NOLINT
  BN_bn2binpad(ECDSA_SIG_get0_r(es), out, half);
  BN_bn2binpad(ECDSA_SIG_get0_s(es), out + half, half);  // NOLINT
  ECDSA_SIG_free(es);
  return raw;
}

inline std::string MakeJwt(const std::string& private_pem, const nlohmann::json& header,
                           const nlohmann::json& claims) {
  std::string input = Base64UrlEncode(header.dump()) + "." + Base64UrlEncode(claims.dump());
  return input + "." + Base64UrlEncode(Sign(private_pem, header.value("alg", "RS256"), input));
}

}  // namespace podiam::oidc::testing
