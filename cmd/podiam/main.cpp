// podiam: flags (parsed and checked) -> Config -> app. Nothing else belongs here.
#include <cstdio>

#include "podiam/app/run.hpp"
#include "podiam/cli/command_line.hpp"

int main(int argc, char** argv) {
  auto invocation = podiam::cli::ParseAndCheck(argc, argv);
  if (invocation.exit_code) {
    std::fputs(invocation.stdout_text.c_str(), stdout);
    std::fputs(invocation.stderr_text.c_str(), stderr);
    return *invocation.exit_code;
  }
  return podiam::app::Run(invocation);
}
