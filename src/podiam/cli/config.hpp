// Plain configuration structs filled by the command line (cli/) and consumed by the composition
// roots (app/). No behaviour here.
#pragma once

#include <string>

#include "podiam/base/log.hpp"

namespace podiam::cli {

// Flags every subcommand accepts.
struct GlobalConfig {
  log::Options log;
};

enum class Command { kNone, kAgent, kServer, kWebhook, kController, kOidc, kExplain };

}  // namespace podiam::cli
