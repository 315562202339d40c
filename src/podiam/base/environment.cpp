#include "podiam/base/environment.hpp"

#include <cstdlib>
#include <utility>

namespace podiam {

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

std::optional<std::string> NonEmpty(const Environment& env, std::string_view name) {
  auto value = env(name);
  if (!value || value->empty()) {
    return std::nullopt;
  }
  return value;
}

}  // namespace podiam
