#include "podiam/identity/session_name.hpp"

#include <fmt/format.h>
#include <openssl/sha.h>

#include <array>

#include "podiam/aws/text.hpp"

namespace podiam::identity {
namespace {

// The untrusted suffix, after '@'. Empty annotations add nothing.
std::string WithSuffix(std::string trusted, std::string_view annotation) {
  if (!annotation.empty()) {
    trusted += '@';
    trusted += annotation;
  }
  return SanitizeSessionName(trusted);
}

}  // namespace

std::optional<SessionScope> ParseSessionScope(std::string_view text) {
  if (text == "pod") {
    return SessionScope::kPod;
  }
  if (text == "service-account") {
    return SessionScope::kServiceAccount;
  }
  return std::nullopt;
}

std::string_view SessionScopeName(SessionScope scope) {
  return scope == SessionScope::kPod ? "pod" : "service-account";
}

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
  return WithSuffix(fmt::format("{}.{}", namespace_name, pod_name), annotation);
}

Session DeriveSession(const SessionSubject& subject, const SessionOptions& options) {
  Session s;
  if (options.scope == SessionScope::kPod) {
    s.name = SessionName(subject.namespace_name, subject.pod_name, subject.annotation);
    s.owner = fmt::format("pod/{}", subject.pod_uid);
  } else {
    s.name = WithSuffix(fmt::format("{}.sa={}", subject.namespace_name, subject.service_account),
                        subject.annotation);
    s.owner = fmt::format("sa/{}/{}", subject.namespace_name, subject.service_account);
  }
  if (options.tags) {
    s.tags.push_back({"kubernetes-namespace", std::string(subject.namespace_name)});
    if (options.scope == SessionScope::kPod) {
      s.tags.push_back({"kubernetes-pod-name", std::string(subject.pod_name)});
    }
    s.tags.push_back({"kubernetes-service-account", std::string(subject.service_account)});
    if (options.scope == SessionScope::kPod) {
      s.tags.push_back({"kubernetes-pod-uid", std::string(subject.pod_uid)});
    }
    if (!options.cluster_name.empty()) {
      s.tags.push_back({"cluster-name", options.cluster_name});
    }
  }
  if (options.source_identity) {
    s.source_identity = s.name;
  }
  return s;
}

std::vector<aws::Tag> ObjectSessionTags(std::string_view namespace_name, std::string_view name_key,
                                        std::string_view name, const SessionOptions& options) {
  std::vector<aws::Tag> tags;
  if (!options.tags) {
    return tags;
  }
  tags.push_back({"kubernetes-namespace", std::string(namespace_name)});
  tags.push_back({std::string(name_key), std::string(name)});
  if (!options.cluster_name.empty()) {
    tags.push_back({"cluster-name", options.cluster_name});
  }
  return tags;
}

}  // namespace podiam::identity
