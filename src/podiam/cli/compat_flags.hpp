// kube2iam's and kiam's flags on `podiam agent`, so that a DaemonSet written for either keeps its
// args when only the image changes. docs/agent.md ("Migrating from kube2iam and kiam") has the
// table of what each flag becomes.
//
// Every kube2iam flag and every kiam agent and server flag parses, in the forms those tools take:
// `--flag=value` and `--flag value`; booleans as `--flag` and `--flag=true|false` (pflag) and
// `--no-flag` (kingpin, for kiam's booleans). Flags podiam defines under the same name
// (`--base-role-arn`, `--iptables`, `--session-duration`, `--region`, ...) are podiam's own. Each
// other flag is either
//   - translated into the AgentConfig field (or the global log level/format) with the same
//     meaning: `--app-port 8181` is `--listen 0.0.0.0:8181`; or
//   - accepted, and reported by a warning line in AgentConfig::compat_warnings saying what podiam
//     does instead. Flags with the same explanation share one line. The agent logs the lines once
//     at start-up.
// A legacy flag and the podiam flag it stands for (or two legacy flags for one setting) given
// with different values is a usage error; so is a malformed value of a translated flag. Both
// reach ParseCommandLine as CLI11 errors, which it turns into one line and exit 2.
//
// Legacy flags are not read from PODIAM_* variables: a legacy DaemonSet sets them as args. The one
// exception is kiam's `--host`, which falls back to $HOST_IP as kiam's does (only when neither
// `--host-ip` nor `--host` is given).
//
// Thread-safety: as ParseCommandLine (once, from main).
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "podiam/cli/config.hpp"

namespace podiam::cli {

inline constexpr const char* kCompatGroup = "Compatibility (kube2iam, kiam)";

// The global `--log-level` and `--log-format` (options of the podiam app, parsed into strings),
// which kube2iam's `--verbose` and kiam's `--level` and `--json-log` set.
struct GlobalLogFlags {
  std::string* level = nullptr;
  std::string* format = nullptr;
  const CLI::Option* level_option = nullptr;  // count() > 0: given (flag or environment)
  const CLI::Option* format_option = nullptr;
};

// Registers the compatibility flags (help group kCompatGroup) and `--version` on `agent`. Call it
// after podiam's own agent flags are registered: it looks them up to tell whether they were given.
// `config` and the strings in `log` must outlive the parse, which translates the flags in
// `agent`'s final callback.
void AddCompatFlags(CLI::App& agent, AgentConfig& config, const GlobalLogFlags& log);

// kube2iam's `--log-level` takes logrus's panic and fatal, which podiam does not have: rewrites
// them to "error", podiam's most severe level (it still shows why start-up failed, which kube2iam
// logs as fatal). No warning: at that level it would not be shown.
void TranslateLegacyLogLevel(std::string& level);

}  // namespace podiam::cli
