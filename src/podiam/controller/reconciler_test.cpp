#include "podiam/controller/reconciler.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <vector>

#include "podiam/controller/controller.hpp"
#include "podiam/k8s/resource.hpp"
#include "podiam/testing/fake_clock.hpp"
#include "podiam/testing/fake_kube_api.hpp"
#include "podiam/testing/fake_random.hpp"

namespace podiam::controller {
namespace {

using std::chrono::hours;

class FakeCredentials final : public CredentialSource {
 public:
  explicit FakeCredentials(const Clock& clock) : clock_(clock) {}
  Result<aws::Credentials> Get(const std::string& owner,
                               const creds::CredentialSpec& spec) override {
    specs[owner] = spec;
    if (error) {
      return tl::unexpected(*error);
    }
    if (refresh_error && last) {  // the broker keeps serving what it has
      return *last;
    }
    ++issued;
    last = aws::Credentials{.access_key_id = "ASIA" + std::to_string(issued),
                            .secret_access_key = "s",
                            .session_token = "t",
                            .expiration = clock_.Now() + hours(1)};
    return *last;
  }
  std::optional<Error> RefreshError(const std::string& /*owner*/) override { return refresh_error; }
  void Forget(const std::string& owner) override { forgotten.push_back(owner); }

  std::map<std::string, creds::CredentialSpec> specs;
  std::vector<std::string> forgotten;
  std::optional<Error> error;
  std::optional<Error> refresh_error;  // Get() then returns the last credentials again
  std::optional<aws::Credentials> last;
  int issued = 0;

