#include "podiam/membership/rendezvous.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

namespace podiam::membership {
namespace {

creds::CredentialKey Key(int i) {
  return {.role_arn = "arn:aws:iam::123456789012:role/r" + std::to_string(i % 20),
          .session_name = "ns.pod-" + std::to_string(i),
          .owner = "pod/" + std::to_string(i)};
}

std::vector<std::string> Owners(const std::vector<std::string>& members, int n) {
  std::vector<std::string> out;
  out.reserve(n);
  for (int i = 0; i < n; ++i) {
    out.push_back(members[OwnerIndex(members, KeyHash(Key(i)))]);
  }
  return out;
}

TEST(Rendezvous, HashesAreStableAcrossBuilds) {
  // Fixed values: a change here moves keys between replicas of different versions.
  EXPECT_EQ(Fnv1a64(""), 14695981039346656037ULL);
  EXPECT_EQ(Fnv1a64("a"), 0xaf63dc4c8601ec8cULL);
  EXPECT_EQ(Mix64(0), 0xe220a8397b1dcdafULL);
  EXPECT_EQ(KeyHash(Key(1)), KeyHash(Key(1)));
  EXPECT_NE(KeyHash(Key(1)), KeyHash(Key(2)));
}

TEST(Rendezvous, EveryFieldOfTheKeyCounts) {
  creds::CredentialKey base = Key(1);
  std::vector<creds::CredentialKey> variants(8, base);
  variants[0].target_role_arn = "x";
  variants[1].external_id = "x";
  variants[2].session_policy = "x";
  variants[3].source_identity = "x";
  variants[4].tags = {{.key = "k", .value = "v"}};
  variants[5].duration_seconds = 900;
  variants[6].owner = "pod/other";
  // Length prefixes: moving a byte from one field to the next is another key.
  variants[7].role_arn = base.role_arn + "p";
  variants[7].target_role_arn = "";
  for (const auto& v : variants) {
    EXPECT_NE(KeyHash(v), KeyHash(base));
  }
  creds::CredentialKey a = base;
  creds::CredentialKey b = base;
  a.session_name = "ab";
  a.owner = "c";
  b.session_name = "a";
  b.owner = "bc";
  EXPECT_NE(KeyHash(a), KeyHash(b));
}

TEST(Rendezvous, NoMembersNoOwner) { EXPECT_EQ(OwnerIndex({}, 42), 0U); }

TEST(Rendezvous, OneMemberOwnsEverything) {
  auto owners = Owners({"a"}, 100);
  EXPECT_TRUE(std::all_of(owners.begin(), owners.end(), [](const auto& o) { return o == "a"; }));
}

TEST(Rendezvous, SharesAreFairAndOnlyAffectedKeysMove) {
  constexpr int kKeys = 10000;
  const std::vector<std::string> two = {"podiam-server-0", "podiam-server-1"};
  const std::vector<std::string> three = {"podiam-server-0", "podiam-server-1", "podiam-server-2"};
  auto before = Owners(two, kKeys);
  auto after = Owners(three, kKeys);
  int moved = 0;
  int to_new = 0;
  for (int i = 0; i < kKeys; ++i) {
    if (before[i] != after[i]) {
      ++moved;
      to_new += after[i] == "podiam-server-2" ? 1 : 0;
    }
  }
  // 2 -> 3: only keys the newcomer takes move, about a third.
  EXPECT_EQ(moved, to_new);
  EXPECT_NEAR(static_cast<double>(moved) / kKeys, 1.0 / 3, 0.03);
  // 3 -> 2 (server-1 leaves): only its keys move, about a third, and they spread over both.
  const std::vector<std::string> left = {"podiam-server-0", "podiam-server-2"};
  auto gone = Owners(left, kKeys);
  int moved_back = 0;
  int from_leaver = 0;
  int to_zero = 0;
  for (int i = 0; i < kKeys; ++i) {
    if (after[i] != gone[i]) {
      ++moved_back;
      from_leaver += after[i] == "podiam-server-1" ? 1 : 0;
      to_zero += gone[i] == "podiam-server-0" ? 1 : 0;
    }
  }
  EXPECT_EQ(moved_back, from_leaver);
  EXPECT_NEAR(static_cast<double>(moved_back) / kKeys, 1.0 / 3, 0.03);
  EXPECT_NEAR(static_cast<double>(to_zero) / moved_back, 0.5, 0.05);
  // Fair shares with two.
  auto zero = std::count(before.begin(), before.end(), "podiam-server-0");
  EXPECT_NEAR(static_cast<double>(zero) / kKeys, 0.5, 0.03);
}

TEST(Rendezvous, OrderOfMembersDoesNotMatter) {
  std::vector<std::string> a = {"x", "y", "z"};
  std::vector<std::string> b = {"z", "x", "y"};
  for (int i = 0; i < 1000; ++i) {
    auto h = KeyHash(Key(i));
    EXPECT_EQ(a[OwnerIndex(a, h)], b[OwnerIndex(b, h)]);
  }
}

}  // namespace
}  // namespace podiam::membership
