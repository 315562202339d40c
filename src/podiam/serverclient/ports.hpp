// The ports of the server source besides http::HttpClient, Clock and Random: where the agent's
// Bearer token comes from. FileToken reads the projected ServiceAccount token file on every call
// (kubelet rotates it in place); tests use a lambda.
//
// Thread-safety: Read() may be called from several threads at once.
//
//   serverclient::FileToken token("/var/run/secrets/podiam/server/token");
//   Result<std::string> t = token.Read();  // never log it
#pragma once

#include <string>
#include <utility>

#include "podiam/base/error.hpp"

namespace podiam::serverclient {

class TokenSource {
 public:
  virtual ~TokenSource() = default;
  // The current token, surrounding whitespace removed. Errors are kUnavailable and retryable
  // (kubelet may not have written the file yet); an empty file is an error.
  virtual Result<std::string> Read() = 0;
};

class FileToken final : public TokenSource {
 public:
  explicit FileToken(std::string path) : path_(std::move(path)) {}
  Result<std::string> Read() override;
  [[nodiscard]] const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace podiam::serverclient
