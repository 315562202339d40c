// The ports the Vault client needs besides http::HttpClient and Clock: where podiam's own
// Kubernetes ServiceAccount token (the JWT it logs in to Vault with) comes from.
//
// Thread-safety: implementations are called from any thread.
//
//   vault::FileJwtSource jwt("/var/run/secrets/podiam/vault/token");
//   Result<std::string> token = jwt.Read();
#pragma once

#include <string>

#include "podiam/base/error.hpp"

namespace podiam::vault {

class JwtSource {
 public:
  virtual ~JwtSource() = default;
  // The current token (a secret: never logged). Read at each login, so a rotated projected token
  // is picked up without a restart.
  virtual Result<std::string> Read() = 0;
};

// Reads the file at each call (logins are rare), trimming surrounding whitespace.
// kFailedPrecondition when the file cannot be read or is empty.
class FileJwtSource final : public JwtSource {
 public:
  explicit FileJwtSource(std::string path) : path_(std::move(path)) {}
  Result<std::string> Read() override;

 private:
  std::string path_;
};

}  // namespace podiam::vault
