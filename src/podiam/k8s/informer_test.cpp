#include "podiam/k8s/informer.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <mutex>
#include <set>
#include <thread>

#include "podiam/k8s/pod_cache.hpp"
#include "podiam/testing/fake_clock.hpp"
#include "podiam/testing/fake_kube_api.hpp"
#include "podiam/testing/fake_random.hpp"
#include "podiam/testing/k8s_objects.hpp"

namespace podiam::k8s {
namespace {

using testing::PodJson;

// Counts handler calls by kind and pod, to prove nothing is lost or reported twice.
class Recorder {
 public:
  explicit Recorder(PodCache& cache) {
    cache.AddHandlers({.on_add = [this](const auto& p) { Note("add", p->name); },
                       .on_update = [this](const auto&, const auto& n) { Note("update", n->name); },
                       .on_delete = [this](const auto& p) { Note("delete", p->name); }});
  }
  std::multiset<std::string> Take() {
    std::lock_guard lock(mu_);
    return std::exchange(seen_, {});
  }
  std::size_t size() const {
    std::lock_guard lock(mu_);
    return seen_.size();
  }

 private:
  void Note(const std::string& what, const std::string& name) {
    std::lock_guard lock(mu_);
    seen_.insert(what + " " + name);
  }
  mutable std::mutex mu_;
  std::multiset<std::string> seen_;
};

template <typename F>
bool Eventually(F&& done, std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
  auto until = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < until) {
    if (done()) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return done();
}

class InformerTest : public ::testing::Test {
 protected:
  InformerTest() : metrics_(registry_) {}

  std::unique_ptr<Informer> Make(InformerOptions options = {}) {
    if (options.resource.plural.empty()) {
      options.resource = resources::Pods();
    }
    if (!options.sleep) {
      options.sleep = [this](std::chrono::milliseconds d) {
        sleeps_.push_back(d);
        clock_.Advance(d);
        std::this_thread::sleep_for(std::chrono::milliseconds(1));  // no busy loop in threads
      };
    }
    return std::make_unique<Informer>(api_, cache_, metrics_, clock_, random_, options);
  }
  void Put(const testing::TestPod& p) { api_.Put(resources::Pods(), PodJson(p)); }

