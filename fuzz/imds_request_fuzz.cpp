// Fuzzes metadata::ImdsHandler with arbitrary requests from a handful of pods on one node, plus
// ImdsTokenIssuer::Verify with arbitrary tokens and ParseTokenTtl with arbitrary headers.
//
// Input layout (docs/fuzzing.md):
//   byte 0   bits 0-2 method (GET HEAD PUT POST DELETE get OPTIONS ""), bit 3 IMDSv1 allowed,
//            bits 4-5 --allow-metadata-path (none: only the default allow-list, placement|identity
//            document, ".*", ".*" with a failing upstream)
//   byte 1   bits 0-2 caller (6 pods, an unknown IP, an empty address), bit 3 credentials cached,
//            bit 4 the credential fetch fails, bit 5 send the caller's own token, bit 6 send
//            another pod's token, bit 7 the pod is not known yet (Await path)
//   byte 2   the clock moves on by byte * 2 minutes after the pre-issued tokens (TTL 6 h)
//   line     request target
//   line     message of the fetch error (when bit 4 of byte 1 is set)
//   lines    headers "Name: value", at most 16
//
// Invariants: one answer, with a status from the expected set; X-Forwarded-For is always 403;
// a credentials body only in a 200 to GET/HEAD of the caller's own role name, and only with the
// caller's own secret (never another pod's, never a denied role's); an issued token verifies for
// its pod; any token Verify() accepts carries the bytes of a token issued to that pod; without
// IMDSv1 a 200 needs a valid token; a passthrough never reaches the node for credential, user-data
// or signed-identity paths (any case), dot segments, empty segments or percent-encoding, and only
// for paths under a metadata version and meta-data/ or dynamic/ (the default allow-list is on in
// every handler); logs never contain a secret.
#include <array>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz/fuzz_input.hpp"
#include "podiam/aws/arn.hpp"
#include "podiam/base/log.hpp"
#include "podiam/metadata/imds_handler.hpp"
#include "podiam/metadata/imds_path.hpp"
#include "podiam/metadata/imds_token.hpp"
#include "podiam/metrics/registry.hpp"
#include "podiam/testing/fake_clock.hpp"
#include "podiam/testing/fake_random.hpp"

namespace podiam::metadata {
namespace {

struct Pod {
  std::string ip;
  std::string uid;
  identity::Outcome outcome;
  std::string role_arn;  // "" for kNoRole and kInvalid
  std::string secret;    // what the fake credential source holds for this pod's role
};

// Two pods share the role name "app" under different paths and accounts: a pod must never get
// the other's credentials by asking for the shared name.
const std::array<Pod, 6>& Pods() {
  static const std::array<Pod, 6> kPods = {{
      {"10.0.0.1", "uid-1", identity::Outcome::kAllowed, "arn:aws:iam::123456789012:role/k8s/app",
       "SECRET-k8s-app-1"},
      {"10.0.0.2", "uid-2", identity::Outcome::kAllowed, "arn:aws-cn:iam::210987654321:role/db",
       "SECRET-db-2"},
      {"fd00::3", "uid-3", identity::Outcome::kAllowed, "arn:aws:iam::111122223333:role/team/app",
       "SECRET-team-app-3"},
      {"10.0.0.4", "uid-4", identity::Outcome::kNoRole, "", ""},
      {"10.0.0.5", "uid-5", identity::Outcome::kDenied, "arn:aws:iam::123456789012:role/admin",
       "SECRET-admin-5"},
      {"10.0.0.6", "uid-6", identity::Outcome::kInvalid, "", ""},
  }};
  return kPods;
}

constexpr std::array<std::string_view, 2> kUnknownPeers = {"10.0.0.9", ""};

std::string SessionToken(const Pod& pod) { return "SESSION-" + pod.uid; }

Caller MakeCaller(const Pod& pod, std::size_t index) {
  Caller c{.namespace_name = "team-" + std::to_string(index),
           .pod_name = "pod-" + std::to_string(index),
           .pod_uid = pod.uid,
           .ip = pod.ip};
  c.decision.outcome = pod.outcome;
  c.decision.reason = "fuzz";
  if (!pod.role_arn.empty()) {
    c.decision.role = *aws::ParseRoleArn(pod.role_arn);
    c.decision.source = identity::RoleSource::kPod;
  }
  return c;
}

class FuzzDirectory final : public CallerDirectory {
 public:
  FuzzDirectory() {
    for (std::size_t i = 0; i < Pods().size(); ++i) {
      callers_[Pods()[i].ip] = std::make_shared<const Caller>(MakeCaller(Pods()[i], i));
    }
  }
  std::shared_ptr<const Caller> Find(std::string_view ip) override {
    return hidden ? nullptr : Lookup(ip);
  }
  void Await(std::string_view ip, SteadyTime /*deadline*/, AwaitCallback done) override {
    done({.caller = Lookup(ip)});
  }
  bool Ready() override { return true; }
  bool IsNodeAddress(std::string_view ip) override { return ip == "192.0.2.1"; }
  bool hidden = false;

