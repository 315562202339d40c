// How podiam registers a flag with CLI11: every option also reads PODIAM_<FLAG>, booleans accept
// `--flag=false`, durations take Go's "1h30m", choices map to enums. Used by the flag groups and
// the subcommands' own flags.
//
// Thread-safety: as ParseCommandLine (once, from main).
#pragma once

#include <CLI/CLI.hpp>
#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "podiam/cli/command_line.hpp"

namespace podiam::cli {

// An option whose value may also come from PODIAM_<FLAG>.
template <typename T>
CLI::Option* AddFlag(CLI::App& app, const std::string& name, T& target, const std::string& help) {
  auto* opt = app.add_option(name, target, help);
  opt->envname(EnvNameForFlag(name));
  return opt;
}

// A bool flag that also accepts "--flag=false" and PODIAM_FLAG=false.
CLI::Option* AddBool(CLI::App& app, const std::string& name, bool& target, const std::string& help);

// A duration flag ("1h", "30m"): parsed by ParseDuration, stored in seconds.
CLI::Option* AddDuration(CLI::App& app, const std::string& name, std::chrono::seconds& target,
                         const std::string& help);

// One of a fixed set of words, stored as the enum value it maps to; anything else is a usage
// error listing the choices.
template <typename E>
CLI::Option* AddChoice(CLI::App& app, const std::string& name, E& target,
                       const std::map<std::string, E>& choices, const std::string& help) {
  std::vector<std::string> words;
  std::string current;
  for (const auto& [word, value] : choices) {
    words.push_back(word);
    if (value == target) {
      current = word;
    }
  }
  auto* opt = app.add_option_function<std::string>(
      name, [&target, choices](const std::string& word) { target = choices.at(word); }, help);
  opt->check(CLI::IsMember(words))->envname(EnvNameForFlag(name));
  opt->default_str(current);
  return opt;
}

}  // namespace podiam::cli
