// Fuzzes the untrusted bytes of a peer replica's request to `podiam server`
// (server/peer_protocol.hpp and peer_handler.hpp): the Authorization header, the strict JSON body
// (ParsePeerRequest) and the whole PeerHandler with in-file fakes: a replica's token, an agent's
// token (not a peer), and an owner view that says this replica owns the key or another does.
//
// Input layout (docs/fuzzing.md):
//   byte 0   bits 0-1: Authorization: 0 "Bearer " + the fuzzed line, 1 "Bearer <peer>",
//            2 "Bearer <agent>", 3 none; bit 2: another replica owns every key; bit 3: STS
//            refuses (AccessDenied); bit 4: the apiserver is down; bit 5: GET instead of POST
//   line 1   the token (choice 0)
//   rest     the body
//
// Invariants: exactly one answer, with a status in {200, 400, 401, 403, 405, 503}; every non-200
// is JSON {"code","message","retryable"} with the status its code stands for; a 200 only for POST
// with the peer's token, a body ParsePeerRequest accepts, this replica owning the key and STS
// not refusing, carrying the fake broker's credentials, and the broker was asked for exactly the
// parsed spec; ParsePeerRequest accepts only bodies of at most 16 KiB, within STS's limits, and
// what it accepts survives EncodePeerRequest + ParsePeerRequest unchanged; no refusal echoes a
// replica's or an agent's token.
#include <cstddef>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "fuzz/fuzz_input.hpp"
#include "podiam/metrics/registry.hpp"
#include "podiam/server/peer_handler.hpp"
#include "podiam/server/peer_protocol.hpp"
#include "podiam/server/protocol.hpp"
#include "podiam/testing/fake_clock.hpp"
#include "podiam/testing/test_jwt.hpp"