 private:
  std::shared_ptr<const Caller> Lookup(std::string_view ip) {
    auto it = callers_.find(std::string(ip));
    return it == callers_.end() ? nullptr : it->second;
  }
  std::map<std::string, std::shared_ptr<const Caller>> callers_;
};

class FuzzCredentials final : public CredentialSource {
 public:
  std::shared_ptr<const aws::Credentials> Cached(const Caller& caller) override {
    return cached ? std::make_shared<const aws::Credentials>(For(caller)) : nullptr;
  }
  Result<aws::Credentials> Fetch(const Caller& caller, SteadyTime /*deadline*/) override {
    if (error) {
      return tl::unexpected(*error);
    }
    return For(caller);
  }
  bool cached = false;
  std::optional<Error> error;

 private:
  static aws::Credentials For(const Caller& caller) {
    std::string arn = caller.decision.role->ToString();
    for (const auto& pod : Pods()) {
      if (pod.role_arn == arn) {
        return {.access_key_id = "ASIA" + pod.uid,
                .secret_access_key = pod.secret,
                .session_token = SessionToken(pod),
                .expiration = testing::FakeClock().Now() + std::chrono::hours(1)};
      }
    }
    FUZZ_CHECK(false, "credentials asked for a role no pod has");
  }
};

// The node's own metadata service: it must never be asked for anything credential-related.
class FuzzUpstream final : public MetadataUpstream {
 public:
  Result<http::Response> Get(std::string_view path, SteadyTime /*deadline*/) override {
    std::string lower(path);
    for (auto& c : lower) {
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    FUZZ_CHECK(lower.find('%') == std::string::npos, "percent-encoding passed to the node");
    std::string_view segments = std::string_view(lower).substr(1);
    if (segments.ends_with('/')) {
      segments.remove_suffix(1);
    }
    while (true) {
      auto slash = segments.find('/');
      std::string_view segment = segments.substr(0, slash);
      for (std::string_view denied : {"", ".", "..", "iam", "identity-credentials", "user-data",
                                      "pkcs7", "signature", "rsa2048", "api"}) {
        FUZZ_CHECK(segment != denied, "denied segment passed to the node");
      }
      FUZZ_CHECK(segment.find("credential") == std::string_view::npos,
                 "credential path passed to the node");
      if (slash == std::string_view::npos) {
        break;
      }
      segments.remove_prefix(slash + 1);
    }
    auto below = path.find('/', 1);
    FUZZ_CHECK(below != std::string_view::npos && IsImdsVersion(path.substr(1, below - 1)),
               "path outside a metadata version passed to the node");
    std::string_view rest = path.substr(below);
    FUZZ_CHECK(rest.starts_with("/meta-data/") || rest.starts_with("/dynamic/"),
               "path outside meta-data/dynamic passed to the node");
    if (fail) {
      return MakeError(ErrorCode::kUnavailable, "node metadata service down");
    }
    return http::Response::Text(200, "us-east-1a");
  }
  bool fail = false;
};

constexpr std::array<std::string_view, 8> kMethods = {"GET",    "HEAD", "PUT",     "POST",
                                                      "DELETE", "get",  "OPTIONS", ""};
constexpr std::array<int, 8> kStatuses = {200, 400, 401, 403, 404, 405, 502, 503};

struct World {
  testing::FakeClock clock;
  testing::FakeRandom random;
  metrics::Registry registry;
  ImdsMetrics metrics{registry};
  std::unique_ptr<ImdsTokenIssuer> issuer = *ImdsTokenIssuer::Create(random, clock);
  FuzzDirectory directory;
  FuzzCredentials credentials;
  FuzzUpstream upstream;
  // Index: allow-path mode * 2 + imdsv1.
  std::array<std::shared_ptr<ImdsHandler>, 8> handlers;
  // A 6-hour token per pod, issued at the fake clock's epoch.
  std::map<std::string, std::string> tokens;

