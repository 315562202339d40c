#include "podiam/cli/flags.hpp"

namespace podiam::cli {

CLI::Option* AddBool(CLI::App& app, const std::string& name, bool& target,
                     const std::string& help) {
  auto* opt = app.add_flag(name + "{true}", target, help);
  opt->envname(EnvNameForFlag(name));
  opt->default_str(target ? "true" : "false");
  return opt;
}

CLI::Option* AddDuration(CLI::App& app, const std::string& name, std::chrono::seconds& target,
                         const std::string& help) {
  auto* opt = app.add_option_function<std::string>(
      name,
      [&target, name](const std::string& value) {
        auto d = ParseDuration(value);
        if (!d) {
          throw CLI::ValidationError(name, "'" + value + "' is not a duration such as 1h or 30m");
        }
        target = *d;
      },
      help);
  opt->envname(EnvNameForFlag(name));
  return opt;
}

}  // namespace podiam::cli