namespace podiam::server {
namespace {

constexpr std::int64_t kNow = 2000000000;

std::string Token(std::string_view sub) {
  return testing::UnsignedJwt(R"({"alg":"RS256"})",
                              R"({"exp":2000000600,"sub":")" + std::string(sub) + "\"}");
}

class Reviews final : public TokenReviewer {
 public:
  Result<TokenIdentity> Review(std::string_view token) override {
    if (down) {
      return MakeError(ErrorCode::kUnavailable, "down");
    }
    if (token == Token("peer")) {
      return TokenIdentity{.username = "system:serviceaccount:kube-system:podiam-server"};
    }
    if (token == Token("agent")) {
      return TokenIdentity{.username = "system:serviceaccount:kube-system:podiam-agent",
                           .node_name = "node-a"};
    }
    return MakeError(ErrorCode::kUnauthenticated, "unknown token");
  }
  bool down = false;
};

class Owners final : public KeyOwners {
 public:
  std::optional<membership::Member> PeerOwner(const creds::CredentialKey& /*k*/) const override {
    return other ? std::optional<membership::Member>({"b", "https://b:1"}) : std::nullopt;
  }
  bool other = false;
};

class Fresh final : public PeerCredentials {
 public:
  Result<aws::Credentials> FetchFresh(const creds::CredentialSpec& spec,
                                      SteadyTime /*deadline*/) override {
    ++calls;
    last = spec;
    if (refuse) {
      return MakeError(ErrorCode::kPermissionDenied, "denied", "AccessDenied", false);
    }
    return aws::Credentials{.access_key_id = "ASIAFUZZOWNER",
                            .secret_access_key = "s",
                            .session_token = "t",
                            .expiration = Clock::WallTime(std::chrono::seconds(kNow + 3600))};
  }
  int calls = 0;
  creds::CredentialSpec last;
  bool refuse = false;
};

const std::map<std::string, int>& Statuses() {
  static const std::map<std::string, int> statuses = {
      {"Unauthorized", 401}, {"NotAPeer", 403},          {"BadRequest", 400},
      {"NotOwner", 503},     {"CredentialsDenied", 403}, {"CredentialsUnavailable", 503},
      {"Unavailable", 503},  {"MethodNotAllowed", 405}};
  return statuses;
}

void CheckParser(std::string_view body) {
  auto parsed = ParsePeerRequest(body);
  if (!parsed) {
    FUZZ_CHECK(parsed.error().code() == ErrorCode::kInvalidArgument, "parse error kind");
    return;
  }
  FUZZ_CHECK(body.size() <= kMaxPeerBodyBytes, "accepted an oversized body");
  const creds::CredentialKey& k = parsed->key;
  FUZZ_CHECK(!k.role_arn.empty() && !k.session_name.empty(), "required members");
  FUZZ_CHECK(k.session_name.size() <= 64 && k.tags.size() <= 50 && k.source_identity.size() <= 64,
             "STS limits");
  FUZZ_CHECK(!k.duration_seconds || (*k.duration_seconds >= 900 && *k.duration_seconds <= 43200),
             "duration range");
  auto again = ParsePeerRequest(EncodePeerRequest(*parsed));
  FUZZ_CHECK(again.has_value(), "an accepted spec does not survive a round trip");
  FUZZ_CHECK(again->key == k, "round trip changed the key");
  FUZZ_CHECK(again->pod.has_value() == parsed->pod.has_value(), "round trip changed the pod");
}

}  // namespace
}  // namespace podiam::server

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace podiam;          // NOLINT(google-build-using-namespace): fuzz target
  using namespace podiam::server;  // NOLINT(google-build-using-namespace): fuzz target
  fuzz::Input in(data, size);
  const std::uint8_t flags = in.Byte();
  const std::string_view line = in.Line();
  const std::string body(in.Rest());
  CheckParser(body);

  testing::FakeClock clock{std::chrono::seconds(kNow)};
  Reviews reviews;
  reviews.down = (flags & 0x10) != 0;
  containercreds::ReviewCache cache(clock, {});
  Owners owners;
  owners.other = (flags & 0x04) != 0;
  Fresh fresh;
  fresh.refuse = (flags & 0x08) != 0;
  metrics::Registry registry;
  ShardMetrics metrics(registry);
  PeerHandler handler(reviews, cache, owners, fresh, clock, metrics, {});

  std::string token;
  switch (flags & 0x03) {
    case 0:
      token = std::string(line);
      break;
    case 1:
      token = Token("peer");
      break;
    case 2:
      token = Token("agent");
      break;
    default:
      break;
  }
  http::Request request;
  request.method = (flags & 0x20) != 0 ? "GET" : "POST";
  request.target = std::string(kPeerCredentialsPath);
  if ((flags & 0x03) != 3) {
    request.headers.Set("Authorization", "Bearer " + token);
  }
  request.body = body;
  int answers = 0;
  http::Response response;
  handler.Handle(std::move(request), [&](http::Response r) {
    ++answers;
    response = std::move(r);
  });
  FUZZ_CHECK(answers == 1, "not exactly one answer");
  auto parsed = ParsePeerRequest(body);
  const std::string authorization = "Bearer " + token;  // BearerToken() views into it
  auto bearer = BearerToken(authorization);
  const bool is_peer = (flags & 0x03) != 3 && bearer && *bearer == Token("peer");
  const bool may_succeed = (flags & 0x20) == 0 && is_peer && !reviews.down && parsed.has_value() &&
                           !owners.other && !fresh.refuse;
  if (response.status == 200) {
    FUZZ_CHECK(may_succeed, "200 when a check should have refused");
    FUZZ_CHECK(fresh.calls == 1 && fresh.last.key == parsed->key,
               "asked the broker for another key");
    auto j = nlohmann::json::parse(response.body, nullptr, false);
    FUZZ_CHECK(j.is_object() && j["credentials"]["AccessKeyId"] == "ASIAFUZZOWNER",
               "200 without the broker's credentials");
    return 0;
  }
  FUZZ_CHECK(!may_succeed, "refused a request that should succeed");
  auto j = nlohmann::json::parse(response.body, nullptr, false);
  FUZZ_CHECK(j.is_object() && j.contains("code") && j["code"].is_string() &&
                 j.contains("message") && j.contains("retryable"),
             "refusal body shape");
  auto it = Statuses().find(j["code"].get<std::string>());
  FUZZ_CHECK(it != Statuses().end() && it->second == response.status, "status and code disagree");
  if ((flags & 0x03) == 1 || (flags & 0x03) == 2) {
    FUZZ_CHECK(response.body.find(token) == std::string::npos, "refusal echoes the token");
  }
  return 0;
}
