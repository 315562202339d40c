// FakeTokenReviews: a containercreds::TokenAuthenticator (the server's TokenReviewer too) that
// answers from a fixed map of tokens: a known token gets its identity, any other
// kUnauthenticated, and every review kUnavailable while `down` (an unreachable apiserver).
// Counts its calls, so tests can see what a cache saved.
//
// Thread-safety: not thread-safe.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "podiam/base/error.hpp"
#include "podiam/containercreds/ports.hpp"

namespace podiam::testing {

class FakeTokenReviews final : public containercreds::TokenAuthenticator {
 public:
  Result<containercreds::TokenIdentity> Review(std::string_view token) override {
    ++calls;
    if (down) {
      return MakeError(ErrorCode::kUnavailable, "apiserver down");
    }
    auto it = known.find(std::string(token));
    if (it == known.end()) {
      return MakeError(ErrorCode::kUnauthenticated, "token not authenticated");
    }
    return it->second;
  }
  std::map<std::string, containercreds::TokenIdentity> known;
  int calls = 0;
  bool down = false;
};

}  // namespace podiam::testing
