#include "podiam/membership/membership.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "podiam/k8s/resource.hpp"
#include "podiam/k8s/timestamps.hpp"

namespace podiam::membership {
namespace {

bool IsDnsLabelChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
}

std::string Annotation(const k8s::Json& object, std::string_view key) {
  const k8s::Json* meta = k8s::Find(object, "metadata");
  if (meta == nullptr) {
    return {};
  }
  const k8s::Json* annotations = k8s::Find(*meta, "annotations");
  if (annotations == nullptr) {
    return {};
  }
  return k8s::StringAt(*annotations, key);
}

}  // namespace

Result<void> Membership::Validate(const MembershipOptions& o) {
  if (o.namespace_name.empty() || o.prefix.empty() || o.identity.empty()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "membership needs a namespace, a lease prefix and an identity");
  }
  std::string name = LeaseName(o);
  if (name.size() > 253 || !std::all_of(name.begin(), name.end(), IsDnsLabelChar) ||
      name.front() == '-' || name.back() == '-') {
    return MakeError(ErrorCode::kInvalidArgument,
                     fmt::format("membership lease name '{}' (--membership-lease-prefix and "
                                 "--identity) is not a valid Kubernetes object name",
                                 name));
  }
  if (o.peer_url.empty()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "membership needs this replica's peer URL (--peer-url, or POD_IP)");
  }
  if (o.lease_duration.count() % 1000 != 0 || o.lease_duration.count() <= 0 ||
      o.renew_period.count() <= 0 || o.renew_period >= o.lease_duration) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "--membership-lease-duration must be whole seconds and longer than "
                     "--membership-renew-period");
  }
  return Ok();
}

std::string Membership::LeaseName(const MembershipOptions& options) {
  return options.prefix + "-" + options.identity;
}

Membership::Membership(k8s::KubeApi& api, const Clock& clock, Random& random,
                       k8s::K8sMetrics& metrics, MembershipOptions options)
    : api_(api),
      clock_(clock),
      options_(std::move(options)),
      lease_name_(LeaseName(options_)),
      members_(std::make_shared<const std::vector<Member>>(
          std::vector<Member>{{options_.identity, options_.peer_url}})),
      informer_(std::make_unique<k8s::Informer>(
          api, *this, metrics, clock, random,
          k8s::InformerOptions{.resource = k8s::resources::Leases(),
                               .namespace_name = options_.namespace_name,
                               .label_selector = std::string(kGroupLabel) + "=" + options_.prefix,
                               .watch_timeout = std::chrono::seconds(60)})) {}

Membership::~Membership() { Stop(); }

void Membership::Start() {
  if (started_) {
    return;
  }
  started_ = true;
  informer_->Start();
  loop_.Start([this](const std::stop_token& stop) {
    Clock::SteadyTime next_renew = clock_.SteadyNow();
    while (!stop.stop_requested()) {
      if (clock_.SteadyNow() >= next_renew) {
        if (auto ok = Renew(); !ok) {
          log_.Warn("renewing the membership lease failed",
                    {{"lease", lease_name_}, {"error", ok.error().ToString()}});
        }
        next_renew = clock_.SteadyNow() + options_.renew_period;
      }
      Check();
      auto until_renew =
          std::chrono::duration_cast<std::chrono::milliseconds>(next_renew - clock_.SteadyNow());
      loop_.Sleep(std::clamp(until_renew, std::chrono::milliseconds(1), options_.check_period),
                  stop);
    }
  });
}

void Membership::Stop() {
  if (!started_) {
    return;
  }
  started_ = false;
  loop_.Stop();
  informer_->Stop();
  {
    if (auto ok = Leave(); !ok) {
      log_.Warn("deleting the membership lease failed",
                {{"lease", lease_name_}, {"error", ok.error().ToString()}});
    } else {
      log_.Info("left the server group", {{"lease", lease_name_}});
    }
  }
}

bool Membership::WaitForSync(std::chrono::milliseconds timeout) const {
  return informer_->WaitForSync(timeout);
}

std::shared_ptr<const std::vector<Member>> Membership::Members() const {
  std::lock_guard lock(mu_);
  return members_;
}

bool Membership::Synced() const {
  std::lock_guard lock(mu_);
  return synced_;
}

k8s::Json Membership::LeaseObject() const {
  return {{"apiVersion", "coordination.k8s.io/v1"},
          {"kind", "Lease"},
          {"metadata",
           {{"name", lease_name_},
            {"namespace", options_.namespace_name},
            {"labels",
             {{"app.kubernetes.io/name", "podiam"}, {std::string(kGroupLabel), options_.prefix}}},
            {"annotations", {{std::string(kPeerUrlAnnotation), options_.peer_url}}}}},
          {"spec",
           {{"holderIdentity", options_.identity},
            {"leaseDurationSeconds", options_.lease_duration.count() / 1000},
            {"renewTime", k8s::FormatMicroTime(clock_.Now())}}}};
}