  World() {
    log::Configure({.level = log::Level::kDebug});
    for (const auto& pod : Pods()) {
      tokens[pod.uid] = issuer->Issue(pod.uid, pod.ip, std::chrono::seconds(kMaxTokenTtlSeconds));
    }
    constexpr std::array<std::string_view, 4> kAllow = {
        "", "/latest/meta-data/placement/.*|/latest/dynamic/instance-identity/document", ".*",
        ".*"};
    for (std::size_t i = 0; i < handlers.size(); ++i) {
      std::size_t mode = i / 2;
      auto h = ImdsHandler::Create(directory, credentials, *issuer, clock, metrics,
                                   {.imdsv1 = i % 2 == 1, .allow_path = std::string(kAllow[mode])},
                                   &upstream);
      FUZZ_CHECK(h.has_value(), "handler options rejected");
      handlers[i] = *h;
    }
  }
};

bool AllDigits(std::string_view s) {
  return !s.empty() && s.find_first_not_of("0123456789") == std::string_view::npos;
}

// The role name a credentials path asks for, as a pod's SDK would mean it.
std::optional<std::string> RoleInPath(std::string_view path) {
  std::string role;
  Route route = ImdsHandler::Classify(path, &role);
  if (route == Route::kCredentials || route == Route::kCredentialsExtended) {
    return role;
  }
  return std::nullopt;
}

// Verify() may accept only a token that decodes to the bytes of one issued to this pod.
void CheckVerify(const World& w, std::string_view token, const Pod& pod,
                 const std::vector<std::string>& issued) {
  if (!w.issuer->Verify(token, pod.uid, pod.ip)) {
    return;
  }
  auto bytes = Base64UrlDecode(token);
  FUZZ_CHECK(bytes.has_value(), "Verify accepted a token that does not decode");
  bool known = false;
  for (const auto& t : issued) {
    known = known || Base64UrlDecode(t).value_or("") == *bytes;
  }
  FUZZ_CHECK(known, "Verify accepted a token that was never issued to this pod");
}

void CheckTokenHelpers(std::string_view text) {
  auto ttl = ParseTokenTtl(text);
  if (ttl) {
    FUZZ_CHECK(*ttl >= kMinTokenTtlSeconds && *ttl <= kMaxTokenTtlSeconds, "TTL out of range");
    FUZZ_CHECK(AllDigits(text), "TTL accepted with non-digits");
  }
  auto decoded = Base64UrlDecode(Base64UrlEncode(text));
  FUZZ_CHECK(decoded && *decoded == text, "base64url does not round-trip");
}

std::string NoSecrets(std::string_view text) {
  std::string out(text);
  for (std::string_view needle : {"SECRET", "SESSION"}) {
    for (auto pos = out.find(needle); pos != std::string::npos; pos = out.find(needle, pos)) {
      out[pos] = 'x';
    }
  }
  return out;
}

}  // namespace
}  // namespace podiam::metadata

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace podiam;            // NOLINT(google-build-using-namespace)
  using namespace podiam::metadata;  // NOLINT(google-build-using-namespace)
  static World& w = *new World();    // never destroyed: handlers may outlive a static order

  fuzz::Input in(data, size);
  std::uint8_t b0 = in.Byte();
  std::uint8_t b1 = in.Byte();
  std::uint8_t b2 = in.Byte();
  std::string_view method = kMethods[b0 & 7U];
  bool imdsv1 = (b0 & 8U) != 0;
  std::size_t allow_mode = (b0 >> 4U) & 3U;
  std::size_t who = b1 & 7U;
  const Pod* pod = who < Pods().size() ? &Pods()[who] : nullptr;
  std::string peer = pod != nullptr ? pod->ip : std::string(kUnknownPeers[who - Pods().size()]);

  w.clock.SetWall(testing::FakeClock().Now() + std::chrono::minutes(2 * b2));
  w.credentials.cached = (b1 & 8U) != 0;
  w.directory.hidden = (b1 & 128U) != 0;
  w.upstream.fail = allow_mode == 3;

