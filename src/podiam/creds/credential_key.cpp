#include "podiam/creds/credential_key.hpp"

#include <string_view>

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
  Combine(seed, key.external_id);
  Combine(seed, key.session_name);
  Combine(seed, key.session_policy);
  return seed;
}

aws::AssumeRoleRequest ToAssumeRoleRequest(const CredentialSpec& spec,
                                           int default_duration_seconds) {
  aws::AssumeRoleRequest request;
  request.role_arn = spec.key.role_arn;
  request.role_session_name = spec.key.session_name;
  request.duration_seconds = spec.duration_seconds.value_or(default_duration_seconds);
  request.external_id = spec.key.external_id;
  request.policy = spec.key.session_policy;
  request.tags = spec.tags;
  request.source_identity = spec.source_identity;
  return request;
}

}  // namespace podiam::creds
