#include "podiam/k8s/leader_elector.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "podiam/testing/fake_clock.hpp"
#include "podiam/testing/fake_kube_api.hpp"
#include "podiam/testing/fake_random.hpp"

namespace podiam::k8s {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

class LeaderElectorTest : public ::testing::Test {
 protected:
  LeaderElectorTest() : metrics_(registry_) {}

  std::unique_ptr<LeaderElector> Make(const std::string& identity,
                                      LeaderElectionOptions options = {}) {
    options.lease_namespace = "kube-system";
    options.lease_name = "podiam";
    options.identity = identity;
    return std::make_unique<LeaderElector>(api_, clock_, random_, metrics_, options);
  }
  Json Spec() { return (*api_.Get(resources::Leases(), "kube-system", "podiam"))["spec"]; }

  testing::FakeKubeApi api_;
  testing::FakeClock clock_;
  testing::FakeRandom random_;
  metrics::Registry registry_;
  K8sMetrics metrics_;
};

TEST_F(LeaderElectorTest, ValidatesClientGoConstraints) {
  LeaderElectionOptions o{.lease_namespace = "ns", .lease_name = "l", .identity = "me"};
  EXPECT_TRUE(LeaderElector::Validate(o));  // 15 s / 10 s / 2 s
  o.renew_deadline = seconds(15);
  EXPECT_FALSE(LeaderElector::Validate(o));
  o.renew_deadline = milliseconds(2400);  // must exceed 1.2 * retryPeriod
  EXPECT_FALSE(LeaderElector::Validate(o));
  o.renew_deadline = milliseconds(2500);
  EXPECT_TRUE(LeaderElector::Validate(o));
  o.identity.clear();
  EXPECT_FALSE(LeaderElector::Validate(o));
}

TEST_F(LeaderElectorTest, CreatesRenewsAndKeepsAcquireTime) {
  auto a = Make("a");
  ASSERT_TRUE(a->TryAcquireOrRenew());
  Json spec = Spec();
  EXPECT_EQ(spec["holderIdentity"], "a");
  EXPECT_EQ(spec["leaseDurationSeconds"], 15);
  EXPECT_EQ(spec["leaseTransitions"], 0);
  EXPECT_EQ(spec["acquireTime"], "2026-01-01T00:00:00.000000Z");
  clock_.Advance(seconds(2));
  ASSERT_TRUE(a->TryAcquireOrRenew());
  spec = Spec();
  EXPECT_EQ(spec["renewTime"], "2026-01-01T00:00:02.000000Z");
  EXPECT_EQ(spec["acquireTime"], "2026-01-01T00:00:00.000000Z");
  EXPECT_EQ(spec["leaseTransitions"], 0);
  EXPECT_EQ(a->leader(), "a");
}

TEST_F(LeaderElectorTest, OthersWaitAFullLeaseMeasuredOnTheirOwnClock) {
  auto a = Make("a");
  auto b = Make("b");
  ASSERT_TRUE(a->TryAcquireOrRenew());
  clock_.Advance(seconds(100));          // a's renewTime is now old by wall clock...
  EXPECT_FALSE(b->TryAcquireOrRenew());  // ...but b has only just seen the record
  EXPECT_EQ(b->leader(), "a");
  clock_.Advance(seconds(14));
  EXPECT_FALSE(b->TryAcquireOrRenew());
  clock_.Advance(seconds(2));
  ASSERT_TRUE(b->TryAcquireOrRenew());
  Json spec = Spec();
  EXPECT_EQ(spec["holderIdentity"], "b");
  EXPECT_EQ(spec["leaseTransitions"], 1);
  // a notices it lost the lease.
  EXPECT_FALSE(a->TryAcquireOrRenew());
  EXPECT_EQ(a->leader(), "b");
}

TEST_F(LeaderElectorTest, RenewalsKeepOthersOut) {
  auto a = Make("a");
  auto b = Make("b");
  ASSERT_TRUE(a->TryAcquireOrRenew());
  for (int i = 0; i < 20; ++i) {
    clock_.Advance(seconds(2));
    ASSERT_TRUE(a->TryAcquireOrRenew());
    EXPECT_FALSE(b->TryAcquireOrRenew());
  }
}

TEST_F(LeaderElectorTest, OptimisticConcurrencyMeansAConflictLoses) {
  auto a = Make("a");
  ASSERT_TRUE(a->TryAcquireOrRenew());
  api_.FailNext("update", testing::FakeKubeApi::Status(409, "Conflict", "modified"));
  clock_.Advance(seconds(2));
  EXPECT_FALSE(a->TryAcquireOrRenew());
  // A concurrent writer between our read and our write is caught by resourceVersion.
  auto stale = *api_.Get(resources::Leases(), "kube-system", "podiam");
  clock_.Advance(seconds(2));
  ASSERT_TRUE(a->TryAcquireOrRenew());
  stale["spec"]["holderIdentity"] = "intruder";
  auto r = api_.Update(resources::Leases(), "kube-system", stale);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kConflict);
}

TEST_F(LeaderElectorTest, ReleaseLetsASuccessorInAtOnce) {
  auto a = Make("a");
  auto b = Make("b");
  ASSERT_TRUE(a->TryAcquireOrRenew());
  EXPECT_FALSE(b->TryAcquireOrRenew());
  ASSERT_TRUE(a->Release());
  EXPECT_EQ(Spec()["holderIdentity"], "");
  EXPECT_EQ(Spec()["leaseDurationSeconds"], 1);
  ASSERT_TRUE(b->TryAcquireOrRenew());
  EXPECT_EQ(Spec()["leaseTransitions"], 1);
}

TEST_F(LeaderElectorTest, RunLoopCallbacksAndLosingTheLease) {
  std::atomic<int> started{0};
  std::atomic<int> stopped{0};
  auto a = Make("a", {.on_started_leading = [&] { ++started; },
                      .on_stopped_leading = [&] { ++stopped; },
                      .sleep =
                          [&](milliseconds d) {
                            clock_.Advance(d);
                            std::this_thread::sleep_for(milliseconds(1));
                          }});
  a->Start();
  while (started == 0) {
    std::this_thread::sleep_for(milliseconds(1));
  }
  EXPECT_TRUE(a->IsLeader());
  // The apiserver becomes unreachable: after renewDeadline without renewal, a steps down.
  api_.FailNext("get", Error(ErrorCode::kUnavailable, "down"), 1000);
  while (stopped == 0) {
    std::this_thread::sleep_for(milliseconds(1));
  }
  EXPECT_FALSE(a->IsLeader());
  EXPECT_EQ(metrics_.leader.WithLabels({"podiam"}).Value(), 0);
  a->Stop();
  EXPECT_EQ(started, 1);
  EXPECT_EQ(metrics_.leader_transitions.WithLabels({"podiam", "stopped"}).Value(), 1);
}

TEST_F(LeaderElectorTest, StopReleasesUnlessToldNotTo) {
  std::atomic<bool> leading{false};
  auto a = Make("a", {.on_started_leading = [&] { leading = true; }});
  a->Start();
  while (!leading) {
    std::this_thread::sleep_for(milliseconds(1));
  }
  a->Stop();
  EXPECT_EQ(Spec()["holderIdentity"], "");

  leading = false;
  auto b = Make("b", {.release_on_cancel = false, .on_started_leading = [&] { leading = true; }});
  b->Start();
  while (!leading) {
    std::this_thread::sleep_for(milliseconds(1));
  }
  b->Stop();
  EXPECT_EQ(Spec()["holderIdentity"], "b");
}

}  // namespace
}  // namespace podiam::k8s
