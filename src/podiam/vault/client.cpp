#include "podiam/vault/client.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <utility>

#include "podiam/vault/response.hpp"

namespace podiam::vault {
namespace {

using std::chrono::duration_cast;
using std::chrono::milliseconds;
using std::chrono::seconds;

// A token this close to its expiry is treated as expired (a request takes time to arrive).
constexpr seconds kExpirySlack{5};

}  // namespace

VaultClient::VaultClient(http::HttpClient& http, JwtSource& jwt, const Clock& clock,
                         VaultMetrics& metrics, VaultClientOptions options)
    : http_(http), jwt_(jwt), clock_(clock), metrics_(metrics), options_(std::move(options)) {
  while (!options_.addr.empty() && options_.addr.back() == '/') {
    options_.addr.pop_back();
  }
}

VaultClient::~VaultClient() { Stop(); }

Result<http::Response> VaultClient::Send(std::string_view method, std::string_view path,
                                         std::string_view body, const std::string& token) {
  http::ClientRequest request{.method = std::string(method),
                              .url = fmt::format("{}/v1/{}", options_.addr, path),
                              .body = std::string(body),
                              .timeout = options_.timeout};
  if (!token.empty()) {
    request.headers.Set("X-Vault-Token", token);
  }
  if (!body.empty()) {
    request.headers.Set("Content-Type", "application/json");
  }
  return http_.Send(request);
}

Result<std::string> VaultClient::Once(std::string_view op, std::string_view method,
                                      std::string_view path, std::string_view body,
                                      const std::string& token) {
  auto response = Send(method, path, body, token);
  Result<std::string> result;
  if (!response) {
    // Refused, reset, timed out: the transport says whether a retry may help.
    const Error& e = response.error();
    result = MakeError(e.code(), "Vault is unreachable: " + e.message(),
                       std::string(kVaultUnavailable), e.retryable());
  } else if (response->status >= 200 && response->status <= 299) {
    result = std::move(response->body);
  } else {
    result = tl::unexpected(VaultErrorFromResponse(response->status, response->body));
  }
  Count(op, result);
  if (!result) {
    return tl::unexpected(result.error().Wrap(fmt::format("Vault {} {}", method, path)));
  }
  return result;
}

void VaultClient::Count(std::string_view op, const Result<std::string>& result) {
  std::string label = result ? std::string("ok") : VaultResultLabel(result.error());
  metrics_.requests.WithLabels({op, label}).Inc();
}

Result<void> VaultClient::Login() {
  std::lock_guard session(session_mu_);
  return LoginLocked();
}

Result<void> VaultClient::LoginLocked() {
  auto fail = [this](const Error& error) -> Result<void> {
    metrics_.logins.WithLabels({"failed"}).Inc();
    log_.Warn("Vault login failed", {{"auth_mount", options_.auth_mount},
                                     {"role", options_.auth_role},
                                     {"error", error.ToString()}});
    return tl::unexpected(error.Wrap(
        fmt::format("Vault login (auth/{}, role {})", options_.auth_mount, options_.auth_role)));
  };
  auto jwt = jwt_.Read();
  if (!jwt) {
    return fail(jwt.error());
  }
  nlohmann::json request = {{"role", options_.auth_role}, {"jwt", *jwt}};
  auto body = Once("login", "POST", fmt::format("auth/{}/login", options_.auth_mount),
                   request.dump(), /*token=*/"");
  if (!body) {
    return fail(body.error());
  }
  auto auth = ParseLoginResponse(*body);
  if (!auth) {
    return fail(auth.error());
  }
  StoreLocked(auth->client_token, auth->lease_duration, auth->renewable);
  metrics_.logins.WithLabels({"ok"}).Inc();
  log_.Info("logged in to Vault", {{"auth_mount", options_.auth_mount},
                                   {"role", options_.auth_role},
                                   log::Secret("token", auth->client_token),
                                   {"ttl_seconds", static_cast<long long>(auth->lease_duration)},
                                   {"renewable", auth->renewable}});
  return Ok();
}

Result<void> VaultClient::RenewLocked() {
  std::string token;
  std::int64_t previous_lease = 0;
  {
    std::lock_guard lock(token_mu_);
    if (!token_) {
      return MakeError(ErrorCode::kFailedPrecondition, "no Vault token to renew");
    }
    token = token_->value;
    if (token_->expires) {
      previous_lease =
          duration_cast<seconds>(*token_->expires - token_->renew_at).count() * 3;  // whole lease
    }
  }
  auto body = Once("renew", "POST", "auth/token/renew-self", "{}", token);
  Result<AuthToken> auth = body ? ParseLoginResponse(*body) : tl::unexpected(body.error());
  if (!auth) {
    metrics_.renewals.WithLabels({"failed"}).Inc();
    log_.Warn("Vault token renewal failed", {{"error", auth.error().ToString()}});
    return tl::unexpected(auth.error());
  }
  // Vault caps a renewal at the token's max TTL: once a renewal gives much less than before,
  // further renewals cannot help, and the next due time logs in again instead.
  bool worth_renewing = auth->renewable && auth->lease_duration * 2 >= previous_lease;
  StoreLocked(auth->client_token.empty() ? token : auth->client_token, auth->lease_duration,
              worth_renewing);
  metrics_.renewals.WithLabels({"ok"}).Inc();
  log_.Debug("renewed the Vault token",
             {{"ttl_seconds", static_cast<long long>(auth->lease_duration)}});
  return Ok();
}

void VaultClient::StoreLocked(const std::string& value, std::int64_t lease_seconds,
                              bool renewable) {
  const auto now = clock_.SteadyNow();
  Token token{.value = value, .renewable = renewable};
  if (lease_seconds > 0) {
    token.expires = now + seconds(lease_seconds);
    token.renew_at = now + seconds(lease_seconds) * 2 / 3;  // renew with a third left
  }
  metrics_.token_ttl.Set(static_cast<double>(lease_seconds));
  std::lock_guard lock(token_mu_);
  token_ = std::move(token);
}

bool VaultClient::UsableLocked() const {
  return token_ && (!token_->expires || clock_.SteadyNow() + kExpirySlack < *token_->expires);
}

bool VaultClient::LoggedIn() const {
  std::lock_guard lock(token_mu_);
  return UsableLocked();
}

Result<void> VaultClient::Maintain() {
  std::lock_guard session(session_mu_);
  bool usable = false;
  bool due = false;
  bool renewable = false;
  {
    std::lock_guard lock(token_mu_);
    usable = UsableLocked();
    if (usable && token_->expires) {
      const auto now = clock_.SteadyNow();
      due = now >= token_->renew_at;
      renewable = token_->renewable;
      metrics_.token_ttl.Set(
          static_cast<double>(duration_cast<seconds>(*token_->expires - now).count()));
    }
  }
  if (!usable) {
    return LoginLocked();
  }
  if (!due) {
    return Ok();
  }
  if (renewable) {
    auto renewed = RenewLocked();
    if (renewed || renewed.error().code() != ErrorCode::kPermissionDenied) {
      // Renewed, or Vault is away for now: the token still works until it expires (callers use
      // it; the background loop backs off and tries again).
      return renewed;
    }
  }
  // Not renewable (or no longer), or renewal refused: a new login before the token runs out.
  auto login = LoginLocked();
  std::lock_guard lock(token_mu_);
  return UsableLocked() ? Ok() : login;
}

Result<std::string> VaultClient::CurrentToken() {
  {
    std::lock_guard lock(token_mu_);
    if (UsableLocked() && (!token_->expires || clock_.SteadyNow() < token_->renew_at)) {
      return token_->value;
    }
  }
  auto maintained = Maintain();
  std::lock_guard lock(token_mu_);
  if (UsableLocked()) {
    return token_->value;
  }
  if (!maintained) {
    return tl::unexpected(maintained.error());
  }
  return MakeError(ErrorCode::kUnavailable, "no usable Vault token", std::string(kVaultUnavailable),
                   /*retryable=*/true);
}

Result<std::string> VaultClient::Call(std::string_view op, std::string_view method,
                                      std::string_view path, std::string_view body) {
  auto token = CurrentToken();
  if (!token) {
    return tl::unexpected(token.error());
  }
  auto result = Once(op, method, path, body, *token);
  if (result || result.error().upstream_code() != kVaultPermissionDenied) {
    return result;
  }
  // 403: the policy, or a token Vault no longer accepts (revoked, expired early)? Ask Vault.
  auto lookup = Once("lookup", "GET", "auth/token/lookup-self", "", *token);
  if (lookup || lookup.error().upstream_code() != kVaultPermissionDenied) {
    return result;  // the token works (the policy says no), or Vault cannot tell us now
  }
  log_.Info("Vault no longer accepts podiam's token; logging in again",
            {log::Secret("token", *token)});
  {
    std::lock_guard session(session_mu_);
    bool stale = false;
    {
      std::lock_guard lock(token_mu_);
      stale = token_ && token_->value == *token;
      if (stale) {
        token_.reset();
      }
    }
    if (stale) {  // else another thread has logged in meanwhile
      if (auto login = LoginLocked(); !login) {
        return tl::unexpected(login.error());
      }
    }
  }
  auto fresh = CurrentToken();
  if (!fresh) {
    return tl::unexpected(fresh.error());
  }
  return Once(op, method, path, body, *fresh);
}

void VaultClient::Start() {
  loop_.Start([this](const std::stop_token& stop) {
    milliseconds retry = options_.min_retry;
    while (!stop.stop_requested()) {
      if (auto ok = Maintain(); !ok) {
        loop_.Sleep(retry, stop);
        retry = std::min(retry * 2, options_.max_retry);
        continue;
      }
      retry = options_.min_retry;
      milliseconds wait = options_.max_retry;
      {
        std::lock_guard lock(token_mu_);
        if (token_ && token_->expires) {
          auto until = duration_cast<milliseconds>(token_->renew_at - clock_.SteadyNow());
          wait = std::clamp(until, options_.min_retry, options_.max_retry);
        }
      }
      loop_.Sleep(wait, stop);
    }
  });
}

void VaultClient::Stop() { loop_.Stop(); }

}  // namespace podiam::vault
