#include "podiam/oidc/keys.hpp"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/decoder.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>

#include <array>
#include <memory>
#include <vector>

namespace podiam::oidc {
namespace {

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct BnFree {
  void operator()(BIGNUM* p) const { BN_free(p); }
};
struct DecoderFree {
  void operator()(OSSL_DECODER_CTX* p) const { OSSL_DECODER_CTX_free(p); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
};
struct PkeyCtxFree {
  void operator()(EVP_PKEY_CTX* p) const { EVP_PKEY_CTX_free(p); }
};
struct ParamBldFree {
  void operator()(OSSL_PARAM_BLD* p) const { OSSL_PARAM_BLD_free(p); }
};
struct ParamFree {
  void operator()(OSSL_PARAM* p) const { OSSL_PARAM_free(p); }
};
struct SigFree {
  void operator()(ECDSA_SIG* p) const { ECDSA_SIG_free(p); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;

// Failed OpenSSL calls leave entries on the thread's error queue; drop them on the way out so a
// later, unrelated TLS error message on the same thread is not about a rejected key.
struct ClearErrorsOnExit {
  ClearErrorsOnExit() = default;
  ClearErrorsOnExit(const ClearErrorsOnExit&) = delete;
  ClearErrorsOnExit& operator=(const ClearErrorsOnExit&) = delete;
  ~ClearErrorsOnExit() { ERR_clear_error(); }
};
using Bn = std::unique_ptr<BIGNUM, BnFree>;

constexpr std::string_view kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

const unsigned char* Bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());  // NOLINT
}

std::string Sha256(std::string_view data) {
  std::array<unsigned char, 32> out{};
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), out.data(), &len, EVP_sha256(), nullptr);
  return {reinterpret_cast<const char*>(out.data()), len};  // NOLINT
}

std::string BnBytes(const BIGNUM* bn, int pad_to = 0) {
  int n = pad_to > 0 ? pad_to : BN_num_bytes(bn);
  std::string out(static_cast<std::size_t>(n), '\0');
  BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), n);  // NOLINT
  return out;
}

Bn GetBn(const EVP_PKEY* pkey, const char* name) {
  BIGNUM* bn = nullptr;
  EVP_PKEY_get_bn_param(pkey, name, &bn);
  return Bn(bn);
}

struct Curve {
  const char* openssl_name;
  const char* crv;
  const char* alg;
  int bytes;
};
constexpr std::array<Curve, 2> kCurves = {
    {{"prime256v1", "P-256", "ES256", 32}, {"secp384r1", "P-384", "ES384", 48}}};

const Curve* CurveByOpenSsl(std::string_view name) {
  for (const auto& c : kCurves) {
    if (name == c.openssl_name || (name == "P-256" && c.bytes == 32) ||
        (name == "P-384" && c.bytes == 48)) {
      return &c;
    }
  }
  return nullptr;
}
const Curve* CurveByJwk(std::string_view crv) {
  for (const auto& c : kCurves) {
    if (crv == c.crv) {
      return &c;
    }
  }
  return nullptr;
}

