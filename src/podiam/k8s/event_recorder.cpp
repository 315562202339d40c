#include "podiam/k8s/event_recorder.hpp"

#include <fmt/format.h>

#include <vector>

#include "podiam/k8s/timestamps.hpp"

namespace podiam::k8s {
namespace {

std::string Truncate(std::string_view text, std::size_t max) {
  return std::string(text.substr(0, max));
}

std::string ObjectKeyOf(const ObjectReference& r) {
  return fmt::format("{}/{}/{}", r.namespace_name, r.kind, r.name);
}

}  // namespace

EventRecorder::EventRecorder(KubeApi& api, const Clock& clock, K8sMetrics& metrics,
                             EventRecorderOptions options)
    : api_(api),
      clock_(clock),
      metrics_(metrics),
      options_(std::move(options)),
      global_bucket_(options_.global_burst, options_.global_per_second, clock.SteadyNow()) {
  options_.reporting_instance = Truncate(options_.reporting_instance, 128);
}

EventRecorder::~EventRecorder() { Stop(); }

void EventRecorder::Start() {
  std::lock_guard lock(mu_);
  if (thread_.joinable()) {
    return;
  }
  stopping_ = false;
  thread_ = std::thread([this] { Loop(); });
}

void EventRecorder::Stop() {
  {
    std::lock_guard lock(mu_);
    if (!thread_.joinable()) {
      return;
    }
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void EventRecorder::Loop() {
  while (true) {
    bool stop = false;
    {
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, options_.writer_period, [this] { return stopping_; });
      stop = stopping_;
    }
    Flush();
    if (stop) {
      return;
    }
  }
}

std::size_t EventRecorder::series_count() const {
  std::lock_guard lock(mu_);
  return series_.size();
}

void EventRecorder::Record(const ObjectReference& regarding, EventType type,
                           std::string_view reason, std::string_view action,
                           std::string_view note) {
  std::string key = fmt::format("{}\x1f{}\x1f{}\x1f{}\x1f{}\x1f{}\x1f{}", ObjectKeyOf(regarding),
                                regarding.uid, type == EventType::kWarning ? "W" : "N", reason,
                                action, note, regarding.api_version);
  auto now = clock_.Now();
  auto steady = clock_.SteadyNow();
  bool fresh = false;
  {
    std::lock_guard lock(mu_);
    auto it = series_.find(key);
    if (it != series_.end() && steady - it->second.last_seen < options_.aggregation_window) {
      Series& s = it->second;
      ++s.count;
      s.last_time = now;
      s.last_seen = steady;
      if (s.suppressed) {
        metrics_.events_dropped.WithLabels({s.suppressed_reason}).Inc();
      } else {
        metrics_.events_aggregated.Inc();
      }
      return;
    }
    if (it != series_.end()) {
      series_.erase(it);  // its window is over: the next occurrence starts a new Event
    }
    if (series_.size() >= options_.max_series) {
      ForgetOldLocked(steady);
    }
    while (series_.size() >= options_.max_series) {
      auto oldest = series_.begin();
      for (auto i = series_.begin(); i != series_.end(); ++i) {
        if (i->second.last_seen < oldest->second.last_seen) {
          oldest = i;
        }
      }
      if (oldest->second.count > oldest->second.written_count && !oldest->second.suppressed) {
        metrics_.events_dropped.WithLabels({"queue_full"})
            .Inc(oldest->second.count - oldest->second.written_count);
      }
      series_.erase(oldest);
    }
    Series s{
        .regarding = regarding,
        .type = type,
        .reason = Truncate(reason, 128),
        .action = Truncate(action, 128),
        .note = Truncate(note, 1024),
        .namespace_name = regarding.namespace_name.empty() ? "default" : regarding.namespace_name,
        .count = 1,
        .first_time = now,
        .last_time = now,
        .last_seen = steady};
    series_.emplace(std::move(key), std::move(s));
    fresh = true;
  }
  if (fresh) {
    cv_.notify_all();
  }
}

bool EventRecorder::TakeTokens(const std::string& object_key, Clock::SteadyTime now) {
  auto [bucket, inserted] = object_buckets_.try_emplace(object_key, options_.object_burst,
                                                        options_.object_per_second, now);
  if (!global_bucket_.Available(now) || !bucket->second.Available(now)) {
    return false;
  }
  global_bucket_.TryTake(now);
  bucket->second.TryTake(now);
  return true;
}

void EventRecorder::ForgetOldLocked(Clock::SteadyTime now) {
  for (auto it = series_.begin(); it != series_.end();) {
    const Series& s = it->second;
    bool settled = s.suppressed || s.count == s.written_count;
    if (settled && now - s.last_seen >= options_.aggregation_window) {
      it = series_.erase(it);
    } else {
      ++it;
    }
  }
  for (auto it = object_buckets_.begin(); it != object_buckets_.end();) {
    if (it->second.Full(now)) {
      it = object_buckets_.erase(it);
    } else {
      ++it;
    }
  }
}

Json EventRecorder::EventBody(const Series& s) const {
  Json body = {
      {"apiVersion", "events.k8s.io/v1"},
      {"kind", "Event"},
      {"metadata", {{"name", s.name}, {"namespace", s.namespace_name}}},
      {"eventTime", FormatMicroTime(s.first_time)},
      {"reportingController", options_.reporting_controller},
      {"reportingInstance", options_.reporting_instance},
      {"action", s.action},
      {"reason", s.reason},
      {"type", s.type == EventType::kWarning ? "Warning" : "Normal"},
      {"note", s.note},
      {"regarding",
       {{"apiVersion", s.regarding.api_version},
        {"kind", s.regarding.kind},
        {"name", s.regarding.name}}},
  };
  if (!s.regarding.namespace_name.empty()) {
    body["regarding"]["namespace"] = s.regarding.namespace_name;
  }
  if (!s.regarding.uid.empty()) {
    body["regarding"]["uid"] = s.regarding.uid;
  }
  if (s.count > 1) {
    body["series"] = {{"count", s.count}, {"lastObservedTime", FormatMicroTime(s.last_time)}};
  }
  return body;
}

std::size_t EventRecorder::Flush() {
  std::lock_guard flush_lock(flush_mu_);
  std::vector<Write> writes;
  {
    std::lock_guard lock(mu_);
    auto now = clock_.SteadyNow();
    for (auto& [key, s] : series_) {
      if (s.suppressed || s.count == s.written_count) {
        continue;
      }
      bool create = !s.created;
      if (!create && now - s.last_write < options_.series_update_interval) {
        continue;
      }
      if (!TakeTokens(ObjectKeyOf(s.regarding), now)) {
        if (create) {
          s.suppressed = true;  // its repeats are dropped too, until the window ends
          metrics_.events_dropped.WithLabels({"rate_limited"}).Inc(s.count);
        }
        continue;  // a series update waits for tokens
      }
      if (create) {
        // "<object>.<hex>", as client-go names them; the sequence keeps names unique even when
        // two Events start in the same nanosecond.
        auto nanos =
            std::chrono::duration_cast<std::chrono::nanoseconds>(clock_.Now().time_since_epoch())
                .count();
        s.name = fmt::format("{}.{:x}", s.regarding.name.empty() ? "podiam" : s.regarding.name,
                             static_cast<std::uint64_t>(nanos) + sequence_++);
      }
      Write w{.key = key, .create = create, .snapshot = s};
      s.written_count = s.count;
      s.last_write = now;
      writes.push_back(std::move(w));
    }
    ForgetOldLocked(now);
  }
  for (const auto& w : writes) {
    const Series& s = w.snapshot;
    Result<Json> result =
        w.create
            ? api_.Create(resources::Events(), s.namespace_name, EventBody(s))
            : api_.MergePatch(
                  resources::Events(), s.namespace_name, s.name,
                  {{"series",
                    {{"count", s.count}, {"lastObservedTime", FormatMicroTime(s.last_time)}}}});
    std::lock_guard lock(mu_);
    auto it = series_.find(w.key);
    Series* live = it != series_.end() && it->second.name == s.name ? &it->second : nullptr;
    if (result) {
      metrics_.events_sent.WithLabels({w.create ? "create" : "patch"}).Inc();
      if (live != nullptr) {
        live->created = true;
      }
      continue;
    }
    if (!w.create && result.error().code() == ErrorCode::kNotFound) {
      // The Event expired (TTL) under us: start a fresh one carrying the whole count.
      if (live != nullptr) {
        live->created = false;
        live->written_count = 0;
      }
      continue;
    }
    metrics_.events_dropped.WithLabels({"error"}).Inc();
    log_.Warn("writing an Event failed", {{"reason", s.reason},
                                          {"namespace", s.namespace_name},
                                          {"object", s.regarding.name},
                                          {"error", result.error().ToString()}});
    if (live != nullptr) {
      if (w.create) {
        live->suppressed = true;  // do not hammer an apiserver that refuses (RBAC, quota)
        live->suppressed_reason = "error";
      } else {
        live->written_count = std::min(live->written_count, s.written_count);
      }
    }
  }
  return writes.size();
}

}  // namespace podiam::k8s
