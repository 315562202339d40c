#include "podiam/serverclient/ports.hpp"

#include <fstream>
#include <iterator>

namespace podiam::serverclient {
namespace {

// A projected token is a JWT of a few KiB; anything much larger is not one.
constexpr std::size_t kMaxTokenBytes = std::size_t{64} * 1024;

}  // namespace

Result<std::string> FileToken::Read() {
  std::ifstream in(path_, std::ios::binary);
  if (!in) {
    return MakeError(ErrorCode::kUnavailable, "cannot read the server token file " + path_, {},
                     /*retryable=*/true);
  }
  std::string token;
  token.resize(kMaxTokenBytes + 1);
  in.read(token.data(), static_cast<std::streamsize>(token.size()));
  token.resize(static_cast<std::size_t>(in.gcount()));
  if (token.size() > kMaxTokenBytes) {
    return MakeError(ErrorCode::kUnavailable, "the server token file " + path_ + " is too large",
                     {}, /*retryable=*/true);
  }
  const auto first = token.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) {
    return MakeError(ErrorCode::kUnavailable, "the server token file " + path_ + " is empty", {},
                     /*retryable=*/true);
  }
  token.erase(token.find_last_not_of(" \t\r\n") + 1);
  token.erase(0, first);
  return token;
}

}  // namespace podiam::serverclient
