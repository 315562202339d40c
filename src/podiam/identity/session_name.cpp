#include "podiam/identity/session_name.hpp"

#include <fmt/format.h>
#include <openssl/sha.h>

#include <array>

#include "podiam/aws/text.hpp"

namespace podiam::identity {
std::string SanitizeSessionName(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    out += aws::IsSessionNameChar(c) ? c : '-';
  }
  while (out.size() < 2) {
    out += '-';
  }
  if (out.size() <= kMaxSessionName) {
    return out;
  }
  std::array<unsigned char, SHA256_DIGEST_LENGTH> digest{};
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): OpenSSL takes unsigned char*.
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest.data());
  return fmt::format("{}-{:02x}{:02x}{:02x}{:02x}", out.substr(0, kMaxSessionName - 9), digest[0],
                     digest[1], digest[2], digest[3]);
}

std::string SessionName(std::string_view namespace_name, std::string_view pod_name,
                        std::string_view annotation) {
  if (!annotation.empty()) {
    return SanitizeSessionName(annotation);
  }
  return SanitizeSessionName(fmt::format("{}.{}", namespace_name, pod_name));
}

}  // namespace podiam::identity
