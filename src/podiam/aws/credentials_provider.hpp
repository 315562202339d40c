// podiam's own AWS credentials: the CredentialsProvider port and the providers that compose:
//   - ChainCredentialsProvider: tries sources in order, like the AWS SDKs' default chain;
//   - CachingCredentialsProvider: what signing uses; refreshes before expiry (margin + jitter),
//     single-flight, keeps serving still-valid credentials when a refresh fails;
//   - AssumeRoleCredentialsProvider: an intermediate role (--assume-role, as kiam's server role or
//     kube-aws-iam-controller): assumes it with base credentials and hands out that session;
//   - StaticCredentialsProvider: fixed credentials (tests, tools).
// The sources of the default chain (environment, shared files, web identity, container, IMDS)
// are in credential_sources.hpp.
//
// A provider reports which source it used in Credentials::source, and the caching provider keeps
// a Status() for logs and /readyz.
//
// Thread-safety: CachingCredentialsProvider is safe from any thread; the others are safe to call
// concurrently as long as their collaborators are (all podiam adapters are), and are normally used
// behind a CachingCredentialsProvider anyway.
//
//   auto chain = aws::NewDefaultCredentialsChain(deps);             // credential_sources.hpp
//   aws::CachingCredentialsProvider own(std::move(chain), clock, random);
//   aws::HttpStsClient base_sts(http, &own, sts_metrics, clock, random, {.endpoint = ep});
//   // Optional intermediate role: everything else is signed with its session.
//   aws::CachingCredentialsProvider via_role(
//       std::make_unique<aws::AssumeRoleCredentialsProvider>(
//           base_sts, aws::AssumeRoleRequest{.role_arn = "arn:aws:iam::1:role/podiam"}, clock),
//       clock, random);
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "podiam/aws/credentials.hpp"
#include "podiam/aws/sts_client.hpp"
#include "podiam/base/clock.hpp"
#include "podiam/base/error.hpp"
#include "podiam/base/log.hpp"
#include "podiam/base/random.hpp"

namespace podiam::aws {

class CredentialsProvider {
 public:
  virtual ~CredentialsProvider() = default;
  // kNotFound means "this source is not configured here" and lets a chain move on; any other error
  // means the source is configured but failed, and stops a chain (as the SDKs do).
  virtual Result<Credentials> Get() = 0;
  // Short, stable name of the source: "environment", "imds", ...
  [[nodiscard]] virtual std::string_view Name() const = 0;
};

class StaticCredentialsProvider final : public CredentialsProvider {
 public:
  explicit StaticCredentialsProvider(Credentials credentials)
      : credentials_(std::move(credentials)) {}
  Result<Credentials> Get() override { return credentials_; }
  [[nodiscard]] std::string_view Name() const override { return "static"; }

 private:
  Credentials credentials_;
};

class ChainCredentialsProvider final : public CredentialsProvider {
 public:
  explicit ChainCredentialsProvider(std::vector<std::unique_ptr<CredentialsProvider>> providers);
  // The first source that has credentials; the first configured source that fails ends the search
  // with its error; kNotFound listing every source tried when none is configured.
  Result<Credentials> Get() override;
  [[nodiscard]] std::string_view Name() const override { return "chain"; }

 private:
  std::vector<std::unique_ptr<CredentialsProvider>> providers_;
};

struct CachingCredentialsOptions {
  // Refresh this long before expiry, plus up to `refresh_jitter` more (random per fetch), so many
  // podiam agents do not refresh in lockstep. 10-15 min keeps clear of botocore's 15/10 min
  // advisory/mandatory windows for anything derived from these credentials.
  std::chrono::seconds refresh_margin{std::chrono::minutes(10)};
  std::chrono::seconds refresh_jitter{std::chrono::minutes(5)};
  // When a refresh fails, keep serving the cached credentials while at least this much validity
  // remains.
  std::chrono::seconds min_validity{std::chrono::minutes(1)};
  // After a failed refresh, wait this long before the next attempt (callers get the cached
  // credentials or the cached error meanwhile), so a dead source is not hammered.
  std::chrono::seconds failure_backoff{5};
};

struct CredentialsStatus {
  bool ready = false;  // holds credentials that are valid now
  std::string source;  // Credentials::source of the cached credentials
  std::optional<Clock::WallTime> expiration;
  std::optional<Clock::WallTime> refresh_at;
  std::optional<Error> last_error;  // of the last refresh, cleared by a success
};

class CachingCredentialsProvider final : public CredentialsProvider {
 public:
  CachingCredentialsProvider(std::unique_ptr<CredentialsProvider> inner, const Clock& clock,
                             Random& random, CachingCredentialsOptions options = {});

  // Cached credentials, refreshed first when due. One refresh at a time: concurrent callers wait
  // for it under the mutex rather than each calling the source.
  Result<Credentials> Get() override;
  [[nodiscard]] std::string_view Name() const override { return inner_->Name(); }
  [[nodiscard]] CredentialsStatus Status() const;

 private:
  Result<Credentials> RefreshLocked(Clock::WallTime now);

  std::unique_ptr<CredentialsProvider> inner_;
  const Clock& clock_;
  Random& random_;
  CachingCredentialsOptions options_;
  log::Logger log_{"aws.credentials"};

  mutable std::mutex mu_;
  std::optional<Credentials> cached_;             // guarded by mu_
  Clock::WallTime refresh_at_{};                  // guarded by mu_
  std::optional<Error> last_error_;               // guarded by mu_
  std::optional<Clock::SteadyTime> retry_after_;  // guarded by mu_
};

class AssumeRoleCredentialsProvider final : public CredentialsProvider {
 public:
  // `request.role_session_name` defaults to "podiam-<unix seconds>" when empty.
  AssumeRoleCredentialsProvider(StsClient& sts, AssumeRoleRequest request, const Clock& clock);
  Result<Credentials> Get() override;
  [[nodiscard]] std::string_view Name() const override { return "assume-role"; }

 private:
  StsClient& sts_;
  AssumeRoleRequest request_;
  const Clock& clock_;
};

}  // namespace podiam::aws
