#include "podiam/membership/membership.hpp"

#include <gtest/gtest.h>

#include <thread>

#include "podiam/k8s/resource.hpp"
#include "podiam/testing/fake_clock.hpp"
#include "podiam/testing/fake_kube_api.hpp"
#include "podiam/testing/fake_random.hpp"

namespace podiam::membership {
namespace {

using std::chrono::seconds;

k8s::Json Lease(const std::string& identity, const std::string& renew, int duration = 15,
                const std::string& url = "") {
  return {
      {"metadata",
       {{"name", "podiam-server-" + identity},
        {"namespace", "kube-system"},
        {"annotations",
         {{"podiam.io/peer-url", url.empty() ? "https://" + identity + ":8443" : url}}}}},
      {"spec",
       {{"holderIdentity", identity}, {"leaseDurationSeconds", duration}, {"renewTime", renew}}}};
}

class MembershipTest : public ::testing::Test {
 protected:
  MembershipTest() : metrics_(registry_) {}
  std::unique_ptr<Membership> Make(MembershipOptions o = {}) {
    o.namespace_name = "kube-system";
    o.identity = "a";
    o.peer_url = "https://10.0.0.1:8443";
    o.on_change = [this] { ++changes_; };
    return std::make_unique<Membership>(api_, clock_, random_, metrics_, o);
  }
  static std::vector<std::string> Ids(const Membership& m) {
    std::vector<std::string> out;
    for (const auto& member : *m.Members()) {
      out.push_back(member.identity);
    }
    return out;
  }

