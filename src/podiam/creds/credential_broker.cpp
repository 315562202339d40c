#include "podiam/creds/credential_broker.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <exception>
#include <tuple>
#include <utility>

namespace podiam::creds {
namespace {

using std::chrono::duration_cast;
using std::chrono::milliseconds;
using std::chrono::nanoseconds;
using std::chrono::seconds;

// The ticker wakes at least this often even when nothing is due, so that a jump of the wall
// clock (which steady waits do not see) delays a refresh by at most this much.
constexpr nanoseconds kMaxTickerSleep = std::chrono::seconds(10);
// And at most this often, so that a due entry that cannot make progress cannot spin it.
constexpr nanoseconds kMinTickerSleep = std::chrono::milliseconds(1);

long long WholeMillis(nanoseconds d) { return duration_cast<milliseconds>(d).count(); }

// The role an entry's credentials are for, with the role it was reached through when chained.
std::string RoleForLog(const CredentialKey& key) {
  return key.target_role_arn.empty() ? key.role_arn
                                     : key.target_role_arn + " (through " + key.role_arn + ")";
}

}  // namespace

struct CredentialBroker::Entry {
  enum class Fetch { kIdle, kQueued, kInFlight };

  explicit Entry(CredentialSpec s) : spec(std::move(s)) {}

  [[nodiscard]] bool Servable(Clock::WallTime now) const {
    return creds != nullptr && now <= serve_until;
  }
  // Nobody holds the entry: it goes once drop_at has passed.
  [[nodiscard]] bool Unused() const { return users == 0 && waiters == 0; }

  CredentialSpec spec;
  // The last good credentials and the last moment they may be served (expiration minus
  // min_remaining). Kept while a refresh fails; reset once they stop being servable.
  std::shared_ptr<const aws::Credentials> creds;
  Clock::WallTime serve_until{};
  Clock::WallTime refresh_at{};

  Fetch fetch = Fetch::kIdle;
  FetchReason reason = FetchReason::kPrefetch;
  bool foreground = false;             // the queued task is (also) in the foreground queue
  std::uint64_t ticket = 0;            // of the fetch queued or in flight, or the last one
  std::uint64_t completed_ticket = 0;  // of the last fetch that ended

  // Outcome of the last fetch when it did not yield servable credentials; reset on success.
  std::optional<Error> last_error;
  bool last_too_short = false;  // last_error is the "expires too soon" refusal
  int failures = 0;             // consecutive
  // No foreground call before blocked_until (backoff or negative caching), no background retry
  // before retry_at. Equal for retryable errors; for non-retryable ones Get()s may try again
  // after negative_ttl while background retries keep backing off.
  Clock::SteadyTime blocked_until{};
  Clock::SteadyTime retry_at{};

