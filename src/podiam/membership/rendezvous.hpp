// Rendezvous (highest-random-weight) hashing of credential keys over the live server replicas
// (docs/server.md, "High availability and sharding"): the owner of a key is the member with the
// largest Weight(member, KeyHash(key)). When a member leaves, only its keys move (each to the
// member with the next-largest weight); when one joins, it takes a fair share from every other.
//
// The hashes are stable across processes, builds and machines (FNV-1a 64 over a length-prefixed
// encoding of every CredentialKey field, then the splitmix64 finaliser): every replica must
// compute the same owner. Never use std::hash here (it may differ between builds).
//
// Thread-safety: pure functions.
//
//   std::uint64_t h = membership::KeyHash(spec.key);
//   std::size_t i = membership::OwnerIndex(identities, h);  // identities sorted, non-empty
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "podiam/creds/credential_key.hpp"

namespace podiam::membership {

// FNV-1a 64 of `bytes` (offset basis 14695981039346656037, prime 1099511628211).
std::uint64_t Fnv1a64(std::string_view bytes);
// The splitmix64 finaliser: a bijective mixer so that nearby inputs get unrelated weights.
std::uint64_t Mix64(std::uint64_t x);
// Every field of `key` (length-prefixed, so no two keys share an encoding), hashed.
std::uint64_t KeyHash(const creds::CredentialKey& key);
// The weight of `member` for a key hash.
std::uint64_t Weight(std::string_view member, std::uint64_t key_hash);
// The index in `members` of the owner of `key_hash` (ties: the smaller identity);
// members.size() when `members` is empty.
std::size_t OwnerIndex(const std::vector<std::string>& members, std::uint64_t key_hash);

}  // namespace podiam::membership