  testing::FakeKubeApi api_;
  testing::FakeClock clock_;
  testing::FakeRandom random_;
  metrics::Registry registry_;
  k8s::K8sMetrics metrics_;
  int changes_ = 0;
};

TEST_F(MembershipTest, Validates) {
  MembershipOptions o{.namespace_name = "ns", .identity = "pod-0", .peer_url = "https://x:1"};
  EXPECT_TRUE(Membership::Validate(o));
  EXPECT_EQ(Membership::LeaseName(o), "podiam-server-pod-0");
  auto bad = o;
  bad.identity = "";
  EXPECT_FALSE(Membership::Validate(bad));
  bad = o;
  bad.identity = "Pod_0";
  EXPECT_FALSE(Membership::Validate(bad));
  bad = o;
  bad.peer_url = "";
  EXPECT_FALSE(Membership::Validate(bad));
  bad = o;
  bad.renew_period = seconds(15);
  EXPECT_FALSE(Membership::Validate(bad));
  bad = o;
  bad.lease_duration = std::chrono::milliseconds(15500);
  EXPECT_FALSE(Membership::Validate(bad));
}

TEST_F(MembershipTest, AloneUntilListed) {
  auto m = Make();
  EXPECT_FALSE(m->Synced());
  EXPECT_EQ(Ids(*m), std::vector<std::string>{"a"});
  m->BeginList();
  m->ListItem(Lease("b", "t1"));
  m->ListItem(Lease("a", "t1"));  // our own: always a member anyway
  EXPECT_EQ(m->EndList(), 2U);
  EXPECT_TRUE(m->Synced());
  EXPECT_EQ(Ids(*m), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ((*m->Members())[1].peer_url, "https://b:8443");
  EXPECT_EQ(changes_, 1);
}

TEST_F(MembershipTest, PeerDiesWhenItsRecordStopsChangingOnOurClock) {
  auto m = Make();
  m->BeginList();
  m->EndList();
  m->Event(k8s::WatchEventType::kAdded, Lease("b", "t1"));
  EXPECT_EQ(Ids(*m), (std::vector<std::string>{"a", "b"}));
  clock_.Advance(seconds(10));
  m->Event(k8s::WatchEventType::kModified, Lease("b", "t2"));  // renewed: seen at 10 s
  clock_.Advance(seconds(14));
  EXPECT_FALSE(m->Check());
  EXPECT_EQ(Ids(*m), (std::vector<std::string>{"a", "b"}));
  // The same record again (a relist) does not make it fresher.
  m->Event(k8s::WatchEventType::kModified, Lease("b", "t2"));
  clock_.Advance(seconds(1));  // 15 s since the change we saw
  EXPECT_TRUE(m->Check());
  EXPECT_EQ(Ids(*m), std::vector<std::string>{"a"});
  // Its renewTime is far in the past or future: irrelevant, only our observation counts.
  m->Event(k8s::WatchEventType::kModified, Lease("b", "1999-01-01T00:00:00.000000Z"));
  EXPECT_EQ(Ids(*m), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(changes_, 3);  // joined, died, back
}

TEST_F(MembershipTest, DeletedOrReleasedLeaseLeavesAtOnce) {
  auto m = Make();
  m->BeginList();
  m->ListItem(Lease("b", "t1"));
  m->ListItem(Lease("c", "t1"));
  m->EndList();
  EXPECT_EQ(Ids(*m), (std::vector<std::string>{"a", "b", "c"}));
  m->Event(k8s::WatchEventType::kDeleted, Lease("b", "t1"));
  EXPECT_EQ(Ids(*m), (std::vector<std::string>{"a", "c"}));
  auto released = Lease("c", "t2");
  released["spec"]["holderIdentity"] = "";
  m->Event(k8s::WatchEventType::kModified, std::move(released));
  EXPECT_EQ(Ids(*m), std::vector<std::string>{"a"});
}

TEST_F(MembershipTest, LeaseWithoutPeerUrlIsNotAMember) {
  auto m = Make();
  auto lease = Lease("b", "t1");
  lease["metadata"].erase("annotations");
  m->Event(k8s::WatchEventType::kAdded, std::move(lease));
  EXPECT_EQ(Ids(*m), std::vector<std::string>{"a"});
}

TEST_F(MembershipTest, RenewCreatesThenUpdatesAndLeaveDeletes) {
  auto m = Make();
  ASSERT_TRUE(m->Renew());
  auto lease = api_.Get(k8s::resources::Leases(), "kube-system", "podiam-server-a");
  ASSERT_TRUE(lease);
  EXPECT_EQ((*lease)["spec"]["holderIdentity"], "a");
  EXPECT_EQ((*lease)["spec"]["leaseDurationSeconds"], 15);
  EXPECT_EQ((*lease)["metadata"]["labels"]["podiam.io/server-group"], "podiam-server");
  EXPECT_EQ((*lease)["metadata"]["labels"]["app.kubernetes.io/name"], "podiam");
  EXPECT_EQ((*lease)["metadata"]["annotations"]["podiam.io/peer-url"], "https://10.0.0.1:8443");
  auto first = (*lease)["spec"]["renewTime"];
  clock_.Advance(seconds(5));
  ASSERT_TRUE(m->Renew());
  lease = api_.Get(k8s::resources::Leases(), "kube-system", "podiam-server-a");
  EXPECT_NE((*lease)["spec"]["renewTime"], first);
  ASSERT_TRUE(m->Leave());
  EXPECT_FALSE(api_.Get(k8s::resources::Leases(), "kube-system", "podiam-server-a"));
  EXPECT_TRUE(m->Leave());  // already gone
}

TEST_F(MembershipTest, StartWatchesPeersAndStopLeaves) {
  api_.Put(k8s::resources::Leases(), [] {
    auto l = Lease("b", "t1");
    l["metadata"]["labels"] = {{"podiam.io/server-group", "podiam-server"}};
    return l;
  }());
  api_.Put(k8s::resources::Leases(), Lease("other-group", "t1"));  // no label: not ours
  auto m = Make({.check_period = std::chrono::milliseconds(5)});
  m->Start();
  for (int i = 0; i < 400 && Ids(*m).size() < 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(Ids(*m), (std::vector<std::string>{"a", "b"}));
  for (int i = 0; i < 400 && !api_.Get(k8s::resources::Leases(), "kube-system", "podiam-server-a");
       ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_TRUE(api_.Get(k8s::resources::Leases(), "kube-system", "podiam-server-a"));
  m->Stop();
  EXPECT_FALSE(api_.Get(k8s::resources::Leases(), "kube-system", "podiam-server-a"));
}

}  // namespace
}  // namespace podiam::membership
