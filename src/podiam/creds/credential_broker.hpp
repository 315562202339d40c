// CredentialBroker: the cache between pods and STS. It gets AssumeRole credentials once per
// CredentialKey and shares them among all pods with that key. It fetches them as soon as a pod
// with a role appears. It refreshes them early, with jitter, and makes one STS call per missing
// key however many requests wait for it. It runs at most max_concurrent_sts calls at once,
// foreground misses ahead of background refreshes. It backs off per entry while STS fails and
// briefly caches errors that a retry cannot fix.
//
// What it guarantees (docs/protocols.md#sdk-expiry-rules): it never hands out credentials with less
// than min_remaining (15 min) left. botocore rewrites such an expiry and may sign with expired
// keys. While a refresh fails, still-valid credentials keep being served. Credentials that arrive
// already too close to expiry (a short role max session, a skewed node clock) are refused with a
// kUnavailable error that says so, and retried with backoff.
//
// Lifetime of an entry: Retain(spec) for every pod that uses it (the pod watch calls it when a
// pod with a role appears), Release(key) when that pod goes. After the last Release the entry
// lives for release_grace, so a pod restarted under the same name reuses it. Then it is dropped
// and its credentials are never served again. An entry made by Get() alone (nobody retained
// it) lives for release_grace after its last Get(). Cached() never extends a lifetime.
//
// The per-entry rules (outcome classification, refresh time, backoff, entry state) are pure
// functions in refresh_rules.hpp; this class adds the cache, the queues and the threads.
//
// Threads: max_concurrent_sts workers (started by the constructor) make the STS calls. Tick()
// does the timed work: refreshes, retries, expiries and drops. Start() runs Tick() on a
// background thread, which sleeps until the next due time or a change. Unit tests call Tick()
// themselves with a FakeClock instead. Expiry decisions use wall time (Clock::Now(), since
// Expiration is a wall time). Backoff, negative caching, grace periods and Get() deadlines use
// steady time (Clock::SteadyNow()).
//
// Thread-safety: every method may be called from any thread. Cached() is the hot path for HTTP
// I/O threads: a shared lock, a hash lookup and a shared_ptr copy, with no allocation. Get()
// blocks, so call it from worker threads. The Clock, Random and StsClient/CredentialSource must
// outlive the broker. The broker calls Random only while holding its own lock, so a non-thread-safe
// Random (testing::FakeRandom) is fine.
//
//   creds::CredentialBroker broker(sts, clock, random, registry, {.max_concurrent_sts = 4});
//   broker.Start();
//   broker.Retain(spec);                                   // pod appeared: prefetch
//   if (auto c = broker.Cached(spec.key)) { return Serve(*c); }  // I/O thread, non-blocking
//   Result<aws::Credentials> c = broker.Get(spec, clock.SteadyNow() + std::chrono::seconds(5));
//   broker.Release(spec.key);                              // pod deleted
//   broker.Stop();
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "podiam/aws/credentials.hpp"
#include "podiam/aws/sts_client.hpp"
#include "podiam/base/clock.hpp"
#include "podiam/base/error.hpp"
#include "podiam/base/log.hpp"
#include "podiam/base/random.hpp"
#include "podiam/creds/credential_key.hpp"
#include "podiam/creds/credential_source.hpp"
#include "podiam/creds/metrics.hpp"
#include "podiam/creds/refresh_rules.hpp"
#include "podiam/metrics/registry.hpp"

