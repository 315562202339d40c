#include "podiam/aws/credentials_provider.hpp"

#include <fmt/format.h>

namespace podiam::aws {

ChainCredentialsProvider::ChainCredentialsProvider(
    std::vector<std::unique_ptr<CredentialsProvider>> providers)
    : providers_(std::move(providers)) {}

Result<Credentials> ChainCredentialsProvider::Get() {
  std::string tried;
  for (const auto& provider : providers_) {
    auto creds = provider->Get();
    if (creds) {
      return creds;
    }
    if (creds.error().code() != ErrorCode::kNotFound) {
      return tl::unexpected(creds.error().Wrap(provider->Name()));
    }
    tried += fmt::format("{}{} ({})", tried.empty() ? "" : "; ", provider->Name(),
                         creds.error().message());
  }
  return MakeError(ErrorCode::kNotFound, "no AWS credentials found; tried " + tried);
}

CachingCredentialsProvider::CachingCredentialsProvider(std::unique_ptr<CredentialsProvider> inner,
                                                       const Clock& clock, Random& random,
                                                       CachingCredentialsOptions options)
    : inner_(std::move(inner)), clock_(clock), random_(random), options_(options) {}

Result<Credentials> CachingCredentialsProvider::Get() {
  std::lock_guard lock(mu_);
  Clock::WallTime now = clock_.Now();
  if (cached_ && now < refresh_at_) {
    return *cached_;
  }
  if (retry_after_ && clock_.SteadyNow() < *retry_after_) {
    if (cached_ && !cached_->ExpiresBefore(now + options_.min_validity)) {
      return *cached_;
    }
    if (last_error_) {
      return tl::unexpected(*last_error_);
    }
  }
  return RefreshLocked(now);
}

Result<Credentials> CachingCredentialsProvider::RefreshLocked(Clock::WallTime now) {
  auto fresh = inner_->Get();
  if (fresh && fresh->ExpiresBefore(now + options_.min_validity)) {
    fresh = MakeError(ErrorCode::kUpstreamInvalid,
                      fmt::format("{} returned credentials that expire at {}, too soon to use",
                                  fresh->source, FormatTimestamp(*fresh->expiration)));
  }
  if (fresh) {
    bool source_changed = !cached_ || cached_->source != fresh->source;
    cached_ = std::move(*fresh);
    last_error_.reset();
    retry_after_.reset();
    if (!cached_->expiration) {
      refresh_at_ = Clock::WallTime::max();
    } else {
      auto lifetime = *cached_->expiration - now;
      auto lead = std::chrono::duration_cast<Clock::WallTime::duration>(
          options_.refresh_margin + options_.refresh_jitter * random_.Uniform01());
      // Short-lived credentials (less than the margin) refresh at half-life instead of at once.
      refresh_at_ = std::max(*cached_->expiration - lead, now + lifetime / 2);
    }
    log::Level level = source_changed ? log::Level::kInfo : log::Level::kDebug;
    log_.Log(
        level, "AWS credentials refreshed",
        {{"source", cached_->source},
         {"credentials", cached_->Redacted()},
         {"refresh_at", refresh_at_ == Clock::WallTime::max() ? std::string("never")
                                                              : FormatTimestamp(refresh_at_)}});
    return *cached_;
  }
  last_error_ = fresh.error();
  retry_after_ = clock_.SteadyNow() + options_.failure_backoff;
  if (cached_ && !cached_->ExpiresBefore(now + options_.min_validity)) {
    log_.Warn("refreshing AWS credentials failed; still using the cached ones",
              {{"source", cached_->source},
               {"expires",
                cached_->expiration ? FormatTimestamp(*cached_->expiration) : std::string("never")},
               {"error", fresh.error().ToString()}});
    return *cached_;
  }
  log_.Warn("no AWS credentials", {{"error", fresh.error().ToString()}});
  return fresh;
}

CredentialsStatus CachingCredentialsProvider::Status() const {
  std::lock_guard lock(mu_);
  CredentialsStatus status;
  if (cached_) {
    status.ready = !cached_->ExpiresBefore(clock_.Now());
    status.source = cached_->source;
    status.expiration = cached_->expiration;
    if (refresh_at_ != Clock::WallTime::max()) {
      status.refresh_at = refresh_at_;
    }
  }
  status.last_error = last_error_;
  return status;
}

AssumeRoleCredentialsProvider::AssumeRoleCredentialsProvider(StsClient& sts,
                                                             AssumeRoleRequest request,
                                                             const Clock& clock)
    : sts_(sts), request_(std::move(request)), clock_(clock) {}

Result<Credentials> AssumeRoleCredentialsProvider::Get() {
  AssumeRoleRequest request = request_;
  if (request.role_session_name.empty()) {
    auto unix_seconds =
        std::chrono::duration_cast<std::chrono::seconds>(clock_.Now().time_since_epoch()).count();
    request.role_session_name = fmt::format("podiam-{}", unix_seconds);
  }
  auto result = sts_.AssumeRole(request);
  if (!result) {
    return tl::unexpected(result.error().Wrap("assume role " + request.role_arn));
  }
  result->credentials.source = "assume-role " + request.role_arn;
  return std::move(result->credentials);
}

}  // namespace podiam::aws
