#include "podiam/membership/rendezvous.hpp"

namespace podiam::membership {
namespace {

constexpr std::uint64_t kFnvOffset = 14695981039346656037ULL;
constexpr std::uint64_t kFnvPrime = 1099511628211ULL;

void Feed(std::uint64_t& h, std::string_view bytes) {
  for (unsigned char c : bytes) {
    h ^= c;
    h *= kFnvPrime;
  }
}

// A field as its 8-byte little-endian length, then its bytes.
void FeedField(std::uint64_t& h, std::string_view bytes) {
  std::uint64_t n = bytes.size();
  for (int i = 0; i < 8; ++i) {
    h ^= (n >> (8 * i)) & 0xffU;
    h *= kFnvPrime;
  }
  Feed(h, bytes);
}

}  // namespace

std::uint64_t Fnv1a64(std::string_view bytes) {
  std::uint64_t h = kFnvOffset;
  Feed(h, bytes);
  return h;
}

std::uint64_t Mix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

std::uint64_t KeyHash(const creds::CredentialKey& key) {
  std::uint64_t h = kFnvOffset;
  for (const std::string* field :
       {&key.role_arn, &key.target_role_arn, &key.external_id, &key.session_name,
        &key.session_policy, &key.owner, &key.source_identity}) {
    FeedField(h, *field);
  }
  FeedField(h, std::to_string(key.tags.size()));
  for (const auto& tag : key.tags) {
    FeedField(h, tag.key);
    FeedField(h, tag.value);
  }
  FeedField(h, key.duration_seconds ? std::to_string(*key.duration_seconds) : std::string());
  return Mix64(h);
}

std::uint64_t Weight(std::string_view member, std::uint64_t key_hash) {
  return Mix64(Fnv1a64(member) ^ Mix64(key_hash));
}

std::size_t OwnerIndex(const std::vector<std::string>& members, std::uint64_t key_hash) {
  std::size_t best = members.size();
  std::uint64_t best_weight = 0;
  for (std::size_t i = 0; i < members.size(); ++i) {
    std::uint64_t w = Weight(members[i], key_hash);
    if (best == members.size() || w > best_weight ||
        (w == best_weight && members[i] < members[best])) {
      best = i;
      best_weight = w;
    }
  }
  return best;
}

}  // namespace podiam::membership
