// Fuzzes the untrusted bytes of a container-credentials request (containercreds/request.hpp and
// handler.hpp): the Host header (HostName), the Authorization header (ParseJwtTimes,
// DecodeBase64Url) and the whole handler with in-file fakes (one known pod-bound token for pod
// 10.0.0.7 on this node).
//
// Input layout (docs/fuzzing.md):
//   byte 0   bit 0: send no Authorization header; bit 1: request from 10.0.0.8 (another address);
//            bit 2: the apiserver is down
//   line 1   the Host header
//   rest     the Authorization header (a prefix "KNOWN" is replaced by the known token)
//
// Invariants: HostName yields a non-empty lower-case name that is the header's host part (brackets
// and a numeric port stripped) and is stable (HostName of it, bracketed when it has ':', is
// itself); DecodeBase64Url accepts exactly canonical unpadded base64url (re-encoding gives the
// input back); ParseJwtTimes accepts only three non-empty base64url parts whose payload is a JSON
// object with a numeric exp equal to an independent reading; the handler answers exactly once with
// a status in {200, 400, 401, 403, 404, 429, 503}, a 200 only for an allowed Host, the known token
// and the pod's own address, and every other answer is JSON {"code","message"}; without a token it
// is 400 or the Host's 403; the body never holds the token; the same request asked again (now
// possibly answered from the review cache and the claims it kept) gets the same answer.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "fuzz/fuzz_input.hpp"
#include "podiam/containercreds/handler.hpp"
#include "podiam/containercreds/request.hpp"
#include "podiam/metrics/registry.hpp"
#include "podiam/testing/fake_clock.hpp"
#include "podiam/testing/test_jwt.hpp"

