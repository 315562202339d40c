// The peer protocol between `podiam server` replicas (docs/server.md, "High availability and
// sharding"): a replica asked for a key another replica owns gets the credentials from that owner
// instead of STS.
//
//   POST /v1/peer/credentials
//   Authorization: Bearer <the asking replica's projected ServiceAccount token>
//   {"roleArn":"arn:…","targetRoleArn":"","externalId":"","sessionName":"team-a.web-1",
//    "sessionPolicy":"","owner":"pod/0b3c…","tags":[{"key":"k","value":"v"}],
//    "sourceIdentity":"","durationSeconds":3600,
//    "pod":{"namespace":"team-a","name":"web-1","uid":"0b3c…"}}
//
// The body is the whole CredentialSpec (every field of the CredentialKey, so both replicas mean
// the same cache entry). Answers: 200 with the agent protocol's success body
// (protocol.hpp CredentialsResponse), or its error body (RefusalResponse).
//
// Parsing is strict: a JSON object of at most kMaxPeerBodyBytes with only the members above, each
// of its type and within STS's limits; "roleArn" and "sessionName" are required, the others
// default to empty/absent ("durationSeconds": null or absent is the broker's default).
//
// Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "podiam/base/error.hpp"
#include "podiam/creds/credential_key.hpp"

namespace podiam::server {

inline constexpr std::string_view kPeerCredentialsPath = "/v1/peer/credentials";
inline constexpr std::size_t kMaxPeerBodyBytes = std::size_t{16} * 1024;

std::string EncodePeerRequest(const creds::CredentialSpec& spec);

// kInvalidArgument naming the member at fault (never echoing values: the external ID and the
// session policy are sensitive).
Result<creds::CredentialSpec> ParsePeerRequest(std::string_view body);

}  // namespace podiam::server