 private:
  const Clock& clock_;
};

class FakeEvents final : public EventSink {
 public:
  void Record(const k8s::ObjectReference& /*regarding*/, k8s::EventType type,
              std::string_view reason, std::string_view note) override {
    events.push_back({type, std::string(reason), std::string(note)});
  }
  struct Event {
    k8s::EventType type;
    std::string reason;
    std::string note;
  };
  std::vector<Event> events;
};

class ReconcilerTest : public ::testing::Test {
 protected:
  ReconcilerTest()
      : policy_({.base = *aws::ParseBaseRoleArn("arn:aws:iam::123456789012:role/")}),
        credentials_(clock_),
        metrics_(registry_),
        reconciler_(api_, policy_, namespaces_, credentials_, events_, clock_, metrics_,
                    {.cluster_name = "prod",
                     .process_command = "podiam credential-process",
                     .resync = std::chrono::hours(1)}) {
    SetNamespace(R"(["app", "team/*"])");
  }

  void SetNamespace(const std::string& allowed) {
    namespaces_.BeginList();
    namespaces_.ListItem({{"metadata",
                           {{"name", "team-a"},
                            {"uid", "ns1"},
                            {"resourceVersion", std::to_string(++ns_version_)},
                            {"annotations", {{"iam.amazonaws.com/allowed-roles", allowed}}}}}});
    namespaces_.EndList();
  }

  // Creates (or re-reads) the role from the fake apiserver.
  RoleObject Role(k8s::Json spec = {{"roleReference", "app"}}) {
    if (!created_) {
      api_.Put(
          PodiamRoles(),
          {{"apiVersion", "podiam.io/v1"},
           {"kind", "AWSIAMRole"},
           {"metadata",
            {{"namespace", "team-a"}, {"name", "app"}, {"uid", "role-uid"}, {"generation", 1}}},
           {"spec", std::move(spec)}});
      created_ = true;
    }
    return *ParseRoleObject(*api_.Get(PodiamRoles(), "team-a", "app"));
  }

  k8s::Json Secret(const std::string& name = "app") {
    auto s = api_.Get(k8s::resources::Secrets(), "team-a", name);
    return s ? *s : k8s::Json();
  }

  testing::FakeClock clock_;
  testing::FakeKubeApi api_;
  identity::RolePolicy policy_;
  k8s::NamespaceCache namespaces_{{.annotation_keys = {"iam.amazonaws.com/*"}}};
  FakeCredentials credentials_;
  FakeEvents events_;
  metrics::Registry registry_;
  ControllerMetrics metrics_;
  Reconciler reconciler_;
  bool created_ = false;
  int ns_version_ = 0;
};

TEST_F(ReconcilerTest, WritesTheSecretAndStatusWithTheNamespacesExternalId) {
  auto r = reconciler_.Reconcile(Role());
  EXPECT_EQ(r.result, "ok");
  EXPECT_FALSE(r.retry);
  ASSERT_TRUE(r.requeue_after);
  // Refreshed by the broker 30 min before expiry: look again just after.
  EXPECT_EQ(*r.requeue_after, std::chrono::minutes(30) + std::chrono::seconds(30));

  const auto& spec = credentials_.specs.at("role-uid");
  EXPECT_EQ(spec.key.role_arn, "arn:aws:iam::123456789012:role/app");
  EXPECT_EQ(spec.key.external_id, "team-a/prod");
  EXPECT_EQ(spec.key.session_name, "team-a.app");

  k8s::Json secret = Secret();
  ASSERT_FALSE(secret.is_null());
  EXPECT_EQ(secret["metadata"]["ownerReferences"][0]["uid"], "role-uid");
  EXPECT_EQ(secret["stringData"]["role-arn"], "arn:aws:iam::123456789012:role/app");

  RoleObject after = Role();
  EXPECT_EQ(after.ready_status, "True");
  EXPECT_EQ(after.ready_reason, reasons::kReady);
  EXPECT_EQ(after.status_role_arn, "arn:aws:iam::123456789012:role/app");
  EXPECT_EQ(after.status_secret_name, "app");
  EXPECT_EQ(after.status_observed_generation, 1);
  EXPECT_FALSE(after.status_expiration.empty());
  ASSERT_EQ(events_.events.size(), 1U);
  EXPECT_EQ(events_.events[0].type, k8s::EventType::kNormal);
}

TEST_F(ReconcilerTest, SessionTagsNameTheNamespaceTheObjectAndTheCluster) {
  reconciler_.Reconcile(Role());
  EXPECT_TRUE(credentials_.specs.at("role-uid").key.tags.empty());  // off by default
  Reconciler tagged(api_, policy_, namespaces_, credentials_, events_, clock_, metrics_,
                    {.cluster_name = "prod", .session_tags = true});
  tagged.Reconcile(Role());
  const auto& tags = credentials_.specs.at("role-uid").key.tags;
  ASSERT_EQ(tags.size(), 3U);
  EXPECT_EQ(tags[0], (aws::Tag{"kubernetes-namespace", "team-a"}));
  EXPECT_EQ(tags[1], (aws::Tag{"kubernetes-awsiamrole", "app"}));
  EXPECT_EQ(tags[2], (aws::Tag{"cluster-name", "prod"}));
}

TEST_F(ReconcilerTest, DeniedByNamespacePolicyLeavesNoSecret) {
  auto r = reconciler_.Reconcile(Role({{"roleReference", "admin"}}));
  EXPECT_EQ(r.result, "denied");
  EXPECT_TRUE(Secret().is_null());
  RoleObject after = Role();
  EXPECT_EQ(after.ready_status, "False");
  EXPECT_EQ(after.ready_reason, reasons::kDenied);
  ASSERT_EQ(events_.events.size(), 1U);
  EXPECT_EQ(events_.events[0].type, k8s::EventType::kWarning);
  EXPECT_EQ(events_.events[0].reason, reasons::kDenied);
  EXPECT_TRUE(credentials_.specs.empty());  // STS never asked
}

TEST_F(ReconcilerTest, APolicyChangeRemovesTheOwnedSecret) {
  ASSERT_EQ(reconciler_.Reconcile(Role()).result, "ok");
  ASSERT_FALSE(Secret().is_null());
  SetNamespace(R"(["other"])");
  EXPECT_EQ(reconciler_.Reconcile(Role()).result, "denied");
  EXPECT_TRUE(Secret().is_null());
  EXPECT_EQ(credentials_.forgotten.size(), 1U);
}

TEST_F(ReconcilerTest, ExternalIdNoneNeedsTheControllersPermission) {
  auto r = reconciler_.Reconcile(Role({{"roleReference", "app"}, {"externalIdPolicy", "None"}}));
  EXPECT_EQ(r.result, "denied");
  EXPECT_NE(Role().ready_message.find("allow-no-external-id"), std::string::npos);
}

TEST_F(ReconcilerTest, InvalidReferenceIsReported) {
  auto r = reconciler_.Reconcile(Role({{"roleReference", "arn:aws:s3:::bucket"}}));
  EXPECT_EQ(r.result, "invalid");
  EXPECT_EQ(Role().ready_reason, reasons::kInvalidRole);
}

TEST_F(ReconcilerTest, StsFailureRetriesAndKeepsTheLastCredentials) {
  ASSERT_EQ(reconciler_.Reconcile(Role()).result, "ok");
  std::string before = Secret()["stringData"]["credentials"];
  credentials_.error = Error(ErrorCode::kUnavailable, "STS is down", "ServiceUnavailable");
  auto r = reconciler_.Reconcile(Role());
  EXPECT_EQ(r.result, "sts_error");
  EXPECT_TRUE(r.retry);
  EXPECT_EQ(Secret()["stringData"]["credentials"], before);
  RoleObject after = Role();
  EXPECT_EQ(after.ready_reason, reasons::kGetCredentialsFailed);
  EXPECT_NE(after.ready_message.find("ServiceUnavailable"), std::string::npos);
  EXPECT_NE(after.ready_message.find("keeps its last credentials"), std::string::npos);
  EXPECT_FALSE(after.status_expiration.empty());
  EXPECT_EQ(events_.events.back().reason, reasons::kGetCredentialsFailed);
  // Retried with backoff, at most a minute apart.
  ASSERT_TRUE(r.requeue_after);
  EXPECT_EQ(*r.requeue_after, std::chrono::seconds(60));
}

std::size_t CountReason(const std::vector<FakeEvents::Event>& events, std::string_view reason) {
  return static_cast<std::size_t>(std::count_if(events.begin(), events.end(),
                                                [&](const auto& e) { return e.reason == reason; }));
}

TEST_F(ReconcilerTest, RefreshFailingKeepsTheSecretAndStaysReadyWithOneWarning) {
  ASSERT_EQ(reconciler_.Reconcile(Role()).result, "ok");
  std::string before = Secret()["stringData"]["credentials"];
  credentials_.refresh_error = Error(ErrorCode::kUnavailable, "STS is down", "ServiceUnavailable");
  for (int i = 0; i < 3; ++i) {
    clock_.Advance(std::chrono::seconds(15));
    // The error's message may change between retries: still one Event.
    credentials_.refresh_error =
        Error(ErrorCode::kUnavailable, "STS is down " + std::to_string(i), "ServiceUnavailable");
    auto r = reconciler_.Reconcile(Role());
    EXPECT_EQ(r.result, "refresh_failing");
    EXPECT_FALSE(r.retry);
    ASSERT_TRUE(r.requeue_after);
    EXPECT_EQ(*r.requeue_after, std::chrono::seconds(15));  // the broker retries; look soon
  }
  // The same credentials (the fake apiserver keeps stringData; the E2E test checks that the real
  // one sees no write at all).
  EXPECT_EQ(Secret()["stringData"]["credentials"], before);
  RoleObject failing = Role();
  EXPECT_EQ(failing.ready_status, "True");
  EXPECT_EQ(failing.ready_reason, reasons::kRefreshFailing);
  EXPECT_NE(failing.ready_message.find("ServiceUnavailable: STS is down 2"), std::string::npos);
  EXPECT_FALSE(failing.status_expiration.empty());
  EXPECT_EQ(CountReason(events_.events, reasons::kRefreshFailing), 1U);
  EXPECT_EQ(events_.events.back().type, k8s::EventType::kWarning);

  // Past the broker's last servable moment: Ready False, the Secret still untouched, one Event.
  credentials_.error = Error(ErrorCode::kUnavailable, "STS is down", "ServiceUnavailable");
  for (int i = 0; i < 3; ++i) {
    credentials_.error = Error(ErrorCode::kUnavailable, "down " + std::to_string(i), "Throttling");
    EXPECT_EQ(reconciler_.Reconcile(Role()).result, "sts_error");
  }
  EXPECT_EQ(Secret()["stringData"]["credentials"], before);
  EXPECT_EQ(Role().ready_status, "False");
  EXPECT_EQ(Role().status_expiration, failing.status_expiration);
  EXPECT_EQ(CountReason(events_.events, reasons::kGetCredentialsFailed), 1U);

  // STS answers again: new credentials in the Secret, Ready with the usual reason.
  credentials_.error.reset();
  credentials_.refresh_error.reset();
  auto r = reconciler_.Reconcile(Role());
  EXPECT_EQ(r.result, "ok");
  EXPECT_NE(Secret()["stringData"]["credentials"], before);
  EXPECT_EQ(Role().ready_status, "True");
  EXPECT_EQ(Role().ready_reason, reasons::kReady);
  EXPECT_EQ(events_.events.back().reason, reasons::kReady);
  EXPECT_EQ(events_.events.back().type, k8s::EventType::kNormal);
}

TEST_F(ReconcilerTest, ControllerBacksOffStsFailuresUpToAMinute) {
  testing::FakeRandom random;
  RoleCache roles;
  Controller controller(reconciler_, {&roles}, namespaces_, clock_, random, metrics_, {});
  Role();
  roles.BeginList();
  roles.ListItem(k8s::Json(*api_.Get(PodiamRoles(), "team-a", "app")));
  roles.EndList();
  credentials_.error = Error(ErrorCode::kUnavailable, "STS is down", "ServiceUnavailable");
  // Count reconciles over 10 simulated minutes, stepping the clock by 100 ms.
  std::vector<int> per_minute(10, 0);
  for (int step = 0; step < 6000; ++step) {
    while (controller.ProcessOne()) {
      ++per_minute[static_cast<std::size_t>(step / 600)];
    }
    clock_.Advance(std::chrono::milliseconds(100));
  }
  const std::string key = "0|team-a/app";
  EXPECT_GT(controller.queue().Failures(key), 5);
  EXPECT_GT(per_minute[0], per_minute[9]);  // backs off
  EXPECT_GE(per_minute[9], 1);              // but never more than a minute apart
  EXPECT_LE(per_minute[9], 3);
  // STS back: the next look writes the Secret and resets the backoff.
  credentials_.error.reset();
  for (int step = 0; step < 600 && Secret().is_null(); ++step) {
    controller.ProcessOne();
    clock_.Advance(std::chrono::milliseconds(100));
  }
  EXPECT_FALSE(Secret().is_null());
  EXPECT_EQ(controller.queue().Failures(key), 0);
  EXPECT_EQ(Role().ready_reason, reasons::kReady);
}

TEST_F(ReconcilerTest, ForeignSecretIsAConflictUnlessAnnotatedForAdoption) {
  api_.Put(k8s::resources::Secrets(),
           {{"apiVersion", "v1"},
            {"kind", "Secret"},
            {"metadata", {{"namespace", "team-a"}, {"name", "app"}, {"uid", "s1"}}},
            {"data", {{"x", "eA=="}}}});
  EXPECT_EQ(reconciler_.Reconcile(Role()).result, "secret_conflict");
  EXPECT_EQ(Role().ready_reason, reasons::kSecretConflict);
  EXPECT_EQ(events_.events.back().reason, reasons::kSecretConflict);
  EXPECT_FALSE(Secret().contains("stringData"));

  k8s::Json s = Secret();
  s["metadata"]["annotations"] = {{"podiam.io/adopt", "true"}};
  ASSERT_TRUE(api_.Update(k8s::resources::Secrets(), "team-a", s));
  EXPECT_EQ(reconciler_.Reconcile(Role()).result, "ok");
  k8s::Json adopted = Secret();
  EXPECT_EQ(adopted["metadata"]["ownerReferences"][0]["uid"], "role-uid");
  EXPECT_EQ(Role().ready_status, "True");
}

TEST_F(ReconcilerTest, SecondReconcileWritesNothing) {
  ASSERT_EQ(reconciler_.Reconcile(Role()).result, "ok");
  std::string rv = Role().resource_version;
  std::size_t events = events_.events.size();
  EXPECT_EQ(reconciler_.Reconcile(Role()).result, "ok");
  EXPECT_EQ(Role().resource_version, rv);
  EXPECT_EQ(events_.events.size(), events);
}

TEST_F(ReconcilerTest, ControllerQueuesCachedRolesAndForgetsDeletedOnes) {
  testing::FakeRandom random;
  RoleCache roles;
  Controller controller(reconciler_, {&roles}, namespaces_, clock_, random, metrics_, {});
  Role();  // in the fake apiserver
  k8s::Json object = *api_.Get(PodiamRoles(), "team-a", "app");
  roles.BeginList();
  roles.ListItem(k8s::Json(object));
  roles.EndList();
  EXPECT_EQ(controller.queue().Depth(), 1U);
  EXPECT_TRUE(controller.ProcessOne());
  EXPECT_FALSE(Secret().is_null());
  EXPECT_FALSE(controller.ProcessOne());  // requeued for later, not now
  EXPECT_EQ(controller.queue().Depth(), 1U);
  roles.Event(k8s::WatchEventType::kDeleted, std::move(object));
  EXPECT_EQ(credentials_.forgotten, std::vector<std::string>{"role-uid"});
  clock_.Advance(std::chrono::hours(2));
  EXPECT_TRUE(controller.ProcessOne());  // the delayed key finds nothing: no reconcile
  EXPECT_EQ(credentials_.specs.size(), 1U);
}

}  // namespace
}  // namespace podiam::controller
