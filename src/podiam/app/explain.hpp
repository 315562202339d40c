// Composition root of `podiam explain policy|pod|trust` (docs/explain.md): flags to a RolePolicy,
// the facts (flags, or the apiserver through KubeStack), explain/ to decide and render, stdout.
//
// Thread-safety: called once from app::Run.
#pragma once

#include "podiam/cli/command_line.hpp"

namespace podiam::app {

// 0: some path gives a role; 1: none does, or the apiserver could not be read; 2: usage.
int RunExplain(const cli::GlobalConfig& global, const cli::ExplainConfig& config);

// `explain trust` (explain_trust.cpp): 0 no findings (or not --check), 1 findings or IAM could
// not be read, 2 usage.
int RunExplainTrust(const cli::ExplainConfig& config);

}  // namespace podiam::app
