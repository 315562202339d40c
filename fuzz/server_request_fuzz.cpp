// Fuzzes the untrusted bytes of an agent's request to `podiam server` (server/protocol.hpp and
// handler.hpp): the Authorization header (BearerToken), the JSON body (ParseRequest) and the whole
// handler with in-file fakes: two agents' pod-bound tokens (node-a, node-b), an unbound agent
// token, another ServiceAccount's token, and pods web-a on node-a and web-b on node-b.
//
// Input layout (docs/fuzzing.md):
//   byte 0   bits 0-2: which Authorization header: 0 the fuzzed line as is, 1 "Bearer <agent-a>",
//            2 "Bearer <agent-b>", 3 "Bearer <unbound agent>", 4 "Bearer <other SA>",
//            5 "Bearer " + the fuzzed line, 6 none; bit 3: --allow-unbound-agents;
//            bit 4: the apiserver is down; bit 5: STS refuses (AccessDenied)
//   line 1   the Authorization header (used by choices 0 and 5)
//   rest     the body
//
// Invariants: the handler answers exactly once with a status in {200, 400, 401, 403, 404, 409,
// 503}; every non-200 is JSON {"code","message","retryable"} whose status is RefusalStatus(code);
// a 200 only for a token the fake review authenticated as an allowed agent, with a body that
// ParseRequest accepts, naming a pod on that token's node (or any node for the unbound token with
// --allow-unbound-agents) with its UID and role, and carries that pod's credentials; never the
// credentials of a pod on another node; no token, an unparsable header or an unknown token is
// 401; BearerToken returns a non-empty, space-free substring of the header; ParseRequest accepts
// only JSON objects of at most 4 KiB with the four non-empty string fields; no answer echoes the
// token.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "fuzz/fuzz_input.hpp"
#include "podiam/aws/arn.hpp"
#include "podiam/metrics/registry.hpp"
#include "podiam/server/handler.hpp"
#include "podiam/server/protocol.hpp"
#include "podiam/testing/fake_clock.hpp"
#include "podiam/testing/test_jwt.hpp"

