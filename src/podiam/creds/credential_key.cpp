#include "podiam/creds/credential_key.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <string>
#include <string_view>
#include <tuple>

namespace podiam::creds {
namespace {

// boost::hash_combine's mixing step, widened to 64 bits: cheap and good enough for a map of a
// few thousand entries whose keys differ mostly in the session name.
void Combine(std::size_t& seed, std::string_view value) {
  seed ^=
      std::hash<std::string_view>{}(value) + 0x9e3779b97f4a7c15ULL + (seed << 6U) + (seed >> 2U);
}

}  // namespace

std::size_t CredentialKeyHash::operator()(const CredentialKey& key) const noexcept {
  std::size_t seed = 0;
  Combine(seed, key.role_arn);
  Combine(seed, key.target_role_arn);
  Combine(seed, key.external_id);
  Combine(seed, key.session_name);
  Combine(seed, key.session_policy);
  Combine(seed, key.owner);
  for (const auto& tag : key.tags) {
    Combine(seed, tag.key);
    Combine(seed, tag.value);
  }
  Combine(seed, key.source_identity);
  Combine(seed, key.duration_seconds ? std::to_string(*key.duration_seconds) : std::string());
  return seed;
}

bool operator<(const CredentialKey& a, const CredentialKey& b) {
  auto scalars = [](const CredentialKey& k) {
    return std::tie(k.role_arn, k.target_role_arn, k.external_id, k.session_name, k.session_policy,
                    k.owner, k.source_identity, k.duration_seconds);
  };
  if (scalars(a) != scalars(b)) {
    return scalars(a) < scalars(b);
  }
  return std::lexicographical_compare(a.tags.begin(), a.tags.end(), b.tags.begin(), b.tags.end(),
                                      [](const aws::Tag& x, const aws::Tag& y) {
                                        return std::tie(x.key, x.value) < std::tie(y.key, y.value);
                                      });
}

aws::AssumeRoleRequest ToAssumeRoleRequest(const CredentialSpec& spec,
                                           int default_duration_seconds) {
  aws::AssumeRoleRequest request;
  request.role_arn = spec.key.role_arn;
  request.role_session_name = spec.key.session_name;
  request.duration_seconds = spec.key.duration_seconds.value_or(default_duration_seconds);
  request.external_id = spec.key.external_id;
  request.policy = spec.key.session_policy;
  request.tags = spec.key.tags;
  request.source_identity = spec.key.source_identity;
  if (!spec.key.target_role_arn.empty()) {
    request.duration_seconds = kChainFirstHopSeconds;
    request.external_id.clear();
    request.policy.clear();
  }
  return request;
}

aws::AssumeRoleRequest ToTargetRoleRequest(const CredentialSpec& spec,
                                           int default_duration_seconds) {
  aws::AssumeRoleRequest request;
  request.role_arn = spec.key.target_role_arn;
  request.role_session_name = spec.key.session_name;
  request.duration_seconds =
      std::min(spec.key.duration_seconds.value_or(default_duration_seconds), kMaxChainedSeconds);
  request.external_id = spec.key.external_id;
  request.policy = spec.key.session_policy;
  request.tags = spec.key.tags;
  request.source_identity = spec.key.source_identity;
  return request;
}

Result<aws::AssumeRoleResult> AssumeRoleFor(aws::StsClient& sts, const CredentialSpec& spec,
                                            int default_duration_seconds) {
  auto first = sts.AssumeRole(ToAssumeRoleRequest(spec, default_duration_seconds));
  if (spec.key.target_role_arn.empty()) {
    return first;
  }
  if (!first) {
    return tl::unexpected(first.error().Wrap(
        fmt::format("role chaining, first hop (roleArn {})", spec.key.role_arn)));
  }
  auto target =
      sts.AssumeRoleAs(first->credentials, ToTargetRoleRequest(spec, default_duration_seconds));
  if (!target) {
    return tl::unexpected(
        target.error().Wrap(fmt::format("role chaining, second hop (targetRoleArn {} as {})",
                                        spec.key.target_role_arn, first->assumed_role_user.arn)));
  }
  return target;
}

}  // namespace podiam::creds
