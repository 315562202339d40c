#include "podiam/containercreds/token_key.hpp"

#include <gtest/gtest.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <array>
#include <cstring>
#include <string>

namespace podiam::containercreds {
namespace {

// OpenSSL's SipHash (EVP_MAC "SIPHASH", 2-4 rounds, 16-byte output): the independent oracle.
std::array<unsigned char, 16> OpenSslSipHash128(const std::string& key, const std::string& data) {
  std::array<unsigned char, 16> out{};
  EVP_MAC* mac = EVP_MAC_fetch(nullptr, "SIPHASH", nullptr);
  EVP_MAC_CTX* ctx = EVP_MAC_CTX_new(mac);
  unsigned int size = 16;
  OSSL_PARAM params[] = {OSSL_PARAM_construct_uint(OSSL_MAC_PARAM_SIZE, &size),
                         OSSL_PARAM_construct_end()};
  std::size_t len = 0;
  EXPECT_EQ(
      EVP_MAC_init(ctx, reinterpret_cast<const unsigned char*>(key.data()), key.size(), params), 1);
  EXPECT_EQ(EVP_MAC_update(ctx, reinterpret_cast<const unsigned char*>(data.data()), data.size()),
            1);
  EXPECT_EQ(EVP_MAC_final(ctx, out.data(), &len, out.size()), 1);
  EXPECT_EQ(len, 16U);
  EVP_MAC_CTX_free(ctx);
  EVP_MAC_free(mac);
  return out;
}

std::array<unsigned char, 16> Ours(const std::string& key, const std::string& data) {
  std::array<unsigned char, 16> out{};
  TokenHasher::Bytes(TokenHasher(key)(data), out.data());
  return out;
}

std::string ReferenceKey() {
  std::string key(16, '\0');
  for (int i = 0; i < 16; ++i) {
    key[static_cast<std::size_t>(i)] = static_cast<char>(i);
  }
  return key;
}

TEST(TokenKeyTest, ReferenceVectorEmptyMessage) {
  // The reference implementation's vectors_sip128[0]: key 00..0f, empty message.
  const std::array<unsigned char, 16> want = {0xa3, 0x81, 0x7f, 0x04, 0xba, 0x25, 0xa8, 0xe6,
                                              0x6d, 0xf6, 0x72, 0x14, 0xc7, 0x55, 0x02, 0x93};
  EXPECT_EQ(Ours(ReferenceKey(), ""), want);
}

TEST(TokenKeyTest, MatchesOpenSslForEveryLengthUpTo100AndAToken) {
  std::string key = ReferenceKey();
  std::string data;
  for (int n = 0; n <= 100; ++n) {
    EXPECT_EQ(Ours(key, data), OpenSslSipHash128(key, data)) << "length " << n;
    data.push_back(static_cast<char>(n * 37 + 11));
  }
  std::string other_key = "0123456789abcdef";
  std::string token(1234, 'x');
  for (std::size_t i = 0; i < token.size(); ++i) {
    token[i] = static_cast<char>('A' + i % 50);
  }
  EXPECT_EQ(Ours(other_key, token), OpenSslSipHash128(other_key, token));
}

TEST(TokenKeyTest, DependsOnKeyAndEveryByte) {
  TokenHasher a("0123456789abcdef");
  TokenHasher b("0123456789abcdeg");
  EXPECT_EQ(a("token"), a("token"));
  EXPECT_NE(a("token"), b("token"));
  EXPECT_NE(a("token"), a("tokem"));
  EXPECT_NE(a("token"), a(std::string_view("token\0", 6)));
}

}  // namespace
}  // namespace podiam::containercreds
