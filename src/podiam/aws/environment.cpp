#include "podiam/aws/environment.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "podiam/aws/text.hpp"

namespace podiam::aws {

Environment ProcessEnvironment() {
  return [](std::string_view name) -> std::optional<std::string> {
    std::string key(name);
    // NOLINTNEXTLINE(concurrency-mt-unsafe): podiam never modifies its environment after start.
    const char* value = std::getenv(key.c_str());
    if (value == nullptr) {
      return std::nullopt;
    }
    return std::string(value);
  };
}

Environment MapEnvironment(std::map<std::string, std::string, std::less<>> values) {
  return [values = std::move(values)](std::string_view name) -> std::optional<std::string> {
    auto it = values.find(name);
    if (it == values.end()) {
      return std::nullopt;
    }
    return it->second;
  };
}

Result<std::string> ReadLocalFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    int err = errno;
    return MakeError(err == ENOENT ? ErrorCode::kNotFound : ErrorCode::kUnavailable,
                     fmt::format("cannot read {}: {}", Quote(path),
                                 std::strerror(err)));  // NOLINT(concurrency-mt-unsafe)
  }
  std::ostringstream content;
  content << in.rdbuf();
  if (in.bad()) {
    return MakeError(ErrorCode::kUnavailable, fmt::format("error reading {}", Quote(path)));
  }
  return content.str();
}

std::optional<std::string> NonEmpty(const Environment& env, std::string_view name) {
  auto value = env(name);
  if (!value || value->empty()) {
    return std::nullopt;
  }
  return value;
}

}  // namespace podiam::aws
