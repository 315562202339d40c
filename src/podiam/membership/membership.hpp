// Membership: which `podiam server` replicas are alive, from one coordination.k8s.io/v1 Lease per
// replica (docs/server.md, "High availability and sharding").
//
// - Own Lease `<prefix>-<identity>` in the namespace, labels app.kubernetes.io/name=podiam and
//   podiam.io/server-group=<prefix>, annotation podiam.io/peer-url, spec.holderIdentity =
//   identity, leaseDurationSeconds, renewTime; created when missing, renewed every renew_period
//   with a PUT carrying the resourceVersion read (a 409 just waits for the next round).
// - The group's Leases are listed and watched (label selector) into this object (an
//   InformerSink). A member is alive while its Lease exists, names a holder and a peer URL, and
//   its record changed within its leaseDurationSeconds as measured on OUR steady clock from when
//   WE saw it change: clocks of different nodes are never compared (client-go's rule, as in
//   k8s::LeaderElector).
// - This replica is always a member (it keeps serving even when its own renewals fail; the
//   worst case is a key prefetched twice). Until the first list, it is the only one, so it owns
//   every key and no request waits for the apiserver.
// - Stop() deletes the own Lease (precondition: its UID), so peers take over at once.
//
// on_change runs (on the loop or informer thread, never concurrently with itself) whenever the
// sorted member list changes; Members() is a snapshot any thread may read.
//
// Thread-safety: Start/Stop from one controlling thread; everything else from any thread.
//
//   membership::Membership members(api, clock, random, k8s_metrics,
//                                  {.namespace_name = "kube-system", .identity = pod_name,
//                                   .peer_url = "https://10.0.0.7:8443",
//                                   .on_change = [&] { owned.Rebalance(); }});
//   members.Start();
//   std::shared_ptr<const std::vector<membership::Member>> now = members.Members();
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <vector>

#include "podiam/base/clock.hpp"
#include "podiam/base/error.hpp"
#include "podiam/base/log.hpp"
#include "podiam/base/loop_thread.hpp"
#include "podiam/base/random.hpp"
#include "podiam/k8s/cache.hpp"
#include "podiam/k8s/informer.hpp"
#include "podiam/k8s/kube_api.hpp"
#include "podiam/k8s/metrics.hpp"

namespace podiam::membership {

inline constexpr std::string_view kPeerUrlAnnotation = "podiam.io/peer-url";
inline constexpr std::string_view kGroupLabel = "podiam.io/server-group";

struct Member {
  std::string identity;
  std::string peer_url;  // https://host:port
  friend bool operator==(const Member&, const Member&) = default;
};

struct MembershipOptions {
  std::string namespace_name;
  std::string prefix = "podiam-server";
  std::string identity;
  std::string peer_url;
  std::chrono::milliseconds lease_duration{15000};
  std::chrono::milliseconds renew_period{5000};
  // How often liveness is re-evaluated between events (a dead peer is noticed within
  // lease_duration + check_period).
  std::chrono::milliseconds check_period{1000};
  std::function<void()> on_change;
};

class Membership final : public k8s::InformerSink {
 public:
  // Names set, a lease name that is a DNS label, renew_period < lease_duration, whole seconds.
  static Result<void> Validate(const MembershipOptions& options);
  // The own Lease's name: <prefix>-<identity>.
  static std::string LeaseName(const MembershipOptions& options);

  Membership(k8s::KubeApi& api, const Clock& clock, Random& random, k8s::K8sMetrics& metrics,
             MembershipOptions options);
  ~Membership() override;
  Membership(const Membership&) = delete;
  Membership& operator=(const Membership&) = delete;

  // The informer and the renew/check loop.
  void Start();
  // Stops both and deletes the own Lease (after Start() only). Idempotent.
  void Stop();

  // Sorted by identity; always holds this replica.
  [[nodiscard]] std::shared_ptr<const std::vector<Member>> Members() const;
  [[nodiscard]] const std::string& identity() const { return options_.identity; }
  // The group's Leases have been listed once.
  [[nodiscard]] bool Synced() const;
  // Waits in real time for the first list (after Start()); false on timeout.
  bool WaitForSync(std::chrono::milliseconds timeout) const;

  // One renewal: create the own Lease, or update it. Loop step, public for tests.
  Result<void> Renew();
  // Deletes the own Lease (nothing when it is gone).
  Result<void> Leave();
  // Re-evaluates liveness at the clock's now; publishes and calls on_change when the list
  // changed. Returns whether it changed.
  bool Check();

  // k8s::InformerSink: the group's Leases.
  void BeginList() override;
  void ListItem(k8s::Json&& object) override;
  std::size_t EndList() override;
  void Event(k8s::WatchEventType type, k8s::Json&& object) override;
  [[nodiscard]] std::size_t Size() const override;
  [[nodiscard]] std::size_t MemoryBytes() const override;

 private:
  struct Record {
    std::string holder;
    std::string peer_url;
    std::chrono::seconds duration{0};
    k8s::Json seen;  // spec + peer URL, to notice a change
    Clock::SteadyTime changed_at{};
  };
  void PutLocked(std::map<std::string, Record>& into, const k8s::Json& object,
                 Clock::SteadyTime now);
  k8s::Json LeaseObject() const;

  k8s::KubeApi& api_;
  const Clock& clock_;
  MembershipOptions options_;
  std::string lease_name_;
  log::Logger log_{"membership"};

  mutable std::mutex mu_;                  // records_, staged_, synced_, members_
  std::map<std::string, Record> records_;  // by Lease name
  std::map<std::string, Record> staged_;   // a list in progress
  bool synced_ = false;
  std::shared_ptr<const std::vector<Member>> members_;
  std::mutex check_mu_;  // serialises Check() and on_change

  bool started_ = false;
  std::unique_ptr<k8s::Informer> informer_;
  LoopThread loop_;  // last: stopped before the members it uses go
};

}  // namespace podiam::membership