namespace podiam::creds {

// One entry as /debug shows it. Never secret: no keys or tokens, and the external ID and
// session policy are only reported as present or not.
struct EntryStats {
  std::string role_arn;
  std::string session_name;
  bool has_external_id = false;
  bool has_session_policy = false;
  EntryState state = EntryState::kEmpty;
  int users = 0;                              // Retain() count
  std::optional<Clock::WallTime> expiration;  // of the servable credentials
  std::optional<Clock::WallTime> refresh_at;  // when the next refresh is due
  int consecutive_failures = 0;
  std::string last_error;  // Error::ToString() of the last failure, "" after a success
};

struct BrokerStats {
  std::vector<EntryStats> entries;  // sorted by role ARN, then session name
  std::size_t queued = 0;           // AssumeRole calls waiting for a worker
  std::size_t in_flight = 0;        // AssumeRole calls running
};

class CredentialBroker {
 public:
  // Starts the max_concurrent_sts worker threads. Options out of range are clamped, and a
  // duration_seconds too short for refresh_before + min_remaining is logged once. `source`
  // (creds/credential_source.hpp) must outlive the broker.
  CredentialBroker(CredentialSource& source, const Clock& clock, Random& random,
                   metrics::Registry& registry, BrokerOptions options = {});
  // The same over STS with podiam's own credentials (an owned StsSource over `sts`).
  CredentialBroker(aws::StsClient& sts, const Clock& clock, Random& random,
                   metrics::Registry& registry, BrokerOptions options = {});
  // Stop()s.
  ~CredentialBroker();
  CredentialBroker(const CredentialBroker&) = delete;
  CredentialBroker& operator=(const CredentialBroker&) = delete;

  // Non-blocking: the servable credentials for `key`, or nullptr. Never starts a fetch, because
  // it has no CredentialSpec to fetch with. On a miss, call Get().
  [[nodiscard]] std::shared_ptr<const aws::Credentials> Cached(const CredentialKey& key) const;

  // Non-blocking: the error of the last fetch for `key` when it failed (a refresh failing while
  // Cached() still serves the previous credentials, or a failed first fetch); nullopt after a
  // success or for an unknown key.
  [[nodiscard]] std::optional<Error> LastError(const CredentialKey& key) const;

  // Blocking: waits until credentials for `spec` are servable or `deadline` (in Clock::SteadyNow()
  // time) passes. If nothing is cached or in flight, it queues a fetch ahead of background work.
  // Concurrent Get()s of one key share one STS call and all get its result. Errors:
  //   - the call's own error (STS code in upstream_code()) when the awaited call failed;
  //   - kUnavailable when the credentials STS returned have less than min_remaining left;
  //   - the last error, without a new call, while the entry is backing off (retryable errors)
  //     or negative-cached (non-retryable ones, for negative_ttl);
  //   - kDeadlineExceeded when the deadline passes first (the fetch goes on and is cached);
  //   - kUnavailable after Stop().
  // With `fresh`, credentials inside their refresh window (past refresh_at) are refreshed first:
  // the entry's refresh is started now (or joined, single-flight) and awaited up to `deadline`;
  // if it fails or is late, the still-servable credentials are returned. For a podiam server
  // replica answering a peer whose copy ran out (docs/server.md, "High availability and
  // sharding"): the peer must not get credentials about to run out again.
  Result<aws::Credentials> Get(const CredentialSpec& spec, Clock::SteadyTime deadline,
                               bool fresh = false);

  // A pod using `spec` appeared: count it, and fetch in the background if nothing is cached or
  // in flight. Re-retaining updates the tags and other non-key fields used for later calls.
  void Retain(const CredentialSpec& spec);
  // A pod using `key` went away. After the last Release() (and no Get() waiting) the entry is
  // dropped once release_grace has passed. Unknown keys and extra Release()s are ignored.
  void Release(const CredentialKey& key);

  // Runs what is due once: queues refreshes and retries, forgets expired credentials, drops
  // entries whose grace period is over, updates gauges and wakes Get() waiters so that they
  // re-check their deadlines.
  void Tick();
  // Runs Tick() on a background thread until Stop(). Calling it again does nothing.
  void Start();
  // Wakes every Get() waiter with kUnavailable, drops queued calls and joins all threads. It
  // waits for calls already in flight to return (the StsClient's own timeouts bound that), and
  // their results are discarded. Idempotent.
  void Stop();

  // Waits (in real time, up to `timeout`) until no STS call is queued or in flight. For tests
  // (Tick() queues work that runs on the worker threads) and orderly shutdown. False on timeout.
  bool AwaitIdle(std::chrono::milliseconds timeout);