  int users = 0;    // Retain() - Release()
  int waiters = 0;  // Get()s blocked on this entry; they keep it alive
  Clock::SteadyTime drop_at{};
  bool dropped = false;  // removed from the map; a call still in flight is discarded
};

CredentialBroker::CredentialBroker(aws::StsClient& sts, const Clock& clock, Random& random,
                                   metrics::Registry& registry, BrokerOptions options)
    : CredentialBroker(std::make_unique<StsSource>(sts), clock, random, registry, options) {}

CredentialBroker::CredentialBroker(CredentialSource& source, const Clock& clock, Random& random,
                                   metrics::Registry& registry, BrokerOptions options)
    : CredentialBroker(std::unique_ptr<CredentialSource>(), &source, clock, random, registry,
                       options) {}

CredentialBroker::CredentialBroker(std::unique_ptr<CredentialSource> owned, const Clock& clock,
                                   Random& random, metrics::Registry& registry,
                                   BrokerOptions options)
    : CredentialBroker(std::move(owned), nullptr, clock, random, registry, options) {}

CredentialBroker::CredentialBroker(std::unique_ptr<CredentialSource> owned,
                                   CredentialSource* source, const Clock& clock, Random& random,
                                   metrics::Registry& registry, BrokerOptions options)
    : owned_source_(std::move(owned)),
      source_(source != nullptr ? *source : *owned_source_),
      clock_(clock),
      random_(random),
      metrics_(registry),
      options_(SanitizeBrokerOptions(options)) {
  if (seconds(options_.duration_seconds) < options_.refresh_before + options_.min_remaining) {
    // Credentials that short are refreshed halfway through their servable window instead,
    // which costs more STS calls than an operator probably expects.
    log_.Warn(
        "credential duration is shorter than refresh-before plus the minimum served "
        "lifetime; credentials will be refreshed more often than refresh-before implies",
        {{"duration_seconds", options_.duration_seconds},
         {"refresh_before_seconds", static_cast<long long>(options_.refresh_before.count())},
         {"min_remaining_seconds", static_cast<long long>(options_.min_remaining.count())}});
  }
  workers_.reserve(static_cast<std::size_t>(options_.max_concurrent_sts));
  for (int i = 0; i < options_.max_concurrent_sts; ++i) {
    workers_.emplace_back([this] { WorkerLoop(); });
  }
}

CredentialBroker::~CredentialBroker() { Stop(); }

std::optional<Error> CredentialBroker::LastError(const CredentialKey& key) const {
  std::shared_lock lock(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end() || it->second->failures == 0) {
    return std::nullopt;
  }
  return it->second->last_error;
}

std::shared_ptr<const aws::Credentials> CredentialBroker::Cached(const CredentialKey& key) const {
  const Clock::WallTime now = clock_.Now();
  std::shared_ptr<const aws::Credentials> out;
  {
    std::shared_lock lock(mu_);
    auto it = entries_.find(key);
    if (it != entries_.end()) {
      const Entry& entry = *it->second;
      // An unused entry past its grace period counts as dropped even before Tick() removes it.
      if (entry.Servable(now) && (!entry.Unused() || clock_.SteadyNow() < entry.drop_at)) {
        out = entry.creds;
      }
    }
  }
  (out ? metrics_.hits_cached : metrics_.misses_cached).Inc();
  return out;
}

Result<aws::Credentials> CredentialBroker::Get(const CredentialSpec& spec,
                                               Clock::SteadyTime deadline, bool fresh) {
  Lock lock(mu_);
  if (stopping_) {
    metrics_.misses_get.Inc();
    return GetErrorLocked(kGetErrorStopped,
                          Error(ErrorCode::kUnavailable, "credential broker is stopped"));
  }
  Clock::SteadyTime steady = clock_.SteadyNow();
  std::shared_ptr<Entry> entry = FindOrCreateLocked(spec, steady);

  // Keeps the entry alive while this call waits; an unretained entry then lives for
  // release_grace after its last Get().
  struct WaiterGuard {
    CredentialBroker& broker;
    Entry& entry;
    explicit WaiterGuard(CredentialBroker& b, Entry& e) : broker(b), entry(e) { ++entry.waiters; }
    ~WaiterGuard() {
      --entry.waiters;
      if (entry.users == 0) {
        entry.drop_at = broker.clock_.SteadyNow() + broker.options_.release_grace;
      }
    }
    WaiterGuard(const WaiterGuard&) = delete;
    WaiterGuard& operator=(const WaiterGuard&) = delete;
  } guard(*this, *entry);

  if (fresh) {
    AwaitRefreshLocked(lock, entry, deadline);
  }
  std::uint64_t awaited = 0;  // ticket of the fetch this call waits for; 0 before it has one
  bool missed = false;
  for (;;) {
    if (entry->Servable(clock_.Now())) {
      if (!missed) {
        metrics_.hits_get.Inc();
      }
      return *entry->creds;
    }
    if (!missed) {
      missed = true;
      metrics_.misses_get.Inc();
    }
    if (stopping_) {
      return GetErrorLocked(kGetErrorStopped,
                            Error(ErrorCode::kUnavailable, "credential broker is stopped"));
    }
    if (awaited != 0 && entry->completed_ticket >= awaited) {
      // The fetch this call waited for is over and left nothing servable: its error is the
      // answer, for every waiter alike (no waiter starts a call of its own).
      if (entry->last_error) {
        return GetErrorLocked(entry->last_too_short ? kGetErrorTooShort : kGetErrorFetchFailed,
                              *entry->last_error);
      }
      awaited = 0;  // it succeeded, but the credentials have already run out: fetch again
    }
    if (awaited == 0) {
      if (entry->fetch == Entry::Fetch::kIdle) {
        if (entry->last_error && steady < entry->blocked_until) {
          const Error& last = *entry->last_error;
          return GetErrorLocked(
              last.retryable() ? kGetErrorBackoff : kGetErrorNegative,
              Error(last.code(),
                    fmt::format("{} (not retried for another {} ms)", last.message(),
                                WholeMillis(entry->blocked_until - steady)),
                    last.upstream_code(), last.retryable()));
        }
      }
      awaited = StartOrJoinLocked(entry, FetchReason::kMiss);
    }
    if (steady >= deadline) {
      return GetErrorLocked(
          kGetErrorDeadline,
          Error(ErrorCode::kDeadlineExceeded,
                fmt::format("credentials for role {} not available before the deadline; the STS "
                            "call continues in the background",
                            spec.key.role_arn)));
    }
    // Woken by the end of a call, by Tick() (so that a FakeClock deadline is noticed) or by
    // Stop(); otherwise by the deadline itself in real time.
    done_cv_.wait_for(lock, deadline - steady);
    steady = clock_.SteadyNow();
  }
}

std::uint64_t CredentialBroker::StartOrJoinLocked(const std::shared_ptr<Entry>& entry,
                                                  FetchReason reason) {
  if (entry->fetch == Entry::Fetch::kIdle) {
    EnqueueLocked(entry, reason, /*foreground=*/true);
  } else if (entry->fetch == Entry::Fetch::kQueued && !entry->foreground) {
    // A background fetch is queued: let it jump the queue instead of queuing a second one.
    entry->foreground = true;
    foreground_.push_back({entry, entry->ticket});
    work_cv_.notify_one();
  }
  return entry->ticket;
}

void CredentialBroker::AwaitRefreshLocked(Lock& lock, const std::shared_ptr<Entry>& entry,
                                          Clock::SteadyTime deadline) {
  std::uint64_t awaited = 0;
  while (!stopping_ && entry->Servable(clock_.Now()) && clock_.Now() >= entry->refresh_at &&
         clock_.SteadyNow() < deadline) {
    if (awaited != 0 && entry->completed_ticket >= awaited) {
      return;  // refreshed, or failed: the caller serves what is servable now
    }
    if (awaited == 0) {
      if (entry->fetch == Entry::Fetch::kIdle && entry->last_error &&
          clock_.SteadyNow() < entry->blocked_until) {
        return;  // a refresh failed and backs off: serve the previous credentials meanwhile
      }
      awaited = StartOrJoinLocked(entry, FetchReason::kRefresh);
    }
    done_cv_.wait_for(lock, deadline - clock_.SteadyNow());
  }
}

void CredentialBroker::Retain(const CredentialSpec& spec) {
  Lock lock(mu_);
  const Clock::SteadyTime steady = clock_.SteadyNow();
  std::shared_ptr<Entry> entry = FindOrCreateLocked(spec, steady);
  ++entry->users;
  if (!stopping_ && !entry->Servable(clock_.Now()) && entry->fetch == Entry::Fetch::kIdle &&
      steady >= entry->retry_at) {
    EnqueueLocked(entry, FetchReason::kPrefetch, /*foreground=*/false);
  }
}

void CredentialBroker::Release(const CredentialKey& key) {
  Lock lock(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end() || it->second->users == 0) {
    log_.Debug("release of an entry nobody retains ignored",
               {{"role", key.role_arn}, {"session", key.session_name}});
    return;
  }
  Entry& entry = *it->second;
  if (--entry.users > 0) {
    return;
  }
  entry.drop_at = clock_.SteadyNow() + options_.release_grace;
  if (entry.waiters == 0 && options_.release_grace.count() == 0) {
    DropLocked(it, "released");
    return;
  }
  tick_cv_.notify_one();
}

void CredentialBroker::Tick() {
  Lock lock(mu_);
  (void)RunDueLocked();
}

void CredentialBroker::Start() {
  Lock lock(mu_);
  if (stopping_ || ticker_.joinable()) {
    return;
  }
  ticker_ = std::thread([this] { TickerLoop(); });
}

void CredentialBroker::Stop() {
  std::vector<std::thread> threads;
  {
    Lock lock(mu_);
    stopping_ = true;
    for (auto& [key, entry] : entries_) {
      if (entry->fetch == Entry::Fetch::kQueued) {
        entry->fetch = Entry::Fetch::kIdle;
      }
    }
    foreground_.clear();
    background_.clear();
    queued_ = 0;
    UpdateGaugesLocked();
    threads = std::move(workers_);
    workers_.clear();
    if (ticker_.joinable()) {
      threads.push_back(std::move(ticker_));
    }
  }
  work_cv_.notify_all();
  done_cv_.notify_all();
  tick_cv_.notify_all();
  for (auto& thread : threads) {
    thread.join();
  }
}

bool CredentialBroker::AwaitIdle(std::chrono::milliseconds timeout) {
  Lock lock(mu_);
  return done_cv_.wait_for(lock, timeout, [this] { return queued_ == 0 && in_flight_ == 0; });
}

std::size_t CredentialBroker::Size() const {
  std::shared_lock lock(mu_);
  return entries_.size();
}

BrokerStats CredentialBroker::Stats() const {
  const Clock::WallTime now = clock_.Now();
  BrokerStats stats;
  std::shared_lock lock(mu_);
  stats.queued = queued_;
  stats.in_flight = in_flight_;
  stats.entries.reserve(entries_.size());
  for (const auto& [key, entry] : entries_) {
    EntryStats& s = stats.entries.emplace_back();
    s.role_arn = key.role_arn;
    s.session_name = key.session_name;
    s.has_external_id = !key.external_id.empty();
    s.has_session_policy = !key.session_policy.empty();
    s.users = entry->users;
    s.consecutive_failures = entry->failures;
    if (entry->last_error) {
      s.last_error = entry->last_error->ToString();
    }
    const bool busy = entry->fetch != Entry::Fetch::kIdle;
    const bool servable = entry->Servable(now);
    if (servable) {
      s.expiration = entry->creds->expiration;
      s.refresh_at = entry->refresh_at;
    }
    s.state = EntryStateOf(
        servable, busy, entry->failures,
        entry->last_error ? std::optional(entry->last_error->retryable()) : std::nullopt);
  }
  std::sort(stats.entries.begin(), stats.entries.end(), [](const auto& a, const auto& b) {
    return std::tie(a.role_arn, a.session_name) < std::tie(b.role_arn, b.session_name);
  });
  return stats;
}

std::shared_ptr<CredentialBroker::Entry> CredentialBroker::FindOrCreateLocked(
    const CredentialSpec& spec, Clock::SteadyTime now) {
  auto it = entries_.find(spec.key);
  if (it != entries_.end()) {
    if (!it->second->Unused() || now < it->second->drop_at) {
      if (spec.pod) {  // not part of the key: the latest pod is the one later fetches name
        it->second->spec.pod = spec.pod;
      }
      return it->second;
    }
    DropLocked(it, "grace period over");
  }
  auto entry = std::make_shared<Entry>(spec);
  entry->drop_at = now + options_.release_grace;
  entries_.emplace(spec.key, entry);
  metrics_.entries.Set(static_cast<double>(entries_.size()));
  return entry;
}

void CredentialBroker::DropLocked(EntryMap::iterator it, std::string_view why) {
  Entry& entry = *it->second;
  entry.dropped = true;
  entry.creds.reset();  // no copy of the secrets outlives the entry longer than needed
  if (entry.fetch == Entry::Fetch::kQueued) {
    entry.fetch = Entry::Fetch::kIdle;
    --queued_;
  }
  log_.Debug("credential cache entry dropped",
             {{"role", it->first.role_arn}, {"session", it->first.session_name}, {"why", why}});
  entries_.erase(it);
  metrics_.dropped.Inc();
  UpdateGaugesLocked();
}

void CredentialBroker::EnqueueLocked(const std::shared_ptr<Entry>& entry, FetchReason reason,
                                     bool foreground) {
  entry->fetch = Entry::Fetch::kQueued;
  entry->reason = reason;
  entry->foreground = foreground;
  entry->ticket = ++next_ticket_;
  (foreground ? foreground_ : background_).push_back({entry, entry->ticket});
  ++queued_;
  UpdateGaugesLocked();
  work_cv_.notify_one();
}

void CredentialBroker::WorkerLoop() {
  Lock lock(mu_);
  for (;;) {
    work_cv_.wait(lock,
                  [this] { return stopping_ || !foreground_.empty() || !background_.empty(); });
    if (stopping_) {
      return;
    }
    std::deque<Task>& queue = foreground_.empty() ? background_ : foreground_;
    Task task = std::move(queue.front());
    queue.pop_front();
    Entry& entry = *task.entry;
    if (entry.dropped || entry.fetch != Entry::Fetch::kQueued || entry.ticket != task.ticket) {
      continue;  // the other copy of a promoted task, or an entry dropped while queued
    }
    entry.fetch = Entry::Fetch::kInFlight;
    --queued_;
    ++in_flight_;
    UpdateGaugesLocked();
    const CredentialSpec spec = entry.spec;

    lock.unlock();
    Result<aws::AssumeRoleResult> result = MakeError(ErrorCode::kInternal, "not called");
    try {
      // One AssumeRole, or two for a target role (role chaining): one entry either way.
      result = source_.Fetch(spec, options_.duration_seconds);
    } catch (const std::exception& e) {
      // The port promises errors as values; a throwing adapter must not take the worker down.
      result = MakeError(ErrorCode::kInternal,
                         fmt::format("credential source {} threw: {}", source_.Name(), e.what()));
    }
    lock.lock();

    --in_flight_;
    const std::optional<FetchOutcome> outcome = CompleteLocked(entry, std::move(result));
    UpdateGaugesLocked();
    done_cv_.notify_all();
    tick_cv_.notify_one();
    if (outcome) {
      // Not under mu_: a slow stderr (a full pipe to the log collector) must not stall
      // Cached() on the I/O threads.
      lock.unlock();
      LogOutcome(*outcome);
      lock.lock();
    }
  }
}

std::optional<CredentialBroker::FetchOutcome> CredentialBroker::CompleteLocked(
    Entry& entry, Result<aws::AssumeRoleResult> result) {
  std::optional<FetchOutcome> outcome;
  entry.fetch = Entry::Fetch::kIdle;
  entry.foreground = false;
  entry.completed_ticket = entry.ticket;
  const Clock::WallTime now = clock_.Now();
  const Clock::SteadyTime steady = clock_.SteadyNow();
  const std::string_view reason = FetchReasonName(entry.reason);
  const CredentialKey& key = entry.spec.key;

  FetchVerdict verdict = ClassifyFetch(result, now, options_.min_remaining);
  std::optional<Error>& error = verdict.error;
  metrics_.fetches.WithLabels({reason, verdict.result_label}).Inc();
  if (entry.dropped || stopping_) {
    return outcome;  // nobody may be served these any more
  }

  if (!error) {
    const Clock::WallTime expiration = *result->credentials.expiration;
    entry.creds = std::make_shared<const aws::Credentials>(std::move(result->credentials));
    entry.serve_until = expiration - options_.min_remaining;
    entry.refresh_at = RefreshAt(expiration, now, options_, random_);
    entry.failures = 0;
    entry.last_error.reset();
    entry.last_too_short = false;
    entry.blocked_until = {};
    entry.retry_at = {};
    if (log_.Enabled(log::Level::kDebug)) {
      outcome.emplace(FetchOutcome{.ok = true,
                                   .role = RoleForLog(key),
                                   .session = key.session_name,
                                   .reason = reason,
                                   .expires = aws::FormatTimestamp(expiration),
                                   .refresh_at = aws::FormatTimestamp(entry.refresh_at)});
    }
    return outcome;
  }

  const bool serving = entry.Servable(now);
  if (serving) {
    metrics_.refresh_failures.Inc();
  }
  ++entry.failures;
  const FailureSchedule schedule =
      ScheduleAfterFailure(*error, Backoff(entry.failures, options_, random_), steady, options_);
  entry.blocked_until = schedule.blocked_until;
  entry.retry_at = schedule.retry_at;
  entry.last_error = error->Wrap(fmt::format("assume role {}", key.role_arn));
  entry.last_too_short = verdict.too_short;
  outcome.emplace(FetchOutcome{.ok = false,
                               .role = RoleForLog(key),
                               .session = key.session_name,
                               .reason = reason,
                               .error = error->ToString(),
                               .failures = entry.failures,
                               .serving_previous = serving,
                               .retry_in_ms = WholeMillis(entry.retry_at - steady)});
  return outcome;
}

std::chrono::nanoseconds CredentialBroker::RunDueLocked() {
  const Clock::WallTime now = clock_.Now();
  const Clock::SteadyTime steady = clock_.SteadyNow();
  nanoseconds next = kMaxTickerSleep;
  auto min_remaining = Clock::WallTime::duration::max();
  // Wall-time due dates are turned into a steady wait; the ticker's cap covers clock jumps.
  auto wait_wall = [&](Clock::WallTime at) { next = std::min<nanoseconds>(next, at - now); };
  auto wait_steady = [&](Clock::SteadyTime at) { next = std::min<nanoseconds>(next, at - steady); };

  for (auto it = entries_.begin(); it != entries_.end();) {
    const std::shared_ptr<Entry> entry = it->second;
    if (entry->Unused()) {
      if (steady >= entry->drop_at) {
        DropLocked(it++, "grace period over");
        continue;
      }
      wait_steady(entry->drop_at);
    }
    ++it;
    if (entry->creds && !entry->Servable(now)) {
      entry->creds.reset();  // nothing may serve them any more; do not keep the secrets around
    }
    if (entry->creds) {
      min_remaining = std::min(min_remaining, *entry->creds->expiration - now);
      wait_wall(entry->serve_until);
    }
    if (entry->users == 0 || entry->fetch != Entry::Fetch::kIdle || stopping_) {
      continue;  // unretained entries are fetched by Get() alone; busy ones report back
    }
    const FetchReason reason = BackgroundFetchReason(entry->failures, entry->creds != nullptr);
    if (entry->creds && now < entry->refresh_at) {
      wait_wall(entry->refresh_at);
    } else if (steady < entry->retry_at) {
      wait_steady(entry->retry_at);
    } else {
      EnqueueLocked(entry, reason, /*foreground=*/false);
    }
  }

  metrics_.min_remaining.Set(min_remaining == Clock::WallTime::duration::max()
                                 ? 0.0
                                 : std::chrono::duration<double>(min_remaining).count());
  UpdateGaugesLocked();
  // Get() waiters re-check their deadlines against the Clock (a FakeClock moves without them).
  done_cv_.notify_all();
  return next;
}

void CredentialBroker::UpdateGaugesLocked() {
  metrics_.entries.Set(static_cast<double>(entries_.size()));
  metrics_.queued.Set(static_cast<double>(queued_));
  metrics_.in_flight.Set(static_cast<double>(in_flight_));
}

Result<aws::Credentials> CredentialBroker::GetErrorLocked(std::string_view reason, Error error) {
  metrics_.get_errors.WithLabels({reason}).Inc();
  return tl::unexpected(std::move(error));
}

void CredentialBroker::TickerLoop() {
  Lock lock(mu_);
  while (!stopping_) {
    const nanoseconds delay = std::clamp(RunDueLocked(), kMinTickerSleep, kMaxTickerSleep);
    tick_cv_.wait_for(lock, delay);
  }
}

}  // namespace podiam::creds