Result<void> Membership::Renew() {
  const k8s::Resource leases = k8s::resources::Leases();
  k8s::Json wanted = LeaseObject();
  auto lease = api_.Get(leases, options_.namespace_name, lease_name_);
  if (!lease) {
    if (lease.error().code() != ErrorCode::kNotFound) {
      return tl::unexpected(lease.error());
    }
    auto created = api_.Create(leases, options_.namespace_name, wanted);
    if (!created) {
      return tl::unexpected(created.error());
    }
    log_.Info("joined the server group", {{"lease", lease_name_}, {"peer_url", options_.peer_url}});
    return Ok();
  }
  k8s::Json updated = *lease;
  updated["metadata"]["labels"].update(wanted["metadata"]["labels"]);
  updated["metadata"]["annotations"].update(wanted["metadata"]["annotations"]);
  updated["spec"] = wanted["spec"];
  auto written = api_.Update(leases, options_.namespace_name, updated);
  if (!written) {
    return tl::unexpected(written.error());
  }
  return Ok();
}

Result<void> Membership::Leave() {
  auto deleted = api_.Delete(k8s::resources::Leases(), options_.namespace_name, lease_name_);
  if (!deleted && deleted.error().code() != ErrorCode::kNotFound) {
    return deleted;
  }
  return Ok();
}

bool Membership::Check() {
  std::lock_guard check(check_mu_);
  const Clock::SteadyTime now = clock_.SteadyNow();
  std::vector<Member> alive{{options_.identity, options_.peer_url}};
  {
    std::lock_guard lock(mu_);
    for (const auto& [name, r] : records_) {
      if (r.holder.empty() || r.holder == options_.identity || r.peer_url.empty() ||
          now - r.changed_at >= r.duration) {
        continue;
      }
      alive.push_back({r.holder, r.peer_url});
    }
    std::sort(alive.begin(), alive.end(),
              [](const Member& a, const Member& b) { return a.identity < b.identity; });
    alive.erase(
        std::unique(alive.begin(), alive.end(),
                    [](const Member& a, const Member& b) { return a.identity == b.identity; }),
        alive.end());
    if (*members_ == alive) {
      return false;
    }
    members_ = std::make_shared<const std::vector<Member>>(alive);
  }
  std::vector<std::string> names;
  names.reserve(alive.size());
  for (const auto& m : alive) {
    names.push_back(m.identity);
  }
  log_.Info("server group changed", {{"members", fmt::format("{}", fmt::join(names, ","))}});
  if (options_.on_change) {
    options_.on_change();
  }
  return true;
}

void Membership::PutLocked(std::map<std::string, Record>& into, const k8s::Json& object,
                           Clock::SteadyTime now) {
  std::string name = k8s::StringAt(object, "metadata", "name");
  if (name.empty()) {
    return;
  }
  const k8s::Json* spec = k8s::Find(object, "spec");
  Record r;
  if (spec != nullptr) {
    r.holder = k8s::StringAt(*spec, "holderIdentity");
    if (const k8s::Json* d = k8s::Find(*spec, "leaseDurationSeconds");
        d != nullptr && d->is_number_integer()) {
      r.duration = std::chrono::seconds(std::clamp<std::int64_t>(d->get<std::int64_t>(), 0, 3600));
    }
  }
  r.peer_url = Annotation(object, kPeerUrlAnnotation);
  r.seen = {{"spec", spec != nullptr ? *spec : k8s::Json()}, {"peer", r.peer_url}};
  r.changed_at = now;
  // The record as we held it before (records_ for a list too): unchanged keeps its time.
  if (auto old = records_.find(name); old != records_.end() && old->second.seen == r.seen) {
    r.changed_at = old->second.changed_at;
  }
  into[name] = std::move(r);
}

void Membership::BeginList() {
  std::lock_guard lock(mu_);
  staged_.clear();
}

void Membership::ListItem(k8s::Json&& object) {
  std::lock_guard lock(mu_);
  PutLocked(staged_, object, clock_.SteadyNow());
}

std::size_t Membership::EndList() {
  std::size_t n = 0;
  {
    std::lock_guard lock(mu_);
    records_.swap(staged_);
    staged_.clear();
    synced_ = true;
    n = records_.size();
  }
  Check();
  return n;
}

void Membership::Event(k8s::WatchEventType type, k8s::Json&& object) {
  {
    std::lock_guard lock(mu_);
    if (type == k8s::WatchEventType::kDeleted) {
      records_.erase(k8s::StringAt(object, "metadata", "name"));
    } else if (type == k8s::WatchEventType::kAdded || type == k8s::WatchEventType::kModified) {
      PutLocked(records_, object, clock_.SteadyNow());
    } else {
      return;
    }
  }
  Check();
}

std::size_t Membership::Size() const {
  std::lock_guard lock(mu_);
  return records_.size();
}

std::size_t Membership::MemoryBytes() const {
  std::lock_guard lock(mu_);
  return records_.size() * 512;  // small: one Lease per replica
}

}  // namespace podiam::membership