namespace podiam::containercreds {
namespace {

constexpr std::int64_t kNow = 2000000000;

const std::string& KnownToken() {
  static const std::string token =
      testing::UnsignedJwt(R"({"alg":"RS256"})", R"({"exp":2000000600,"sub":"x"})");
  return token;
}

class Reviews final : public TokenAuthenticator {
 public:
  Result<TokenIdentity> Review(std::string_view token) override {
    if (down) {
      return MakeError(ErrorCode::kUnavailable, "down");
    }
    if (token != KnownToken()) {
      return MakeError(ErrorCode::kUnauthenticated, "no");
    }
    return TokenIdentity{.service_account_namespace = "ns",
                         .service_account_name = "sa",
                         .pod_name = "p",
                         .pod_uid = "u",
                         .node_name = "node"};
  }
  bool down = false;
};

class Pods final : public PodResolver {
 public:
  std::shared_ptr<const PodInfo> Find(std::string_view ns, std::string_view name) override {
    if (ns != "ns" || name != "p") {
      return nullptr;
    }
    return std::make_shared<const PodInfo>(PodInfo{.namespace_name = "ns",
                                                   .name = "p",
                                                   .uid = "u",
                                                   .node_name = "node",
                                                   .service_account = "sa",
                                                   .ips = {"10.0.0.7"}});
  }
  bool Ready() override { return true; }
};

class Roles final : public RoleResolver {
 public:
  std::shared_ptr<const RoleChoice> Resolve(const PodInfo& /*pod*/) override {
    auto spec = std::make_shared<creds::CredentialSpec>();
    spec->key.role_arn = "arn:aws:iam::123456789012:role/r";
    return std::make_shared<const RoleChoice>(RoleChoice{
        .outcome = identity::Outcome::kAllowed, .spec = spec, .account = "123456789012"});
  }
};

class Credentials final : public CredentialSource {
 public:
  std::shared_ptr<const aws::Credentials> Cached(const creds::CredentialSpec& /*spec*/) override {
    return nullptr;
  }
  Result<aws::Credentials> Fetch(const creds::CredentialSpec& /*spec*/,
                                 SteadyTime /*deadline*/) override {
    aws::Credentials c;
    c.access_key_id = "ASIAFUZZ";
    c.secret_access_key = "fuzz-secret";
    c.session_token = "fuzz-session";
    c.expiration = Clock::WallTime(std::chrono::seconds(kNow + 3600));
    return c;
  }
};

void CheckHost(std::string_view header) {
  auto host = HostName(header);
  if (!host) {
    return;
  }
  FUZZ_CHECK(!host->empty(), "empty host name");
  for (char c : *host) {
    FUZZ_CHECK(!(c >= 'A' && c <= 'Z'), "host name not lower-cased");
  }
  bool bracketed = header.front() == '[';
  std::string_view part =
      bracketed ? header.substr(1, host->size()) : header.substr(0, host->size());
  FUZZ_CHECK(part.size() == host->size(), "host name longer than the header");
  for (std::size_t i = 0; i < part.size(); ++i) {
    char c = part[i];
    char lower = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    FUZZ_CHECK(lower == (*host)[i], "host name is not the header's host part");
  }
  std::string_view rest = header.substr(part.size() + (bracketed ? 2 : 0));
  if (!rest.empty()) {
    FUZZ_CHECK(rest.front() == ':' && rest.size() >= 2 && rest.size() <= 6, "bad port part");
    for (char c : rest.substr(1)) {
      FUZZ_CHECK(c >= '0' && c <= '9', "non-numeric port accepted");
    }
  }
  bool v6 = host->find(':') != std::string::npos;
  FUZZ_CHECK(v6 == bracketed, "an IPv6 literal must be bracketed and only it");
  auto again = HostName(v6 ? "[" + *host + "]" : *host);
  FUZZ_CHECK(again && *again == *host, "HostName is not stable");
}

void CheckJwt(std::string_view token) {
  if (auto bytes = DecodeBase64Url(token)) {
    FUZZ_CHECK(testing::Base64Url(*bytes) == token, "non-canonical base64url accepted");
  }
  auto times = ParseJwtTimes(token);
  if (!times) {
    return;
  }
  auto first = token.find('.');
  auto second = token.find('.', first + 1);
  FUZZ_CHECK(first != std::string_view::npos && second != std::string_view::npos &&
                 token.find('.', second + 1) == std::string_view::npos,
             "not three parts");
  FUZZ_CHECK(first > 0 && second > first + 1 && second + 1 < token.size(), "empty part");
  auto payload = DecodeBase64Url(token.substr(first + 1, second - first - 1));
  FUZZ_CHECK(payload.has_value(), "payload not base64url");
  auto json = nlohmann::json::parse(*payload, nullptr, false);
  FUZZ_CHECK(
      !json.is_discarded() && json.is_object() && json.contains("exp") && json["exp"].is_number(),
      "accepted a payload without numeric exp");
  if (json["exp"].is_number_integer()) {
    FUZZ_CHECK(json["exp"].get<std::int64_t>() == times->exp, "exp differs from the payload");
  }
}

}  // namespace
}  // namespace podiam::containercreds

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace podiam;                  // NOLINT(google-build-using-namespace)
  using namespace podiam::containercreds;  // NOLINT(google-build-using-namespace)
  fuzz::Input in(data, size);
  std::uint8_t flags = in.Byte();
  std::string host(in.Line());
  std::string token(in.Rest());
  if (token.starts_with("KNOWN")) {
    token = KnownToken() + token.substr(5);
  }
  CheckHost(host);
  CheckJwt(token);

  testing::FakeClock clock{std::chrono::seconds(kNow)};
  Reviews reviews;
  reviews.down = (flags & 4U) != 0;
  Pods pods;
  Roles roles;
  Credentials credentials;
  metrics::Registry registry;
  ContainerMetrics metrics(registry);
  ContainerCredentialsHandler handler(reviews, pods, roles, credentials, clock, metrics,
                                      {.node_name = "node"});
  bool no_token = (flags & 1U) != 0;
  auto ask = [&] {
    http::Request request;
    request.method = "GET";
    request.target = "/v1/credentials";
    request.peer.address = (flags & 2U) != 0 ? "10.0.0.8" : "10.0.0.7";
    request.headers.Set("Host", host);
    if (!no_token) {
      request.headers.Set("Authorization", token);
    }
    int answers = 0;
    http::Response response;
    handler.Handle(std::move(request), [&](http::Response r) {
      ++answers;
      response = std::move(r);
    });
    FUZZ_CHECK(answers == 1, "not exactly one answer");
    return response;
  };
  http::Response response = ask();
  // Asked again, the answer may come from the review cache (with the claims it kept): the same.
  http::Response again = ask();
  FUZZ_CHECK(again.status == response.status && again.body == response.body,
             "a cached review answered differently");
  int s = response.status;
  FUZZ_CHECK(s == 200 || s == 400 || s == 401 || s == 403 || s == 404 || s == 429 || s == 503,
             "unexpected status");
  auto h = HostName(host);
  bool host_ok = h && (*h == "169.254.170.23" || *h == "fd00:ec2::23");
  if (s == 200) {
    FUZZ_CHECK(host_ok && !no_token && token == KnownToken() && (flags & 6U) == 0,
               "200 for a request that must be refused");
    auto body = nlohmann::json::parse(response.body, nullptr, false);
    FUZZ_CHECK(!body.is_discarded() && body.value("AccessKeyId", "") == "ASIAFUZZ",
               "200 without the credentials");
  } else {
    auto body = nlohmann::json::parse(response.body, nullptr, false);
    FUZZ_CHECK(!body.is_discarded() && body.contains("code") && body.contains("message"),
               "refusal without a JSON code and message");
    FUZZ_CHECK(response.body.find("fuzz-secret") == std::string::npos, "secret in a refusal");
  }
  if (!host_ok) {
    FUZZ_CHECK(s == 403, "wrong Host not refused with 403");
  } else if (no_token) {
    FUZZ_CHECK(s == 400, "no Authorization not 400");
  }
  // Every fixed body is shorter than 160 bytes, so a longer token found in one was echoed.
  if (token.size() >= 160) {
    FUZZ_CHECK(response.body.find(token) == std::string::npos, "token echoed in the body");
  }
  return 0;
}