// Fills everything but `kid`/`jwk.kid` from an EVP_PKEY.
Result<PublicKey> Describe(const EVP_PKEY* pkey) {
  PublicKey key;
  unsigned char* der = nullptr;
  int der_len = i2d_PUBKEY(const_cast<EVP_PKEY*>(pkey), &der);  // NOLINT
  if (der_len <= 0) {
    return MakeError(ErrorCode::kInvalidArgument, "cannot encode the public key");
  }
  key.spki_der.assign(reinterpret_cast<const char*>(der),
                      static_cast<std::size_t>(der_len));  // NOLINT
  OPENSSL_free(der);
  key.kid = KidFromSpki(key.spki_der);
  key.bits = EVP_PKEY_get_bits(pkey);
  switch (EVP_PKEY_get_base_id(pkey)) {
    case EVP_PKEY_RSA: {
      if (key.bits < 2048) {
        return MakeError(ErrorCode::kInvalidArgument,
                         "RSA key of " + std::to_string(key.bits) +
                             " bits: IAM and kube-apiserver want at least 2048");
      }
      key.type = KeyType::kRsa;
      key.alg = "RS256";
      auto n = GetBn(pkey, OSSL_PKEY_PARAM_RSA_N);
      auto e = GetBn(pkey, OSSL_PKEY_PARAM_RSA_E);
      if (!n || !e) {
        return MakeError(ErrorCode::kInvalidArgument, "RSA key without modulus or exponent");
      }
      key.jwk = {{"use", "sig"},
                 {"kty", "RSA"},
                 {"kid", key.kid},
                 {"alg", key.alg},
                 {"n", Base64UrlEncode(BnBytes(n.get()))},
                 {"e", Base64UrlEncode(BnBytes(e.get()))}};
      return key;
    }
    case EVP_PKEY_EC: {
      std::array<char, 64> group{};
      std::size_t group_len = 0;
      if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group.data(),
                                         group.size(), &group_len) != 1) {
        return MakeError(ErrorCode::kInvalidArgument, "EC key without a named curve");
      }
      const Curve* curve = CurveByOpenSsl(std::string_view(group.data(), group_len));
      if (curve == nullptr) {
        return MakeError(ErrorCode::kInvalidArgument, "EC curve " +
                                                          std::string(group.data(), group_len) +
                                                          " is not supported: use P-256 or P-384");
      }
      auto x = GetBn(pkey, OSSL_PKEY_PARAM_EC_PUB_X);
      auto y = GetBn(pkey, OSSL_PKEY_PARAM_EC_PUB_Y);
      if (!x || !y) {
        return MakeError(ErrorCode::kInvalidArgument, "EC key without a public point");
      }
      key.type = KeyType::kEc;
      key.alg = curve->alg;
      key.jwk = {{"use", "sig"},
                 {"kty", "EC"},
                 {"kid", key.kid},
                 {"crv", curve->crv},
                 {"alg", key.alg},
                 {"x", Base64UrlEncode(BnBytes(x.get(), curve->bytes))},
                 {"y", Base64UrlEncode(BnBytes(y.get(), curve->bytes))}};
      return key;
    }
    default:
      return MakeError(
          ErrorCode::kInvalidArgument,
          "unsupported key type: ServiceAccount tokens are signed with RSA or EC keys");
  }
}

Pkey FromSpki(std::string_view der) {
  const unsigned char* p = Bytes(der);
  return Pkey(d2i_PUBKEY(nullptr, &p, static_cast<long>(der.size())));
}

Result<Pkey> ToPkey(const PublicKey& key) {
  Pkey pkey = FromSpki(key.spki_der);
  if (!pkey) {
    return MakeError(ErrorCode::kInvalidArgument, "unusable public key");
  }
  return pkey;
}

std::string JwkString(const nlohmann::json& jwk, const char* name) {
  auto it = jwk.find(name);
  if (it == jwk.end() || !it->is_string()) {
    return {};
  }
  return it->get<std::string>();
}

Result<Pkey> FromParams(const char* type, OSSL_PARAM_BLD* bld) {
  std::unique_ptr<OSSL_PARAM, ParamFree> params(OSSL_PARAM_BLD_to_param(bld));
  std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree> ctx(
      EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  EVP_PKEY* raw = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
    return MakeError(ErrorCode::kInvalidArgument,
                     std::string("JWK is not a valid ") + type + " public key");
  }
  return Pkey(raw);
}

}  // namespace

std::string KidFromSpki(std::string_view der) { return Base64UrlEncode(Sha256(der)); }

std::string Base64UrlEncode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  auto at = [&bytes](std::size_t k) { return static_cast<unsigned char>(bytes[k]); };
  for (; i + 3 <= bytes.size(); i += 3) {
    unsigned v = (at(i) << 16U) | (at(i + 1) << 8U) | at(i + 2);
    out += kAlphabet[(v >> 18U) & 63U];
    out += kAlphabet[(v >> 12U) & 63U];
    out += kAlphabet[(v >> 6U) & 63U];
    out += kAlphabet[v & 63U];
  }
  if (bytes.size() - i == 1) {
    unsigned v = at(i) << 16U;
    out += kAlphabet[(v >> 18U) & 63U];
    out += kAlphabet[(v >> 12U) & 63U];
  } else if (bytes.size() - i == 2) {
    unsigned v = (at(i) << 16U) | (at(i + 1) << 8U);
    out += kAlphabet[(v >> 18U) & 63U];
    out += kAlphabet[(v >> 12U) & 63U];
    out += kAlphabet[(v >> 6U) & 63U];
  }
  return out;
}

