#include "podiam/k8s/leader_elector.hpp"

#include <cmath>

#include "podiam/k8s/timestamps.hpp"

namespace podiam::k8s {
namespace {

constexpr double kJitterFactor = 1.2;  // client-go's JitterFactor

std::int64_t CeilSeconds(std::chrono::milliseconds d) { return (d.count() + 999) / 1000; }

}  // namespace

Result<void> LeaderElector::Validate(const LeaderElectionOptions& o) {
  if (o.lease_name.empty() || o.lease_namespace.empty() || o.identity.empty()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "leader election needs a lease namespace, a lease name and an identity");
  }
  if (o.retry_period.count() <= 0 || o.renew_deadline <= o.retry_period * kJitterFactor ||
      o.lease_duration <= o.renew_deadline) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "leader election timing must satisfy leaseDuration > renewDeadline > "
                     "1.2 * retryPeriod > 0");
  }
  return Ok();
}

LeaderElector::LeaderElector(KubeApi& api, const Clock& clock, Random& random, K8sMetrics& metrics,
                             LeaderElectionOptions options)
    : api_(api), clock_(clock), random_(random), metrics_(metrics), options_(std::move(options)) {}

LeaderElector::~LeaderElector() { Stop(); }

void LeaderElector::Start() {
  loop_.Start([this](const std::stop_token& stop) { Run(stop); });
}

void LeaderElector::Stop() { loop_.Stop(); }

std::string LeaderElector::leader() const {
  std::lock_guard lock(mu_);
  return observed_holder_;
}

void LeaderElector::Sleep(std::chrono::milliseconds delay, const std::stop_token& stop) {
  if (options_.sleep) {
    options_.sleep(delay);
    return;
  }
  loop_.Sleep(delay, stop);
}

void LeaderElector::Observe(const Json& spec, Clock::SteadyTime now) {
  std::string holder;
  {
    std::lock_guard lock(mu_);
    if (spec == observed_spec_) {
      return;
    }
    observed_spec_ = spec;
    observed_time_ = now;
    holder = StringAt(spec, "holderIdentity");
    if (holder == observed_holder_) {
      return;
    }
    observed_holder_ = holder;
  }
  if (!holder.empty()) {
    log_.Info("new leader observed", {{"lease", options_.lease_name}, {"holder", holder}});
    if (options_.on_new_leader) {
      options_.on_new_leader(holder);
    }
  }
}

Json LeaderElector::NewSpec(const Json& old_spec, bool renewal) const {
  std::string now = FormatMicroTime(clock_.Now());
  int transitions = 0;
  if (const Json* t = Find(old_spec, "leaseTransitions"); t != nullptr && t->is_number()) {
    transitions = t->get<int>();
  }
  Json spec = {{"holderIdentity", options_.identity},
               {"leaseDurationSeconds", CeilSeconds(options_.lease_duration)},
               {"renewTime", now}};
  if (renewal && Find(old_spec, "acquireTime") != nullptr) {
    spec["acquireTime"] = old_spec["acquireTime"];
    spec["leaseTransitions"] = transitions;
  } else {
    spec["acquireTime"] = now;
    spec["leaseTransitions"] = old_spec.is_null() ? 0 : transitions + 1;
  }
  return spec;
}

