// FetchPeerChain: connects with TLS and returns the certificate chain the server presents (DER,
// leaf first), as `openssl s_client -showcerts` shows it. Used by `podiam iam
// create-oidc-provider --thumbprint auto` (docs/oidc.md: the thumbprint is the SHA-1 of the
// last certificate of that chain). The chain is read, not verified: IAM decides what to trust.
//
// Thread-safety: independent calls may run concurrently.
//
//   auto chain = transport::FetchPeerChain({.host = "oidc.example.com", .port = 443});
//   std::string top = chain->back();
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "podiam/base/error.hpp"

namespace podiam::transport {

struct PeerChainOptions {
  std::string host;  // SNI and, unless `address` is set, where to connect
  std::uint16_t port = 443;
  std::string address;  // numeric IP or host to connect to instead (split-horizon DNS, tests)
  std::chrono::milliseconds timeout{10000};
};

Result<std::vector<std::string>> FetchPeerChain(const PeerChainOptions& options);

}  // namespace podiam::transport
