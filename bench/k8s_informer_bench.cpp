// Informer ingest and cache memory for a 10,000-pod list and watch stream of realistic pods
// (testing::RealisticPodJson, ~4 KB of JSON each), through the real code path: HttpKubeApi over a
// canned HttpClient, WatchDecoder, Informer, PodCache with its indexes. Figures and the command
// are in docs/benchmarks.md.
#include <benchmark/benchmark.h>
#include <malloc.h>

#include <fstream>
#include <string>
#include <vector>

#include "podiam/k8s/http_kube_api.hpp"
#include "podiam/k8s/informer.hpp"
#include "podiam/k8s/pod_cache.hpp"
#include "podiam/k8s/watch_decoder.hpp"
#include "podiam/testing/fake_clock.hpp"
#include "podiam/testing/fake_http_client.hpp"
#include "podiam/testing/fake_random.hpp"
#include "podiam/testing/k8s_objects.hpp"

namespace podiam::k8s {
namespace {

constexpr int kPods = 10000;
constexpr int kPageSize = 500;
constexpr std::size_t kChunk = 64 * 1024;  // the transport's Stream() piece size

struct Canned {
  std::vector<std::string> pages;         // PodList bodies of kPageSize pods
  std::vector<std::string> watch_chunks;  // MODIFIED events for every pod, in 64 KB pieces
  std::string watch_stream;
  std::size_t json_bytes = 0;  // of the pods alone
};

const Canned& Data() {
  static const Canned kData = [] {
    Canned c;
    for (int first = 0; first < kPods; first += kPageSize) {
      Json page = {{"apiVersion", "v1"}, {"kind", "PodList"}, {"items", Json::array()}};
      page["metadata"]["resourceVersion"] = "5000";
      if (first + kPageSize < kPods) {
        page["metadata"]["continue"] = "page-" + std::to_string(first + kPageSize);
      }
      for (int i = first; i < first + kPageSize; ++i) {
        Json pod = testing::RealisticPodJson(i);
        c.json_bytes += pod.dump().size();
        page["items"].push_back(std::move(pod));
      }
      c.pages.push_back(page.dump());
    }
    for (int i = 0; i < kPods; ++i) {
      Json event = {{"type", "MODIFIED"}, {"object", testing::RealisticPodJson(i, 20000)}};
      c.watch_stream += event.dump();
      c.watch_stream += '\n';
    }
    for (std::size_t pos = 0; pos < c.watch_stream.size(); pos += kChunk) {
      c.watch_chunks.push_back(c.watch_stream.substr(pos, kChunk));
    }
    return c;
  }();
  return kData;
}

struct Rig {
  Rig() : metrics(registry), api(http, "https://apiserver", nullptr, metrics, clock) {}
  void ScriptList() {
    for (const auto& page : Data().pages) {
      http.PushResponse(200, page);
    }
  }
  testing::FakeHttpClient http;
  testing::FakeClock clock;
  testing::FakeRandom random;
  metrics::Registry registry;
  K8sMetrics metrics;
  HttpKubeApi api;
  PodCache cache{{.annotation_keys = {"iam.amazonaws.com/role"}}};
};

std::size_t RssBytes() {
  std::ifstream statm("/proc/self/statm");
  std::size_t pages = 0;
  std::size_t resident = 0;
  statm >> pages >> resident;
  return resident * static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
}

// List: 20 pages of 500 pods -> JSON parse -> PodView -> PodCache (replace + indexes).
void BM_InformerListIngest(benchmark::State& state) {
  for (auto _ : state) {
    state.PauseTiming();
    auto rig = std::make_unique<Rig>();
    rig->ScriptList();
    Informer informer(rig->api, rig->cache, rig->metrics, rig->clock, rig->random,
                      {.resource = resources::Pods(), .page_size = kPageSize});
    state.ResumeTiming();
    if (!informer.Relist()) {
      state.SkipWithError("list failed");
    }
    state.PauseTiming();
    rig.reset();  // not timed: tearing down the cache
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * kPods);
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(Data().json_bytes));
}
BENCHMARK(BM_InformerListIngest)->Unit(benchmark::kMillisecond);

// Watch: 10,000 MODIFIED events in 64 KB chunks -> WatchDecoder -> PodView -> update + indexes.
void BM_InformerWatchIngest(benchmark::State& state) {
  for (auto _ : state) {
    state.PauseTiming();
    auto rig = std::make_unique<Rig>();
    rig->ScriptList();
    Informer informer(rig->api, rig->cache, rig->metrics, rig->clock, rig->random,
                      {.resource = resources::Pods(), .page_size = kPageSize});
    (void)informer.Relist();
    rig->http.PushStream(Data().watch_chunks);
    std::stop_source stop;
    state.ResumeTiming();
    if (!informer.WatchOnce(stop.get_token())) {
      state.SkipWithError("watch failed");
    }
    state.PauseTiming();
    if (rig->cache.Size() != kPods) {
      state.SkipWithError("wrong cache size");
    }
    rig.reset();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * kPods);
  state.SetBytesProcessed(state.iterations() *
                          static_cast<std::int64_t>(Data().watch_stream.size()));
}
BENCHMARK(BM_InformerWatchIngest)->Unit(benchmark::kMillisecond);

// The decoder alone (framing + JSON parse), for comparison: what storing adds on top.
void BM_WatchDecodeOnly(benchmark::State& state) {
  for (auto _ : state) {
    WatchDecoder decoder;
    std::size_t events = 0;
    for (const auto& chunk : Data().watch_chunks) {
      (void)decoder.Feed(chunk, [&](WatchEvent&& e) {
        benchmark::DoNotOptimize(e);
        ++events;
        return true;
      });
    }
    if (events != kPods) {
      state.SkipWithError("wrong event count");
    }
  }
  state.SetItemsProcessed(state.iterations() * kPods);
  state.SetBytesProcessed(state.iterations() *
                          static_cast<std::int64_t>(Data().watch_stream.size()));
}
BENCHMARK(BM_WatchDecodeOnly)->Unit(benchmark::kMillisecond);

// Memory of a synced cache of 10,000 pods: the cache's own estimate and the RSS it really adds
// (measured after the JSON is gone and freed memory is trimmed back to the OS).
void BM_CacheMemory(benchmark::State& state) {
  (void)Data();
  double store = 0;
  double rss = 0;
  for (auto _ : state) {
    malloc_trim(0);
    std::size_t before = RssBytes();
    auto rig = std::make_unique<Rig>();
    rig->ScriptList();
    Informer informer(rig->api, rig->cache, rig->metrics, rig->clock, rig->random,
                      {.resource = resources::Pods(), .page_size = kPageSize});
    (void)informer.Relist();
    malloc_trim(0);
    std::size_t after = RssBytes();
    store = static_cast<double>(rig->cache.MemoryBytes());
    rss = static_cast<double>(after) - static_cast<double>(before);
    benchmark::DoNotOptimize(rig);
  }
  state.counters["pods"] = kPods;
  state.counters["json_bytes_per_pod"] = static_cast<double>(Data().json_bytes) / kPods;
  state.counters["store_bytes"] = store;
  state.counters["store_bytes_per_pod"] = store / kPods;
  state.counters["rss_delta_bytes"] = rss;
  state.counters["rss_bytes_per_pod"] = rss / kPods;
}
BENCHMARK(BM_CacheMemory)->Unit(benchmark::kMillisecond)->Iterations(3);

}  // namespace
}  // namespace podiam::k8s

BENCHMARK_MAIN();
