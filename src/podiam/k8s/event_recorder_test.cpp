#include "podiam/k8s/event_recorder.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "podiam/testing/fake_clock.hpp"
#include "podiam/testing/fake_kube_api.hpp"

namespace podiam::k8s {
namespace {

using ::testing::StartsWith;

class EventRecorderTest : public ::testing::Test {
 protected:
  EventRecorderTest() : metrics_(registry_) {}

  EventRecorder Make(EventRecorderOptions options = {}) {
    options.reporting_instance = "podiam-agent-node-1";
    return EventRecorder(api_, clock_, metrics_, options);
  }
  std::vector<Json> Events() {
    auto list = api_.List(resources::Events(), "", {});
    return list ? list->items : std::vector<Json>{};
  }
  static ObjectReference Pod(const std::string& name) {
    return {.api_version = "v1",
            .kind = "Pod",
            .namespace_name = "team-a",
            .name = name,
            .uid = "uid-" + name};
  }
  double Dropped(const char* reason) {
    return metrics_.events_dropped.WithLabels({reason}).Value();
  }

  testing::FakeKubeApi api_;
  testing::FakeClock clock_;
  metrics::Registry registry_;
  K8sMetrics metrics_;
};

TEST_F(EventRecorderTest, WritesAnEventsV1Event) {
  EventRecorder events(api_, clock_, metrics_, {.reporting_instance = "podiam-agent-node-1"});
  events.Record(Pod("web-1"), EventType::kWarning, "RoleDenied", "AssumeRole",
                "namespace team-a does not allow role admin");
  EXPECT_EQ(events.Flush(), 1U);
  auto all = Events();
  ASSERT_EQ(all.size(), 1U);
  const Json& e = all[0];
  EXPECT_EQ(e["apiVersion"], "events.k8s.io/v1");
  EXPECT_THAT(e["metadata"]["name"].get<std::string>(), StartsWith("web-1."));
  EXPECT_EQ(e["metadata"]["namespace"], "team-a");
  EXPECT_EQ(e["eventTime"], "2026-01-01T00:00:00.000000Z");
  EXPECT_EQ(e["reportingController"], "podiam.io/agent");
  EXPECT_EQ(e["reportingInstance"], "podiam-agent-node-1");
  EXPECT_EQ(e["type"], "Warning");
  EXPECT_EQ(e["reason"], "RoleDenied");
  EXPECT_EQ(e["action"], "AssumeRole");
  EXPECT_EQ(e["regarding"]["kind"], "Pod");
  EXPECT_EQ(e["regarding"]["uid"], "uid-web-1");
  EXPECT_FALSE(e.contains("series"));
  EXPECT_EQ(metrics_.events_sent.WithLabels({"create"}).Value(), 1);
  EXPECT_EQ(events.Flush(), 0U);  // nothing new
}

TEST_F(EventRecorderTest, RepeatsBecomeASeries) {
  auto events = Make();
  events.Record(Pod("web-1"), EventType::kWarning, "RoleDenied", "AssumeRole", "no");
  events.Flush();
  for (int i = 0; i < 9; ++i) {
    clock_.Advance(std::chrono::seconds(1));
    events.Record(Pod("web-1"), EventType::kWarning, "RoleDenied", "AssumeRole", "no");
  }
  EXPECT_EQ(events.Flush(), 0U);  // series updates wait for the 30 s interval
  clock_.Advance(std::chrono::seconds(25));
  EXPECT_EQ(events.Flush(), 1U);
  auto all = Events();
  ASSERT_EQ(all.size(), 1U);
  EXPECT_EQ(all[0]["series"]["count"], 10);
  EXPECT_EQ(all[0]["series"]["lastObservedTime"], "2026-01-01T00:00:09.000000Z");
  EXPECT_EQ(metrics_.events_aggregated.Value(), 9);
  EXPECT_EQ(metrics_.events_sent.WithLabels({"patch"}).Value(), 1);

  // Something else about the same pod is another Event.
  events.Record(Pod("web-1"), EventType::kNormal, "CredentialsIssued", "AssumeRole", "ok");
  events.Flush();
  EXPECT_EQ(Events().size(), 2U);

  // After the window, the same failure starts a new Event.
  clock_.Advance(std::chrono::minutes(7));
  events.Record(Pod("web-1"), EventType::kWarning, "RoleDenied", "AssumeRole", "no");
  events.Flush();
  EXPECT_EQ(Events().size(), 3U);
}

TEST_F(EventRecorderTest, PerObjectRateLimit) {
  auto events = Make();
  for (int i = 0; i < 30; ++i) {
    events.Record(Pod("hot"), EventType::kWarning, "Failed" + std::to_string(i), "x", "");
  }
  events.Flush();
  EXPECT_EQ(Events().size(), 25U);  // the burst
  EXPECT_EQ(Dropped("rate_limited"), 5);
  // Repeats of a dropped one are dropped too, within its window.
  events.Record(Pod("hot"), EventType::kWarning, "Failed9", "x", "");
  EXPECT_EQ(Dropped("rate_limited"), 6);
  // Another object is not affected.
  events.Record(Pod("calm"), EventType::kWarning, "Failed", "x", "");
  events.Flush();
  EXPECT_EQ(Events().size(), 26U);
  // One token every five minutes.
  clock_.Advance(std::chrono::minutes(7));
  events.Record(Pod("hot"), EventType::kWarning, "Again1", "x", "");
  events.Record(Pod("hot"), EventType::kWarning, "Again2", "x", "");
  events.Flush();
  EXPECT_EQ(Events().size(), 27U);
}

TEST_F(EventRecorderTest, GlobalRateLimit) {
  auto events = Make({.global_burst = 3, .global_per_second = 0.1});
  for (int i = 0; i < 10; ++i) {
    events.Record(Pod("p" + std::to_string(i)), EventType::kNormal, "Started", "x", "");
  }
  events.Flush();
  EXPECT_EQ(Events().size(), 3U);
  EXPECT_EQ(Dropped("rate_limited"), 7);
  clock_.Advance(std::chrono::seconds(10));
  events.Record(Pod("late"), EventType::kNormal, "Started", "x", "");
  events.Flush();
  EXPECT_EQ(Events().size(), 4U);
}

TEST_F(EventRecorderTest, SeriesUpdatesWaitForTokensInsteadOfDropping) {
  auto events = Make({.object_burst = 1, .object_per_second = 1.0 / 300});
  events.Record(Pod("web"), EventType::kWarning, "X", "x", "");
  events.Flush();
  clock_.Advance(std::chrono::seconds(31));
  events.Record(Pod("web"), EventType::kWarning, "X", "x", "");
  EXPECT_EQ(events.Flush(), 0U);  // no token yet
  EXPECT_EQ(Dropped("rate_limited"), 0);
  clock_.Advance(std::chrono::seconds(300));
  EXPECT_EQ(events.Flush(), 1U);
  EXPECT_EQ(Events()[0]["series"]["count"], 2);
}

TEST_F(EventRecorderTest, ExpiredEventIsRecreatedAndFailuresAreNotRetried) {
  auto events = Make();
  events.Record(Pod("web"), EventType::kWarning, "X", "x", "");
  events.Flush();
  std::string name = Events()[0]["metadata"]["name"];
  ASSERT_TRUE(api_.Remove(resources::Events(), "team-a", name));  // TTL
  clock_.Advance(std::chrono::seconds(31));
  events.Record(Pod("web"), EventType::kWarning, "X", "x", "");
  events.Flush();  // the patch finds nothing
  events.Flush();  // so a new Event is created, with the whole count
  auto all = Events();
  ASSERT_EQ(all.size(), 1U);
  EXPECT_NE(all[0]["metadata"]["name"], name);
  EXPECT_EQ(all[0]["series"]["count"], 2);

  api_.FailNext("create", testing::FakeKubeApi::Status(403, "Forbidden", "events is forbidden"));
  events.Record(Pod("web"), EventType::kWarning, "Y", "y", "");
  events.Flush();
  EXPECT_EQ(Dropped("error"), 1);
  events.Record(Pod("web"), EventType::kWarning, "Y", "y", "");
  EXPECT_EQ(events.Flush(), 0U);  // not hammering an apiserver that said no
  EXPECT_EQ(Dropped("error"), 2);
}

TEST_F(EventRecorderTest, ClusterScopedObjectsGoToDefaultAndTextIsBounded) {
  auto events = Make();
  events.Record({.kind = "Node", .name = "node-1"}, EventType::kNormal, std::string(300, 'r'), "x",
                std::string(5000, 'n'));
  events.Flush();
  auto all = Events();
  ASSERT_EQ(all.size(), 1U);
  EXPECT_EQ(all[0]["metadata"]["namespace"], "default");
  EXPECT_FALSE(all[0]["regarding"].contains("namespace"));
  EXPECT_EQ(all[0]["reason"].get<std::string>().size(), 128U);
  EXPECT_EQ(all[0]["note"].get<std::string>().size(), 1024U);
}

TEST_F(EventRecorderTest, TrackedSeriesAreBounded) {
  auto events = Make({.object_burst = 1000, .global_burst = 1000, .max_series = 10});
  for (int i = 0; i < 25; ++i) {
    clock_.Advance(std::chrono::milliseconds(1));
    events.Record(Pod("p"), EventType::kNormal, "R" + std::to_string(i), "x", "");
  }
  EXPECT_LE(events.series_count(), 10U);
  EXPECT_EQ(Dropped("queue_full"), 15);
}

TEST_F(EventRecorderTest, WriterThreadFlushesOnStop) {
  auto events = Make({.writer_period = std::chrono::milliseconds(5)});
  events.Start();
  events.Record(Pod("web"), EventType::kNormal, "X", "x", "");
  events.Stop();
  EXPECT_EQ(Events().size(), 1U);
}

}  // namespace
}  // namespace podiam::k8s
