#include "podiam/app/role_policy.hpp"

#include "podiam/app/node_metadata.hpp"
#include "podiam/aws/arn.hpp"

namespace podiam::app {

Result<identity::PolicyOptions> PolicyOptionsFrom(const cli::RoleFlags& flags,
                                                  aws::InstanceMetadata* node_imds,
                                                  const Clock& clock, log::Logger& log) {
  identity::PolicyOptions options{
      .default_role = flags.default_role,
      .namespace_restrictions = flags.namespace_restrictions,
      .format = flags.namespace_restriction_format,
  };
  options.keys.role = flags.iam_role_key;
  options.keys.external_id = flags.iam_external_id;
  options.keys.allowed_roles = flags.namespace_key;
  if (!flags.base_role_arn.empty()) {
    auto base = aws::ParseBaseRoleArn(flags.base_role_arn);  // checked at parse time
    if (!base) {
      return tl::unexpected(base.error().Wrap("--base-role-arn"));
    }
    options.base = *base;
  } else if (flags.auto_discover_base_arn) {
    auto base = DiscoverBaseArn(node_imds, clock);
    if (!base) {
      return tl::unexpected(base.error());
    }
    log.Info("discovered the base role ARN", {{"base_role_arn", base->ToString()}});
    options.base = *base;
  }
  return options;
}

}  // namespace podiam::app
