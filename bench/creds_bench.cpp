// CredentialBroker::Cached(), the lookup every credential request from a pod makes on an HTTP
// I/O thread: a shared lock, a hash of the four key strings, a shared_ptr copy, one counter.
// Run with one thread and two (the machine has two cores), against a cache of 100 entries (a
// full node) with the real SystemClock, as in production.
//
//   cmake -S . -B build-release -G Ninja -DCMAKE_BUILD_TYPE=Release
//   ninja -C build-release podiam_bench_creds && build-release/bench/podiam_bench_creds
#include <benchmark/benchmark.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "podiam/base/clock.hpp"
#include "podiam/creds/credential_broker.hpp"
#include "podiam/metrics/registry.hpp"
#include "podiam/testing/fake_random.hpp"
#include "podiam/testing/fake_sts_client.hpp"

namespace podiam::creds {
namespace {

constexpr int kEntries = 100;

CredentialKey Key(int pod) {
  return {.role_arn = "arn:aws:iam::123456789012:role/team-a-web-application",
          .session_name = "team-a.web-7d9f8c6b5d-" + std::to_string(10000 + pod)};
}

// One warm broker shared by all benchmark threads, built on first use.
struct Warm {
  Warm() : sts(clock, std::chrono::hours(1)), broker(sts, clock, random, registry) {
    for (int pod = 0; pod < kEntries; ++pod) {
      keys.push_back(Key(pod));
      broker.Retain({.key = keys.back()});
    }
    broker.AwaitIdle(std::chrono::seconds(10));
  }
  SystemClock clock;
  testing::FakeRandom random;
  testing::FakeStsClient sts;
  metrics::Registry registry;
  CredentialBroker broker;
  std::vector<CredentialKey> keys;
};

Warm& Shared() {
  static auto* warm = new Warm();  // never destroyed: benchmark threads may outlive main's exit
  return *warm;
}

void BM_CachedHit(benchmark::State& state) {
  Warm& warm = Shared();
  // Each thread asks for its own pod's key, as two I/O threads serving different pods would.
  const CredentialKey key = warm.keys[static_cast<std::size_t>(state.thread_index()) * 7];
  for (auto _ : state) {
    auto creds = warm.broker.Cached(key);
    benchmark::DoNotOptimize(creds);
  }
  if (!warm.broker.Cached(key)) {
    state.SkipWithError("cache was not warm");
  }
}
BENCHMARK(BM_CachedHit)->Threads(1)->Threads(2)->UseRealTime();

void BM_CachedMiss(benchmark::State& state) {
  Warm& warm = Shared();
  const CredentialKey key = Key(kEntries + 1 + state.thread_index());
  for (auto _ : state) {
    auto creds = warm.broker.Cached(key);
    benchmark::DoNotOptimize(creds);
  }
}
BENCHMARK(BM_CachedMiss)->Threads(1)->Threads(2)->UseRealTime();

}  // namespace
}  // namespace podiam::creds

BENCHMARK_MAIN();
