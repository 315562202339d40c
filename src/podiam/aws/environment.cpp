#include "podiam/aws/environment.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "podiam/aws/text.hpp"

namespace podiam::aws {

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

}  // namespace podiam::aws
