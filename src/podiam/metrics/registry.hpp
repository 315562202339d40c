// Metrics: a Registry of counters, gauges and histograms with labels, rendered in the Prometheus
// text exposition format (version 0.0.4).
//
// Each library declares its metrics once, in its own <folder>/metrics.hpp, as a struct built from
// a Registry that the composition root passes in. No registration at static-init time.
// Naming: `podiam_` prefix, base units (`_seconds`, `_bytes`), `_total` for counters. Label values
// must be bounded (never pod names, IPs or session names).
//
// Every metric name is registered once: a second Add*() of a name already taken (any kind) prints
// the name to stderr and aborts, in every build, since the exposition would be invalid.
//
// Thread-safety: everything is safe from any thread. Hot paths should keep the reference that
// WithLabels() returns (stable for the Registry's lifetime) instead of looking it up per event.
//
//   metrics::Registry registry;
//   auto& requests = registry.AddCounter("podiam_http_requests_total", "HTTP requests served.",
//                                        {"route", "code"});
//   requests.WithLabels({"credentials", "200"}).Inc();
//   auto& latency = registry.AddHistogram("podiam_sts_call_duration_seconds", "STS latency.",
//                                         {"action"}, metrics::LatencyBuckets());
//   latency.WithLabels({"AssumeRole"}).Observe(0.042);
//   std::string text = registry.Render();
#pragma once

#include <atomic>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace podiam::metrics {

// Seconds: 0.5 ms to 10 s, good for both loopback handlers and upstream calls.
std::vector<double> LatencyBuckets();

class Counter {
 public:
  void Inc(double by = 1.0);
  [[nodiscard]] double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

class Gauge {
 public:
  void Set(double value) { value_.store(value, std::memory_order_relaxed); }
  void Add(double by);
  [[nodiscard]] double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

class Histogram {
 public:
  explicit Histogram(const std::vector<double>& upper_bounds);
  void Observe(double value);

  [[nodiscard]] const std::vector<double>& upper_bounds() const { return bounds_; }
  // Non-cumulative count per bucket; the last one is +Inf.
  [[nodiscard]] std::vector<std::uint64_t> BucketCounts() const;
  [[nodiscard]] std::uint64_t Count() const { return count_.load(std::memory_order_relaxed); }
  [[nodiscard]] double Sum() const { return sum_.load(std::memory_order_relaxed); }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;  // bounds_.size() + 1
  std::atomic<std::uint64_t> count_{0};
  std::atomic<double> sum_{0.0};
};

// All series of one metric name, keyed by label values.
template <typename M>
class Family {
 public:
  Family(std::string name, std::string help, std::vector<std::string> label_names,
         std::vector<double> buckets = {})
      : name_(std::move(name)),
        help_(std::move(help)),
        label_names_(std::move(label_names)),
        buckets_(std::move(buckets)) {}

  // The series with these label values (as many as label names; created on first use). The
  // reference stays valid for the Family's lifetime.
  M& WithLabels(std::initializer_list<std::string_view> values);
  M& WithLabels(const std::vector<std::string>& values);
  // The series of a metric without labels.
  M& Get() { return WithLabels(std::initializer_list<std::string_view>{}); }

  [[nodiscard]] const std::string& name() const { return name_; }
  [[nodiscard]] const std::string& help() const { return help_; }
  [[nodiscard]] const std::vector<std::string>& label_names() const { return label_names_; }

  // Calls f(label_values, series) for every series, in label order.
  template <typename F>
  void ForEach(F&& f) const {
    std::lock_guard lock(mu_);
    for (const auto& [labels, series] : series_) {
      f(labels, *series);
    }
  }

 private:
  std::string name_;
  std::string help_;
  std::vector<std::string> label_names_;
  std::vector<double> buckets_;
  mutable std::mutex mu_;
  std::map<std::vector<std::string>, std::unique_ptr<M>> series_;
};

class Registry {
 public:
  Registry();
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  Family<Counter>& AddCounter(std::string name, std::string help,
                              std::vector<std::string> label_names = {});
  Family<Gauge>& AddGauge(std::string name, std::string help,
                          std::vector<std::string> label_names = {});
  Family<Histogram>& AddHistogram(std::string name, std::string help,
                                  std::vector<std::string> label_names,
                                  std::vector<double> buckets = LatencyBuckets());
  // A gauge read at render time (open file descriptors, cache sizes, RSS).
  void AddCallbackGauge(std::string name, std::string help, std::function<double()> read);
  // A counter read at render time (CPU seconds, totals kept by another library).
  void AddCallbackCounter(std::string name, std::string help, std::function<double()> read);

  // Prometheus text format 0.0.4, metrics in registration order.
  [[nodiscard]] std::string Render() const;

 private:
  struct Entry;
  // Aborts when `name` is taken (see the top of this file).
  void ClaimNameLocked(const std::string& name);

  mutable std::mutex mu_;
  std::vector<std::unique_ptr<Entry>> entries_;
  std::set<std::string> names_;
};

extern template class Family<Counter>;
extern template class Family<Gauge>;
extern template class Family<Histogram>;

// Escapes a label value for the text format (backslash, quote, newline).
std::string EscapeLabelValue(std::string_view value);
// Formats a sample value as Prometheus does: integers without a fraction, +Inf/-Inf/NaN.
std::string FormatValue(double value);

}  // namespace podiam::metrics
