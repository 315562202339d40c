// EventRecorder: Kubernetes Events about podiam's decisions ("role denied for this pod"), written
// as events.k8s.io/v1 Events (docs/protocols.md#events; preferred, they are the same objects as
// core v1 Events), without letting a hot failure flood the apiserver:
//
// - Aggregation: a repeat of the same (object, type, reason, action, note) within
//   aggregation_window folds into the existing Event's `series` {count, lastObservedTime}
//   instead of a new Event. Series updates are sent at most every series_update_interval (30 s,
//   as client-go), carrying every repeat since the last one.
// - Rate limits: every write (create or series patch) takes a token from the regarded object's
//   bucket (burst 25, one per 5 min: client-go's spam filter) and from a global bucket. A new
//   Event without tokens is dropped, and so are its repeats until its window ends
//   (podiam_k8s_events_dropped_total{reason="rate_limited"}); a series update without tokens
//   just waits, so counts arrive late rather than never.
// - Record() never talks to the apiserver: it updates local state and wakes a writer thread
//   (Start/Stop), or tests call Flush() on their own thread.
//
// Thread-safety: Record() from any thread; Flush() from one thread at a time (the writer thread
// once started).
//
//   k8s::EventRecorder events(api, clock, k8s_metrics,
//                             {.reporting_instance = "podiam-agent-" + node});
//   events.Start();
//   events.Record({.api_version = "v1", .kind = "Pod", .namespace_name = ns, .name = pod,
//                  .uid = uid}, k8s::EventType::kWarning, "RoleDenied", "AssumeRole",
//                 "namespace team-a does not allow role admin");
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>

#include "podiam/base/clock.hpp"
#include "podiam/base/log.hpp"
#include "podiam/k8s/kube_api.hpp"
#include "podiam/k8s/metrics.hpp"
#include "podiam/k8s/timestamps.hpp"
#include "podiam/k8s/token_bucket.hpp"

namespace podiam::k8s {

struct ObjectReference {
  std::string api_version = "v1";
  std::string kind;  // "Pod"
  std::string namespace_name;
  std::string name;
  std::string uid;
};

enum class EventType { kNormal, kWarning };

struct EventRecorderOptions {
  std::string reporting_controller = "podiam.io/agent";
  std::string reporting_instance;  // e.g. "podiam-agent-<node>"; at most 128 characters
  std::chrono::seconds aggregation_window{360};
  std::chrono::seconds series_update_interval{30};
  double object_burst = 25;
  double object_per_second = 1.0 / 300;
  double global_burst = 100;
  double global_per_second = 1.0;
  std::size_t max_series = 4096;                  // oldest forgotten beyond this
  std::chrono::milliseconds writer_period{1000};  // how often the writer looks for due updates
};

class EventRecorder {
 public:
  EventRecorder(KubeApi& api, const Clock& clock, K8sMetrics& metrics,
                EventRecorderOptions options);
  ~EventRecorder();
  EventRecorder(const EventRecorder&) = delete;
  EventRecorder& operator=(const EventRecorder&) = delete;

  void Record(const ObjectReference& regarding, EventType type, std::string_view reason,
              std::string_view action, std::string_view note);

  void Start();
  // Stops the writer after a last Flush().
  void Stop();
  // Writes what is due now; returns the number of API writes attempted.
  std::size_t Flush();

  // For tests: the number of series currently tracked.
  [[nodiscard]] std::size_t series_count() const;

 private:
  struct Series {
    ObjectReference regarding;
    EventType type = EventType::kNormal;
    std::string reason, action, note;
    std::string name;  // metadata.name of the Event, once chosen
    std::string namespace_name;
    int count = 0;          // occurrences in this window
    int written_count = 0;  // what the apiserver has
    WallTime first_time{};
    WallTime last_time{};
    Clock::SteadyTime last_seen{};
    Clock::SteadyTime last_write{};
    bool created = false;
    bool suppressed = false;  // create failed: drop repeats until the window ends
    const char* suppressed_reason = "rate_limited";
  };
  struct Write {
    std::string key;
    bool create = false;
    Series snapshot;
  };

  Json EventBody(const Series& s) const;
  bool TakeTokens(const std::string& object_key, Clock::SteadyTime now);
  void ForgetOldLocked(Clock::SteadyTime now);
  void Loop();

  KubeApi& api_;
  const Clock& clock_;
  K8sMetrics& metrics_;
  EventRecorderOptions options_;
  log::Logger log_{"k8s.events"};
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, Series> series_;
  std::unordered_map<std::string, TokenBucket> object_buckets_;
  TokenBucket global_bucket_;
  std::uint64_t sequence_ = 0;
  bool stopping_ = false;
  std::thread thread_;
  std::mutex flush_mu_;
};

}  // namespace podiam::k8s