  http::Request req{.method = std::string(method), .target = std::string(in.Line())};
  req.peer.address = peer;
  std::string error_message = NoSecrets(in.Line());
  w.credentials.error.reset();
  if ((b1 & 16U) != 0) {
    w.credentials.error = Error(ErrorCode::kUnavailable, error_message, "Throttling", true);
  }
  if (pod != nullptr && (b1 & 32U) != 0) {
    req.headers.Add("X-aws-ec2-metadata-token", w.tokens.at(pod->uid));
  }
  if ((b1 & 64U) != 0) {
    req.headers.Add("X-aws-ec2-metadata-token", w.tokens.at(Pods()[(who + 1) % Pods().size()].uid));
  }
  for (int i = 0; i < 16 && !in.empty(); ++i) {
    std::string_view line = in.Line();
    auto colon = line.find(':');
    std::string_view name = line.substr(0, colon);
    std::string_view value =
        colon == std::string_view::npos ? std::string_view() : line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') {
      value.remove_prefix(1);
    }
    req.headers.Add(name, value);
  }
  http::Request sent = req;

  log::Capture logs;
  int answers = 0;
  http::Response resp;
  w.handlers[allow_mode * 2 + (imdsv1 ? 1 : 0)]->Handle(std::move(req), [&](http::Response r) {
    ++answers;
    resp = std::move(r);
  });

  FUZZ_CHECK(answers == 1, "the handler must answer exactly once");
  bool known_status = false;
  for (int s : kStatuses) {
    known_status = known_status || resp.status == s;
  }
  FUZZ_CHECK(known_status, "unexpected status");
  if (sent.headers.Has("X-Forwarded-For")) {
    FUZZ_CHECK(resp.status == 403, "X-Forwarded-For must be refused");
  }

  std::string target_role;
  Route route = ImdsHandler::Classify(sent.Path(), &target_role);
  bool is_get = method == "GET" || method == "HEAD";
  if (resp.status == 200) {
    FUZZ_CHECK(pod != nullptr, "200 for a caller that is no known pod");
    FUZZ_CHECK(route == Route::kToken ? method == "PUT" : is_get, "200 for a wrong method");
    if (route != Route::kToken && !imdsv1) {
      auto token = sent.headers.Get("X-aws-ec2-metadata-token");
      FUZZ_CHECK(token && w.issuer->Verify(*token, pod->uid, pod->ip),
                 "200 without a valid token while IMDSv1 is off");
    }
  }

  // Secrets: only the caller's own, only on its own role name, only in a 200.
  bool has_credentials = false;
  for (const auto& p : Pods()) {
    if (p.secret.empty()) {
      continue;
    }
    bool secret_in_body = resp.body.find(p.secret) != std::string::npos ||
                          resp.body.find(SessionToken(p)) != std::string::npos;
    FUZZ_CHECK(logs.Text().find(p.secret) == std::string::npos, "a secret reached the log");
    FUZZ_CHECK(logs.Text().find(SessionToken(p)) == std::string::npos,
               "a session token reached the log");
    if (!secret_in_body) {
      continue;
    }
    has_credentials = true;
    FUZZ_CHECK(pod == &p, "another pod's credentials were served");
    FUZZ_CHECK(p.outcome == identity::Outcome::kAllowed, "credentials for a role not allowed");
    FUZZ_CHECK(resp.status == 200, "credentials in a non-200 answer");
    auto asked = RoleInPath(sent.Path());
    FUZZ_CHECK(asked && *asked == aws::ParseRoleArn(p.role_arn)->name,
               "credentials served for a role name that is not the caller's");
  }
  if (has_credentials) {
    auto json = nlohmann::json::parse(resp.body, nullptr, false);
    FUZZ_CHECK(json.is_object() && json.value("Code", "") == "Success", "credentials not JSON");
    FUZZ_CHECK(json.value("SecretAccessKey", "") == pod->secret, "wrong SecretAccessKey");
    if (route == Route::kCredentialsExtended) {
      FUZZ_CHECK(json.value("AccountId", "") == aws::ParseRoleArn(pod->role_arn)->account,
                 "wrong AccountId");
    }
  }

  // Tokens: a fresh one verifies for its pod and only its pod; the TTL is echoed.
  std::vector<std::string> issued;
  if (pod != nullptr) {
    issued.push_back(w.tokens.at(pod->uid));
  }
  if (route == Route::kToken && resp.status == 200) {
    FUZZ_CHECK(w.issuer->Verify(resp.body, pod->uid, pod->ip).has_value(),
               "a fresh token does not verify");
    const Pod& other = Pods()[(who + 1) % Pods().size()];
    FUZZ_CHECK(!w.issuer->Verify(resp.body, other.uid, other.ip), "a token verifies elsewhere");
    auto ttl = ParseTokenTtl(sent.headers.Get("X-aws-ec2-metadata-token-ttl-seconds").value_or(""));
    FUZZ_CHECK(
        ttl && resp.headers.Get("X-aws-ec2-metadata-token-ttl-seconds") == std::to_string(*ttl),
        "TTL not echoed");
    issued.push_back(resp.body);
  }

  // Arbitrary tokens and TTLs straight into the token helpers.
  const Pod& subject = pod != nullptr ? *pod : Pods()[0];
  if (pod == nullptr) {
    issued.push_back(w.tokens.at(subject.uid));
  }
  CheckVerify(w, sent.target, subject, issued);
  CheckTokenHelpers(sent.target);
  for (const auto& [name, value] : sent.headers.items()) {
    CheckVerify(w, value, subject, issued);
    CheckTokenHelpers(value);
  }
  return 0;
}