Result<std::string> Base64UrlDecode(std::string_view text) {
  if (text.size() % 4 == 1) {
    return MakeError(ErrorCode::kInvalidArgument, "bad base64url length");
  }
  std::string out;
  out.reserve(text.size() * 3 / 4);
  unsigned acc = 0;
  int nbits = 0;
  for (char c : text) {
    auto pos = kAlphabet.find(c);
    if (pos == std::string_view::npos) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "not base64url (unpadded, alphabet A-Z a-z 0-9 - _)");
    }
    acc = (acc << 6U) | static_cast<unsigned>(pos);
    nbits += 6;
    if (nbits >= 8) {
      nbits -= 8;
      out += static_cast<char>((acc >> static_cast<unsigned>(nbits)) & 0xFFU);
    }
  }
  // Leftover bits must be zero (canonical encoding).
  if ((acc & ((1U << static_cast<unsigned>(nbits)) - 1U)) != 0) {
    return MakeError(ErrorCode::kInvalidArgument, "non-canonical base64url");
  }
  return out;
}

Result<PublicKey> LoadPublicKeyPem(std::string_view pem) {
  ClearErrorsOnExit clear_errors;
  // Find the first key block; skip EC PARAMETERS (what `openssl ecparam -genkey` writes first).
  std::size_t pos = 0;
  while (true) {
    auto begin = pem.find("-----BEGIN ", pos);
    if (begin == std::string_view::npos) {
      return MakeError(ErrorCode::kInvalidArgument, "no PEM key block (-----BEGIN ... KEY-----)");
    }
    auto label_end = pem.find("-----", begin + 11);
    if (label_end == std::string_view::npos) {
      return MakeError(ErrorCode::kInvalidArgument, "truncated PEM header");
    }
    std::string label(pem.substr(begin + 11, label_end - begin - 11));
    std::string end_marker = "-----END " + label + "-----";
    auto end = pem.find(end_marker, label_end);
    if (end == std::string_view::npos) {
      return MakeError(ErrorCode::kInvalidArgument, "PEM block " + label + " has no END line");
    }
    pos = end + end_marker.size();
    if (label == "EC PARAMETERS") {
      continue;
    }
    if (label == "CERTIFICATE") {
      return MakeError(ErrorCode::kInvalidArgument,
                       "a certificate, not a key: give the ServiceAccount key file "
                       "(--service-account-key-file or the signing key)");
    }
    if (!label.ends_with("KEY") || label.find("ENCRYPTED") != std::string::npos) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "PEM block " + label + " is not an unencrypted public or private key");
    }
    std::string block(pem.substr(begin, pos - begin));
    EVP_PKEY* raw = nullptr;
    std::unique_ptr<OSSL_DECODER_CTX, DecoderFree> ctx(
        OSSL_DECODER_CTX_new_for_pkey(&raw, "PEM", nullptr, nullptr, 0, nullptr, nullptr));
    const unsigned char* data = Bytes(block);
    std::size_t len = block.size();
    if (!ctx || OSSL_DECODER_from_data(ctx.get(), &data, &len) != 1 || raw == nullptr) {
      return MakeError(ErrorCode::kInvalidArgument, "cannot decode the " + label + " PEM block");
    }
    Pkey pkey(raw);
    return Describe(pkey.get());
  }
}

Result<PublicKey> PublicKeyFromSpki(std::string_view der) {
  ClearErrorsOnExit clear_errors;
  Pkey pkey = FromSpki(der);
  if (!pkey) {
    return MakeError(ErrorCode::kInvalidArgument, "not a DER SubjectPublicKeyInfo");
  }
  return Describe(pkey.get());
}