bool LeaderElector::TryAcquireOrRenew() {
  auto now = clock_.SteadyNow();
  const Resource leases = resources::Leases();
  auto lease = api_.Get(leases, options_.lease_namespace, options_.lease_name);
  if (!lease) {
    if (lease.error().code() != ErrorCode::kNotFound) {
      log_.Warn("reading the lease failed",
                {{"lease", options_.lease_name}, {"error", lease.error().ToString()}});
      return false;
    }
    Json spec = NewSpec(Json(), false);
    Json object = {
        {"apiVersion", "coordination.k8s.io/v1"},
        {"kind", "Lease"},
        {"metadata", {{"name", options_.lease_name}, {"namespace", options_.lease_namespace}}},
        {"spec", spec}};
    auto created = api_.Create(leases, options_.lease_namespace, object);
    if (!created) {
      log_.Info("creating the lease failed",
                {{"lease", options_.lease_name}, {"error", created.error().ToString()}});
      return false;
    }
    Observe(spec, now);
    return true;
  }
  Json old_spec = lease->value("spec", Json::object());
  Observe(old_spec, now);
  std::string holder = StringAt(old_spec, "holderIdentity");
  std::int64_t duration_s = 0;
  if (const Json* d = Find(old_spec, "leaseDurationSeconds"); d != nullptr && d->is_number()) {
    duration_s = d->get<std::int64_t>();
  }
  Clock::SteadyTime observed_at;
  {
    std::lock_guard lock(mu_);
    observed_at = observed_time_;
  }
  bool mine = holder == options_.identity;
  if (!holder.empty() && !mine && observed_at + std::chrono::seconds(duration_s) > now) {
    return false;  // held by someone else and not yet expired by our clock
  }
  Json updated = *lease;
  updated["spec"] = NewSpec(old_spec, mine);
  auto written = api_.Update(leases, options_.lease_namespace, updated);
  if (!written) {
    log_.Info("updating the lease failed",
              {{"lease", options_.lease_name}, {"error", written.error().ToString()}});
    return false;
  }
  Observe(updated["spec"], now);
  return true;
}

Result<void> LeaderElector::Release() {
  const Resource leases = resources::Leases();
  auto lease = api_.Get(leases, options_.lease_namespace, options_.lease_name);
  if (!lease) {
    return tl::unexpected(lease.error());
  }
  if (StringAt(lease->value("spec", Json::object()), "holderIdentity") != options_.identity) {
    return Ok();
  }
  Json updated = *lease;
  std::string now = FormatMicroTime(clock_.Now());
  updated["spec"]["holderIdentity"] = "";
  updated["spec"]["leaseDurationSeconds"] = 1;
  updated["spec"]["renewTime"] = now;
  updated["spec"]["acquireTime"] = now;
  auto written = api_.Update(leases, options_.lease_namespace, updated);
  if (!written) {
    return tl::unexpected(written.error());
  }
  Observe(updated["spec"], clock_.SteadyNow());
  return Ok();
}

void LeaderElector::Run(const std::stop_token& stop) {
  auto& leader_gauge = metrics_.leader.WithLabels({options_.lease_name});
  while (!stop.stop_requested()) {
    // Acquire.
    while (!stop.stop_requested() && !TryAcquireOrRenew()) {
      auto base = static_cast<double>(options_.retry_period.count());
      Sleep(std::chrono::milliseconds(
                static_cast<std::int64_t>(base + base * kJitterFactor * random_.Uniform01())),
            stop);
    }
    if (stop.stop_requested()) {
      return;
    }
    leading_ = true;
    leader_gauge.Set(1);
    metrics_.leader_transitions.WithLabels({options_.lease_name, "started"}).Inc();
    log_.Info("started leading", {{"lease", options_.lease_name}, {"identity", options_.identity}});
    if (options_.on_started_leading) {
      options_.on_started_leading();
    }
    // Renew.
    auto last_renew = clock_.SteadyNow();
    while (true) {
      Sleep(options_.retry_period, stop);
      if (stop.stop_requested()) {
        break;
      }
      if (TryAcquireOrRenew()) {
        last_renew = clock_.SteadyNow();
      } else if (clock_.SteadyNow() - last_renew >= options_.renew_deadline) {
        log_.Warn("could not renew the lease within the renew deadline",
                  {{"lease", options_.lease_name}});
        break;
      }
    }
    leading_ = false;
    leader_gauge.Set(0);
    if (stop.stop_requested() && options_.release_on_cancel) {
      if (auto released = Release(); !released) {
        log_.Warn("releasing the lease failed",
                  {{"lease", options_.lease_name}, {"error", released.error().ToString()}});
      }
    }
    metrics_.leader_transitions.WithLabels({options_.lease_name, "stopped"}).Inc();
    log_.Info("stopped leading", {{"lease", options_.lease_name}});
    if (options_.on_stopped_leading) {
      options_.on_stopped_leading();
    }
  }
}

}  // namespace podiam::k8s