  [[nodiscard]] std::size_t Size() const;
  [[nodiscard]] BrokerStats Stats() const;
  [[nodiscard]] const BrokerOptions& options() const { return options_; }

 private:
  // The constructors' shared body: `source` if given, else the owned one.
  CredentialBroker(std::unique_ptr<CredentialSource> owned, const Clock& clock, Random& random,
                   metrics::Registry& registry, BrokerOptions options);
  CredentialBroker(std::unique_ptr<CredentialSource> owned, CredentialSource* source,
                   const Clock& clock, Random& random, metrics::Registry& registry,
                   BrokerOptions options);

  struct Entry;
  struct Task {
    std::shared_ptr<Entry> entry;
    std::uint64_t ticket;  // which fetch of the entry this task is for; stale when it differs
  };
  using EntryMap = std::unordered_map<CredentialKey, std::shared_ptr<Entry>, CredentialKeyHash>;
  using Lock = std::unique_lock<std::shared_mutex>;

  // Finds the entry for spec.key, creating it. An entry past its grace period is dropped first,
  // so that it is never revived.
  std::shared_ptr<Entry> FindOrCreateLocked(const CredentialSpec& spec, Clock::SteadyTime now);
  void DropLocked(EntryMap::iterator it, std::string_view why);
  void EnqueueLocked(const std::shared_ptr<Entry>& entry, FetchReason reason, bool foreground);
  // Queues a foreground fetch, or promotes the queued background one; returns its ticket.
  std::uint64_t StartOrJoinLocked(const std::shared_ptr<Entry>& entry, FetchReason reason);
  // Get(fresh): while the entry is servable but due for a refresh, start or join it and wait.
  void AwaitRefreshLocked(Lock& lock, const std::shared_ptr<Entry>& entry,
                          Clock::SteadyTime deadline);
  // What a finished call is logged with, gathered under the lock and written after it.
  struct FetchOutcome {
    bool ok = false;
    std::string role;
    std::string session;
    std::string_view reason;
    std::string expires;     // ok only
    std::string refresh_at;  // ok only
    std::string error;       // failures only
    int failures = 0;
    bool serving_previous = false;
    long long retry_in_ms = 0;
  };
  // Stores the result of a call; returns what to log (nothing for a discarded result or a
  // success with debug logging off).
  std::optional<FetchOutcome> CompleteLocked(Entry& entry, Result<aws::AssumeRoleResult> result);
  void LogOutcome(const FetchOutcome& outcome) const;
  // Tick()'s body; returns how long until something is due (at most kMaxTickerSleep).
  std::chrono::nanoseconds RunDueLocked();
  void UpdateGaugesLocked();
  Result<aws::Credentials> GetErrorLocked(std::string_view reason, Error error);
  void WorkerLoop();
  void TickerLoop();

  std::unique_ptr<CredentialSource> owned_source_;  // the StsClient& constructor's StsSource
  CredentialSource& source_;
  const Clock& clock_;
  Random& random_;
  BrokerMetrics metrics_;
  const BrokerOptions options_;
  log::Logger log_{"creds"};

  // Guards everything below and every Entry. Cached() and Stats() take it shared.
  mutable std::shared_mutex mu_;
  std::condition_variable_any work_cv_;  // workers: a task was queued, or stopping
  std::condition_variable_any done_cv_;  // Get() and AwaitIdle(): a call ended, Tick(), stopping
  std::condition_variable_any tick_cv_;  // ticker: the schedule changed, or stopping
  EntryMap entries_;
  std::deque<Task> foreground_;  // misses a Get() waits for, served first
  std::deque<Task> background_;  // prefetches, refreshes, retries
  std::uint64_t next_ticket_ = 0;
  std::size_t queued_ = 0;  // entries whose fetch is queued (tasks may be stale duplicates)
  std::size_t in_flight_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
  std::thread ticker_;
};

}  // namespace podiam::creds
