// identity::PolicyOptions from the role flags (cli::RoleFlags), for every subcommand that decides
// pods' roles (agent; server and explain next). With --auto-discover-base-arn and no
// --base-role-arn, the base ARN comes from the node's metadata service (app/node_metadata.hpp).
//
// Thread-safety: call once at start-up.
#pragma once

#include "podiam/aws/imds_client.hpp"
#include "podiam/base/clock.hpp"
#include "podiam/base/error.hpp"
#include "podiam/base/log.hpp"
#include "podiam/cli/config.hpp"
#include "podiam/identity/policy.hpp"

namespace podiam::app {

// `node_imds`: nullptr when podiam may not ask the node's metadata service.
Result<identity::PolicyOptions> PolicyOptionsFrom(const cli::RoleFlags& flags,
                                                  aws::InstanceMetadata* node_imds,
                                                  const Clock& clock, log::Logger& log);

}  // namespace podiam::app