  testing::FakeKubeApi api_;
  testing::FakeClock clock_;
  testing::FakeRandom random_;
  metrics::Registry registry_;
  K8sMetrics metrics_;
  PodCache cache_;
  Recorder recorder_{cache_};
  std::vector<std::chrono::milliseconds> sleeps_;
};

TEST_F(InformerTest, ListsInPagesWithSelectorsThenSyncs) {
  for (int i = 0; i < 5; ++i) {
    Put({.name = "p" + std::to_string(i), .ip = "10.0.0." + std::to_string(i + 1)});
  }
  Put({.name = "elsewhere", .node = "node-2"});
  auto informer = Make({.field_selector = "spec.nodeName=node-1", .page_size = 2});
  EXPECT_FALSE(informer->HasSynced());
  ASSERT_TRUE(informer->Relist());
  EXPECT_TRUE(informer->HasSynced());
  EXPECT_TRUE(informer->WaitForSync(std::chrono::milliseconds(0)));
  EXPECT_EQ(cache_.Size(), 5U);
  EXPECT_EQ(api_.list_calls().size(), 3U);
  for (const auto& call : api_.list_calls()) {
    EXPECT_EQ(call.field_selector, "spec.nodeName=node-1");
    EXPECT_EQ(call.limit, 2);
  }
  EXPECT_EQ(informer->resource_version(), api_.resource_version());
  EXPECT_EQ(recorder_.Take().size(), 5U);
  EXPECT_EQ(metrics_.informer_objects.WithLabels({"pods"}).Value(), 5);
  EXPECT_EQ(metrics_.informer_synced.WithLabels({"pods"}).Value(), 1);
  EXPECT_GT(metrics_.informer_bytes.WithLabels({"pods"}).Value(), 0);
}

TEST_F(InformerTest, WatchesFromTheListVersionAndFollowsBookmarks) {
  Put({.name = "a", .ip = "10.0.0.1"});
  auto informer = Make({.field_selector = "spec.nodeName=node-1"});
  ASSERT_TRUE(informer->Relist());
  std::string listed_rv = informer->resource_version();
  recorder_.Take();

  Put({.name = "b", .ip = "10.0.0.2"});
  Put({.name = "a", .ip = "10.0.0.1", .phase = "Succeeded"});
  Put({.name = "c", .node = "node-2"});  // not ours
  api_.Remove(resources::Pods(), "default", "b");

  std::thread server([&] {
    ASSERT_TRUE(api_.WaitForWatches(1));
    api_.Bump(5);  // writes elsewhere in the cluster
    api_.Bookmark();
    ASSERT_TRUE(
        Eventually([&] { return informer->resource_version() == api_.resource_version(); }));
    api_.CloseWatches();
  });
  std::stop_source stop;
  ASSERT_TRUE(informer->WatchOnce(stop.get_token()));
  server.join();
  auto calls = api_.watch_calls();
  ASSERT_EQ(calls.size(), 1U);
  EXPECT_EQ(calls[0].resource_version, listed_rv);
  EXPECT_TRUE(calls[0].allow_bookmarks);
  EXPECT_EQ(calls[0].field_selector, "spec.nodeName=node-1");
  EXPECT_GE(calls[0].timeout, std::chrono::seconds(300));
  EXPECT_LT(calls[0].timeout, std::chrono::seconds(600));
  EXPECT_EQ(recorder_.Take(), (std::multiset<std::string>{"add b", "update a", "delete b"}));
  EXPECT_EQ(informer->resource_version(), api_.resource_version());  // from the bookmark
  EXPECT_EQ(cache_.PodByIp("10.0.0.1"), nullptr);
  EXPECT_EQ(metrics_.watch_events.WithLabels({"pods", "BOOKMARK"}).Value(), 1);
}

TEST_F(InformerTest, GoneMeansRelistWithoutLosingOrDuplicatingAnything) {
  for (const char* n : {"stay", "change", "go", "replace"}) {
    Put({.name = n, .ip = "10.0.0.1"});
  }
  auto informer = Make();
  ASSERT_TRUE(informer->Relist());
  recorder_.Take();
  // While we are not watching, things happen and history is compacted away.
  Put({.name = "change", .ip = "10.0.0.2"});
  api_.Remove(resources::Pods(), "default", "go");
  api_.Remove(resources::Pods(), "default", "replace");
  Put({.name = "replace", .ip = "10.0.0.3"});
  Put({.name = "new", .ip = "10.0.0.4"});
  api_.Compact();

  std::stop_source stop;
  auto watched = informer->WatchOnce(stop.get_token());
  ASSERT_FALSE(watched);
  EXPECT_TRUE(IsGone(watched.error()));
  ASSERT_TRUE(informer->Relist());
  EXPECT_EQ(recorder_.Take(),
            (std::multiset<std::string>{"update change", "delete go", "delete replace",
                                        "add replace", "add new"}));
  EXPECT_EQ(cache_.Size(), 4U);
  EXPECT_EQ(cache_.PodByIp("10.0.0.3")->name, "replace");
}

TEST_F(InformerTest, RunLoopRelistsOnGoneAndKeepsWatching) {
  Put({.name = "a", .ip = "10.0.0.1"});
  auto informer = Make();
  informer->Start();
  ASSERT_TRUE(informer->WaitForSync(std::chrono::seconds(5)));
  ASSERT_TRUE(api_.WaitForWatches(1));
  Put({.name = "b", .ip = "10.0.0.2"});
  ASSERT_TRUE(Eventually([&] { return cache_.PodByIp("10.0.0.2") != nullptr; }));

  // Writes elsewhere, then a compaction past our version: the fake ends the watch with 410
  // (as a restarted apiserver would); the loop relists and watches again.
  api_.Bump(5);
  api_.Compact();
  ASSERT_TRUE(Eventually([&] { return api_.list_calls().size() == 2; }));
  ASSERT_TRUE(api_.WaitForWatches(1));
  Put({.name = "c", .ip = "10.0.0.3"});
  ASSERT_TRUE(Eventually([&] { return cache_.PodByIp("10.0.0.3") != nullptr; }));
  informer->Stop();
  EXPECT_EQ(recorder_.Take(), (std::multiset<std::string>{"add a", "add b", "add c"}));
  EXPECT_EQ(metrics_.relists.WithLabels({"pods", "gone"}).Value(), 1);
  EXPECT_TRUE(sleeps_.empty());  // a relist after 410 does not back off
  EXPECT_EQ(api_.open_watches(), 0);
}

TEST_F(InformerTest, StopIsPromptAndStartResumesFromTheLastVersion) {
  auto informer = Make();
  informer->Start();
  ASSERT_TRUE(api_.WaitForWatches(1));
  informer->Stop();
  EXPECT_EQ(api_.open_watches(), 0);
  Put({.name = "while-stopped", .ip = "10.0.0.8"});
  informer->Start();
  ASSERT_TRUE(Eventually([&] { return cache_.PodByIp("10.0.0.8") != nullptr; }));
  informer->Stop();
  EXPECT_EQ(api_.list_calls().size(), 1U);  // resumed by watching, not relisting
}

TEST_F(InformerTest, ListFailuresBackOffExponentiallyWithJitter) {
  Error down(ErrorCode::kUnavailable, "connection refused", "", true);
  api_.FailNext("list", down, 4);
  auto informer = Make({.initial_backoff = std::chrono::milliseconds(100),
                        .max_backoff = std::chrono::milliseconds(500)});
  informer->Start();
  ASSERT_TRUE(informer->WaitForSync(std::chrono::seconds(5)));
  informer->Stop();
  // FakeRandom gives 0.5: delay = d/2 + d/2 * 0.5 = 0.75 d, d = 100, 200, 400, 500 (capped).
  EXPECT_EQ(sleeps_, (std::vector<std::chrono::milliseconds>{
                         std::chrono::milliseconds(75), std::chrono::milliseconds(150),
                         std::chrono::milliseconds(300), std::chrono::milliseconds(375)}));
  EXPECT_EQ(metrics_.list_failures.WithLabels({"pods"}).Value(), 4);
}

TEST_F(InformerTest, JitterStaysWithinBounds) {
  auto informer = Make({.initial_backoff = std::chrono::milliseconds(1000),
                        .max_backoff = std::chrono::milliseconds(30000)});
  for (double u : {0.0, 0.999}) {
    random_.set_value(u);
    for (int n = 1; n < 10; ++n) {
      double d = std::min(30000.0, 1000.0 * (1 << (n - 1)));
      auto b = informer->Backoff(n).count();
      EXPECT_GE(b, static_cast<long>(d / 2));
      EXPECT_LE(b, static_cast<long>(d));
    }
  }
}

TEST_F(InformerTest, WatchErrorsBackOffAndResumeFromTheSameVersion) {
  Put({.name = "a"});
  api_.FailNext("watch", Error(ErrorCode::kUnavailable, "reset", "", true), 2);
  auto informer = Make();
  informer->Start();
  ASSERT_TRUE(api_.WaitForWatches(1));
  informer->Stop();
  auto calls = api_.watch_calls();
  ASSERT_EQ(calls.size(), 3U);
  EXPECT_EQ(calls[0].resource_version, calls[2].resource_version);
  EXPECT_EQ(sleeps_.size(), 2U);
  EXPECT_EQ(api_.list_calls().size(), 1U);
  EXPECT_EQ(metrics_.watch_restarts.WithLabels({"pods", "error"}).Value(), 2);
}

TEST_F(InformerTest, AServerThatKeepsClosingAtOnceCannotMakeItSpin) {
  auto informer = Make();
  informer->Start();
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(api_.WaitForWatchCalls(static_cast<std::size_t>(i + 1)));
    ASSERT_TRUE(api_.WaitForWatches(1));
    api_.CloseWatches();
  }
  ASSERT_TRUE(api_.WaitForWatchCalls(4));
  informer->Stop();
  EXPECT_GE(sleeps_.size(), 3U);  // FakeClock never moves on its own: every watch was "brief"
}

TEST_F(InformerTest, ExpiredContinueTokenRestartsTheListWithoutDuplicates) {
  for (int i = 0; i < 4; ++i) {
    Put({.name = "p" + std::to_string(i)});
  }
  bool compacted = false;
  // Between the first and the second page, etcd compacts: the continue token expires.
  api_.set_before_list([&](const ListOptions& options) {
    if (!options.continue_token.empty() && !compacted) {
      compacted = true;
      api_.Bump(3);
      api_.Compact();
    }
  });
  auto informer = Make({.page_size = 2});
  ASSERT_TRUE(informer->Relist());
  auto calls = api_.list_calls();
  ASSERT_EQ(calls.size(), 3U);
  EXPECT_EQ(calls[2].limit, 0);
  EXPECT_EQ(calls[2].continue_token, "");
  EXPECT_EQ(cache_.Size(), 4U);
  EXPECT_EQ(recorder_.Take(), (std::multiset<std::string>{"add p0", "add p1", "add p2", "add p3"}));
}

}  // namespace
}  // namespace podiam::k8s
