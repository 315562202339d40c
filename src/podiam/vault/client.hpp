// VaultClient: podiam's session with a Vault server over http::HttpClient (docs/vault.md).
//
// - Logs in with Vault's Kubernetes auth method: POST /v1/auth/<mount>/login with
//   {"role": <auth role>, "jwt": <podiam's projected ServiceAccount token>}, read from the
//   JwtSource at each login.
// - Renews its token (POST /v1/auth/token/renew-self) once less than a third of its lease is
//   left, and logs in again when the token has expired, cannot be renewed, or renewal is refused.
// - A 403 on a call made with a token that was good: the client asks Vault whether the token
//   still works (auth/token/lookup-self). If not (revoked, expired early), it logs in again and
//   repeats the call once; a second 403, or a working token, is the policy saying no:
//   kPermissionDenied "VaultPermissionDenied" with Vault's text.
// - Errors follow vault/response.hpp's mapping; every call is counted in
//   podiam_vault_requests_total{op,result}.
// - The Vault token and anything read from Vault never reach a log (log::Secret fingerprints).
//
// Start() runs a background loop that logs in (retrying with backoff) and renews ahead of
// expiry, so that a token never lapses between two credential fetches; Call() also logs in or
// renews on demand when the loop has not yet.
//
// Thread-safety: all methods may be called from any thread; logins and renewals are serialised
// (one at a time, the others wait for its result).
//
//   vault::VaultClient client(http, jwt, clock, metrics, {.addr = "https://vault:8200",
//                                                         .auth_role = "podiam-agent"});
//   client.Start();
//   auto secret = client.Call("sts", "POST", "aws/sts/app", R"({"ttl":"3600s"})");
#pragma once

#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "podiam/base/clock.hpp"
#include "podiam/base/error.hpp"
#include "podiam/base/log.hpp"
#include "podiam/base/loop_thread.hpp"
#include "podiam/http/client.hpp"
#include "podiam/vault/metrics.hpp"
#include "podiam/vault/ports.hpp"

namespace podiam::vault {

struct VaultClientOptions {
  std::string addr;  // "https://vault.example:8200"; a trailing '/' is ignored
  std::string auth_mount = "kubernetes";
  std::string auth_role;  // the Kubernetes auth role bound to podiam's ServiceAccount
  std::chrono::milliseconds timeout{5000};  // per request
  // Background loop: retry a failed login after this much, doubling up to max_retry.
  std::chrono::milliseconds min_retry{1000};
  std::chrono::milliseconds max_retry{30000};
};

class VaultClient {
 public:
  VaultClient(http::HttpClient& http, JwtSource& jwt, const Clock& clock, VaultMetrics& metrics,
              VaultClientOptions options);
  // Stop()s.
  ~VaultClient();
  VaultClient(const VaultClient&) = delete;
  VaultClient& operator=(const VaultClient&) = delete;

  // Logs in now (also when already logged in).
  Result<void> Login();
  // Logs in when there is no usable token, renews when one is due; a no-op otherwise.
  Result<void> Maintain();

  // A call to /v1/<path> with podiam's token (logging in first when needed). `op` labels the
  // metrics. Returns the body of a 2xx answer; anything else is an error (as in response.hpp).
  Result<std::string> Call(std::string_view op, std::string_view method, std::string_view path,
                           std::string_view body = {});

  // Whether the client holds a token that has not expired (readiness).
  [[nodiscard]] bool LoggedIn() const;

  // The background login/renew loop.
  void Start();
  void Stop();

 private:
  struct Token {
    std::string value;                         // a secret
    std::optional<Clock::SteadyTime> expires;  // nullopt: never expires
    Clock::SteadyTime renew_at{};
    bool renewable = false;
  };

  Result<http::Response> Send(std::string_view method, std::string_view path, std::string_view body,
                              const std::string& token);
  Result<std::string> Once(std::string_view op, std::string_view method, std::string_view path,
                           std::string_view body, const std::string& token);
  // A token to use now: the current one, or a fresh one from Maintain().
  Result<std::string> CurrentToken();
  Result<void> LoginLocked();
  Result<void> RenewLocked();
  void StoreLocked(const std::string& value, std::int64_t lease_seconds, bool renewable);
  bool UsableLocked() const;
  void Count(std::string_view op, const Result<std::string>& result);

  http::HttpClient& http_;
  JwtSource& jwt_;
  const Clock& clock_;
  VaultMetrics& metrics_;
  VaultClientOptions options_;
  log::Logger log_{"vault"};

  std::mutex session_mu_;        // serialises logins and renewals
  mutable std::mutex token_mu_;  // guards token_
  std::optional<Token> token_;
  LoopThread loop_;
};

}  // namespace podiam::vault
