#include "podiam/vault/ports.hpp"

#include <fmt/format.h>

#include <fstream>
#include <sstream>

namespace podiam::vault {

Result<std::string> FileJwtSource::Read() {
  std::ifstream in(path_, std::ios::binary);
  if (!in) {
    return MakeError(ErrorCode::kFailedPrecondition,
                     fmt::format("cannot read the Vault login token file {}", path_));
  }
  std::ostringstream text;
  text << in.rdbuf();
  std::string token = text.str();
  auto first = token.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) {
    return MakeError(ErrorCode::kFailedPrecondition,
                     fmt::format("the Vault login token file {} is empty", path_));
  }
  auto last = token.find_last_not_of(" \t\r\n");
  return token.substr(first, last - first + 1);
}

}  // namespace podiam::vault