Result<PublicKey> PublicKeyFromJwk(const nlohmann::json& jwk) {
  ClearErrorsOnExit clear_errors;
  if (!jwk.is_object()) {
    return MakeError(ErrorCode::kInvalidArgument, "JWK is not an object");
  }
  std::string kty = JwkString(jwk, "kty");
  std::unique_ptr<OSSL_PARAM_BLD, ParamBldFree> bld(OSSL_PARAM_BLD_new());
  Result<Pkey> pkey = MakeError(ErrorCode::kInvalidArgument, "JWK kty must be RSA or EC");
  if (kty == "RSA") {
    auto n = Base64UrlDecode(JwkString(jwk, "n"));
    auto e = Base64UrlDecode(JwkString(jwk, "e"));
    if (!n || !e || n->empty() || e->empty() || n->size() > 2048 || e->size() > 8) {
      return MakeError(ErrorCode::kInvalidArgument, "RSA JWK needs base64url n and e");
    }
    Bn bn_n(BN_bin2bn(Bytes(*n), static_cast<int>(n->size()), nullptr));
    Bn bn_e(BN_bin2bn(Bytes(*e), static_cast<int>(e->size()), nullptr));
    OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get());
    OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get());
    pkey = FromParams("RSA", bld.get());
  } else if (kty == "EC") {
    const Curve* curve = CurveByJwk(JwkString(jwk, "crv"));
    if (curve == nullptr) {
      return MakeError(ErrorCode::kInvalidArgument, "EC JWK crv must be P-256 or P-384");
    }
    auto x = Base64UrlDecode(JwkString(jwk, "x"));
    auto y = Base64UrlDecode(JwkString(jwk, "y"));
    auto want = static_cast<std::size_t>(curve->bytes);
    if (!x || !y || x->size() != want || y->size() != want) {
      return MakeError(ErrorCode::kInvalidArgument,
                       std::string("EC JWK needs base64url x and y of ") +
                           std::to_string(curve->bytes) + " bytes for " + curve->crv);
    }
    std::string point = "\x04" + *x + *y;
    OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, curve->openssl_name, 0);
    OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                     point.size());
    pkey = FromParams("EC", bld.get());
  }
  if (!pkey) {
    return tl::unexpected(pkey.error());
  }
  auto key = Describe(pkey->get());
  if (!key) {
    return key;
  }
  std::string alg = JwkString(jwk, "alg");
  if (!alg.empty() && alg != key->alg) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "JWK alg " + alg + " does not fit its key (" + key->alg + ")");
  }
  key->kid = JwkString(jwk, "kid");
  key->jwk["kid"] = key->kid;
  return key;
}

Result<void> VerifySignature(const PublicKey& key, std::string_view alg,
                             std::string_view signing_input, std::string_view signature) {
  ClearErrorsOnExit clear_errors;
  if (alg != key.alg) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "token alg " + std::string(alg) + " does not fit the key (" + key.alg + ")");
  }
  auto pkey = ToPkey(key);
  if (!pkey) {
    return tl::unexpected(pkey.error());
  }
  std::string der_sig(signature);
  const EVP_MD* md = EVP_sha256();
  if (key.type == KeyType::kEc) {
    std::size_t half = alg == "ES384" ? 48 : 32;
    md = alg == "ES384" ? EVP_sha384() : EVP_sha256();
    if (signature.size() != 2 * half) {
      return MakeError(ErrorCode::kUnauthenticated,
                       "signature has " + std::to_string(signature.size()) + " bytes, " +
                           std::string(alg) + " needs " + std::to_string(2 * half));
    }
    std::unique_ptr<ECDSA_SIG, SigFree> sig(ECDSA_SIG_new());
    BIGNUM* r = BN_bin2bn(Bytes(signature), static_cast<int>(half), nullptr);
    BIGNUM* s = BN_bin2bn(Bytes(signature.substr(half)), static_cast<int>(half), nullptr);
    ECDSA_SIG_set0(sig.get(), r, s);
    unsigned char* out = nullptr;
    int out_len = i2d_ECDSA_SIG(sig.get(), &out);
    if (out_len <= 0) {
      return MakeError(ErrorCode::kInternal, "cannot encode the ECDSA signature");
    }
    der_sig.assign(reinterpret_cast<const char*>(out),
                   static_cast<std::size_t>(out_len));  // NOLINT
    OPENSSL_free(out);
  }
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, md, nullptr, pkey->get()) != 1) {
    return MakeError(ErrorCode::kInternal, "cannot set up signature verification");
  }
  if (EVP_DigestVerify(ctx.get(), Bytes(der_sig), der_sig.size(), Bytes(signing_input),
                       signing_input.size()) != 1) {
    return MakeError(ErrorCode::kUnauthenticated, "signature does not verify with key " + key.kid);
  }
  return {};
}

}  // namespace podiam::oidc
