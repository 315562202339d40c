// ShardedSource: the server's creds::CredentialSource when replicas share the work
// (docs/server.md, "High availability and sharding"). For a key this replica owns (or when no
// other replica is alive) it calls STS; for a key a live peer owns it asks that peer:
//
//   POST <peer URL>/v1/peer/credentials (peer_protocol.hpp), Bearer <this replica's own projected
//   ServiceAccount token, read on every call>, at most `timeout` (2 s)
//
// The owner answers from its prefetched cache. A 200 is the result; a 403 CredentialsDenied (STS
// refused the owner for good, e.g. AccessDenied) is that error, not retried elsewhere; anything
// else (no token, unreachable, timeout, 5xx, NotOwner while views differ, a bad body) falls back
// to STS for this fetch and is counted (podiam_server_peer_fallbacks_total): a pod never sees a
// peer's trouble.
//
// Thread-safety: Fetch() from several broker workers at once.
//
//   server::ShardedSource source(sts_source, owners, peer_http, token, metrics, {});
//   creds::CredentialBroker broker(source, clock, random, registry, options);
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <utility>

#include "podiam/base/log.hpp"
#include "podiam/creds/credential_source.hpp"
#include "podiam/http/client.hpp"
#include "podiam/server/shard.hpp"
#include "podiam/serverclient/ports.hpp"

namespace podiam::server {

struct ShardedSourceOptions {
  std::chrono::milliseconds timeout{2000};
  // --peer-tls-server-name: the name owners' certificates are verified for ("" the URL's host).
  std::string tls_server_name;
};

class ShardedSource final : public creds::CredentialSource {
 public:
  ShardedSource(creds::CredentialSource& sts, const KeyOwners& owners, http::HttpClient& peers,
                serverclient::TokenSource& token, ShardMetrics& metrics,
                ShardedSourceOptions options)
      : sts_(sts),
        owners_(owners),
        peers_(peers),
        token_(token),
        metrics_(metrics),
        options_(std::move(options)) {}

  Result<aws::AssumeRoleResult> Fetch(const creds::CredentialSpec& spec,
                                      int default_duration_seconds) override;
  [[nodiscard]] std::string_view Name() const override { return "sts"; }

 private:
  // nullopt: fall back to STS (counted and logged with `why`).
  std::optional<Result<aws::AssumeRoleResult>> AskPeer(const creds::CredentialSpec& spec,
                                                       const membership::Member& owner,
                                                       std::string* why);

  creds::CredentialSource& sts_;
  const KeyOwners& owners_;
  http::HttpClient& peers_;
  serverclient::TokenSource& token_;
  ShardMetrics& metrics_;
  ShardedSourceOptions options_;
  log::Logger log_{"server.shard"};
};

}  // namespace podiam::server