namespace podiam::server {
namespace {

constexpr std::int64_t kNow = 2000000000;
constexpr std::string_view kAgent = "system:serviceaccount:kube-system:podiam-agent";
constexpr std::string_view kRole = "arn:aws:iam::123456789012:role/app";

std::string Token(std::string_view sub) {
  return testing::UnsignedJwt(R"({"alg":"RS256"})",
                              R"({"exp":2000000600,"sub":")" + std::string(sub) + "\"}");
}

class Reviews final : public TokenReviewer {
 public:
  Result<TokenIdentity> Review(std::string_view token) override {
    if (token == Token("agent-a")) {
      return TokenIdentity{.username = std::string(kAgent), .node_name = "node-a"};
    }
    if (token == Token("agent-b")) {
      return TokenIdentity{.username = std::string(kAgent), .node_name = "node-b"};
    }
    if (token == Token("unbound")) {
      return TokenIdentity{.username = std::string(kAgent)};
    }
    if (token == Token("other")) {
      return TokenIdentity{.username = "system:serviceaccount:x:y", .node_name = "node-a"};
    }
    return MakeError(ErrorCode::kUnauthenticated, "no");
  }
};

std::shared_ptr<const ServerPod> MakePod(std::string name, std::string node) {
  auto pod = std::make_shared<ServerPod>();
  pod->namespace_name = "ns";
  pod->name = std::move(name);
  pod->uid = "uid-" + node;
  pod->node_name = std::move(node);
  pod->decided = true;
  pod->decision.outcome = identity::Outcome::kAllowed;
  pod->decision.role = *aws::ParseRoleArn(kRole);
  auto spec = std::make_shared<creds::CredentialSpec>();
  spec->key.role_arn = std::string(kRole);
  spec->key.session_name = pod->name;  // the credentials below name the pod they are for
  pod->spec = spec;
  return pod;
}

class Pods final : public PodLookup {
 public:
  std::shared_ptr<const ServerPod> Find(std::string_view ns, std::string_view name,
                                        std::string_view uid) override {
    for (const auto& pod : {MakePod("web-a", "node-a"), MakePod("web-b", "node-b")}) {
      if (ns == pod->namespace_name && name == pod->name && uid == pod->uid) {
        return pod;
      }
    }
    return nullptr;
  }
  Result<std::shared_ptr<const ServerPod>> Read(std::string_view ns, std::string_view name,
                                                std::string_view uid) override {
    if (down) {
      return MakeError(ErrorCode::kUnavailable, "down");
    }
    return Find(ns, name, uid);
  }
  bool Ready() override { return true; }
  bool down = false;
};

class Credentials final : public CredentialSource {
 public:
  std::shared_ptr<const aws::Credentials> Cached(const creds::CredentialSpec& /*spec*/) override {
    return nullptr;
  }
  Result<aws::Credentials> Fetch(const creds::CredentialSpec& spec,
                                 SteadyTime /*deadline*/) override {
    if (refuse) {
      return MakeError(ErrorCode::kPermissionDenied, "denied", "AccessDenied");
    }
    aws::Credentials c;
    c.access_key_id = "ASIA-" + spec.key.session_name;
    c.secret_access_key = "fuzz-secret";
    c.session_token = "fuzz-session";
    c.expiration = Clock::WallTime(std::chrono::seconds(kNow + 3600));
    return c;
  }
  bool refuse = false;
};

void CheckBearer(std::string_view header) {
  auto token = BearerToken(header);
  if (!token) {
    return;
  }
  FUZZ_CHECK(!token->empty() && token->size() <= kMaxTokenBytes, "bad token size");
  FUZZ_CHECK(token->find(' ') == std::string_view::npos, "token with a space");
  FUZZ_CHECK(header.find(*token) != std::string_view::npos, "token not part of the header");
}

void CheckBody(std::string_view body) {
  auto parsed = ParseRequest(body);
  if (!parsed) {
    return;
  }
  FUZZ_CHECK(body.size() <= kMaxBodyBytes, "accepted an oversized body");
  auto json = nlohmann::json::parse(body, nullptr, false);
  FUZZ_CHECK(!json.is_discarded() && json.is_object(), "accepted a non-object");
  for (const char* key : {"namespace", "name", "uid", "roleArn"}) {
    FUZZ_CHECK(json.contains(key) && json[key].is_string() && !json[key].get<std::string>().empty(),
               "accepted a body without a field");
  }
  FUZZ_CHECK(json["name"].get<std::string>() == parsed->name, "name differs");
}

}  // namespace
}  // namespace podiam::server

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace podiam;          // NOLINT(google-build-using-namespace)
  using namespace podiam::server;  // NOLINT(google-build-using-namespace)
  fuzz::Input in(data, size);
  std::uint8_t flags = in.Byte();
  std::string line(in.Line());
  std::string body(in.Rest());
  CheckBearer(line);
  CheckBody(body);

  unsigned choice = flags & 7U;
  std::optional<std::string> authorization;
  std::string who;  // the fake identity behind the header, "" when none
  switch (choice) {
    case 0:
      authorization = line;
      break;
    case 1:
      who = "agent-a";
      break;
    case 2:
      who = "agent-b";
      break;
    case 3:
      who = "unbound";
      break;
    case 4:
      who = "other";
      break;
    case 5:
      authorization = "Bearer " + line;
      break;
    default:
      break;
  }
  if (!who.empty()) {
    authorization = "Bearer " + Token(who);
  }
  bool allow_unbound = (flags & 8U) != 0;

  testing::FakeClock clock{std::chrono::seconds(kNow)};
  Reviews reviews;
  Pods pods;
  pods.down = (flags & 16U) != 0;
  Credentials credentials;
  credentials.refuse = (flags & 32U) != 0;
  metrics::Registry registry;
  ServerMetrics metrics(registry);
  CredentialsHandler handler(reviews, pods, credentials, clock, metrics,
                             {.allow_unbound_agents = allow_unbound});
  http::Request request;
  request.method = "POST";
  request.target = "/v1/credentials";
  request.peer.address = "10.0.0.1";
  if (authorization) {
    request.headers.Set("Authorization", *authorization);
  }
  request.body = body;
  int answers = 0;
  http::Response response;
  handler.Handle(std::move(request), [&](http::Response r) {
    ++answers;
    response = std::move(r);
  });
  FUZZ_CHECK(answers == 1, "not exactly one answer");
  int s = response.status;
  FUZZ_CHECK(s == 200 || s == 400 || s == 401 || s == 403 || s == 404 || s == 409 || s == 503,
             "unexpected status");
  auto json = nlohmann::json::parse(response.body, nullptr, false);
  FUZZ_CHECK(!json.is_discarded() && json.is_object(), "answer is not a JSON object");
  // Which identity the header really carries (a fuzzed line may spell a known token too).
  auto token = authorization ? BearerToken(*authorization) : std::nullopt;
  std::string node;
  bool agent = false;
  bool unbound = false;
  if (token) {
    if (auto identity = reviews.Review(*token)) {
      agent = identity->username == kAgent;
      node = identity->node_name;
      unbound = agent && node.empty();
    }
  }
  if (s == 200) {
    FUZZ_CHECK(agent && (!unbound || allow_unbound), "200 without a valid agent review");
    auto want = ParseRequest(body);
    FUZZ_CHECK(want.has_value(), "200 for a body ParseRequest refuses");
    auto pod = pods.Find(want->namespace_name, want->name, want->uid);
    FUZZ_CHECK(pod != nullptr, "200 for an unknown pod");
    FUZZ_CHECK(unbound || pod->node_name == node, "credentials of a pod on another node");
    FUZZ_CHECK(want->role_arn == kRole, "200 for another role");
    FUZZ_CHECK(json["credentials"]["AccessKeyId"] == "ASIA-" + pod->name,
               "200 without that pod's credentials");
    FUZZ_CHECK(!credentials.refuse, "200 although STS refused");
  } else {
    FUZZ_CHECK(json.contains("code") && json["code"].is_string() && json.contains("message") &&
                   json.contains("retryable"),
               "refusal without code, message, retryable");
    FUZZ_CHECK(response.body.find("fuzz-secret") == std::string::npos, "secret in a refusal");
  }
  if (!token || (!agent && who != "other" && !reviews.Review(*token))) {
    FUZZ_CHECK(s == 401, "no or unknown token is not 401");
  }
  if (token && token->size() >= 200) {
    FUZZ_CHECK(response.body.find(*token) == std::string::npos, "token echoed in the body");
  }
  return 0;
}
