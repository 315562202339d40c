#include "podiam/cli/build_info.hpp"

#include <string>

#include "podiam/cli/command_line.hpp"

#ifndef PODIAM_GIT_COMMIT
#define PODIAM_GIT_COMMIT "unknown"
#endif
#ifndef PODIAM_BUILD_TYPE
#define PODIAM_BUILD_TYPE "unknown"
#endif

namespace podiam::cli {
namespace {

std::string Compiler() {
#if defined(__clang__)
  return "clang " __clang_version__;
#elif defined(__GNUC__)
  return "gcc " __VERSION__;
#else
  return "unknown";
#endif
}

bool Sanitized() {
#if defined(__SANITIZE_ADDRESS__)
  return true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
  return true;
#else
  return false;
#endif
#else
  return false;
#endif
}

}  // namespace

std::string BuildInfo() {
  std::string out = "podiam " + std::string(Version()) + "\n";
  out += "commit: " PODIAM_GIT_COMMIT "\n";
  out += "build type: " PODIAM_BUILD_TYPE "\n";
  out += "compiler: " + Compiler() + ", C++" + std::to_string(__cplusplus / 100 % 100) + "\n";
  out += std::string("sanitizers: ") + (Sanitized() ? "address, undefined" : "none") + "\n";
  return out;
}

}  // namespace podiam::cli
