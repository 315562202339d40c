#include "podiam/metrics/registry.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <variant>

namespace podiam::metrics {
namespace {

void AtomicAdd(std::atomic<double>& target, double by) {
  double current = target.load(std::memory_order_relaxed);
  while (!target.compare_exchange_weak(current, current + by, std::memory_order_relaxed)) {
  }
}

// `{a="x",b="y"}` (empty when there are no labels), optionally with one extra label (le).
std::string LabelSet(const std::vector<std::string>& names, const std::vector<std::string>& values,
                     std::string_view extra_name = {}, std::string_view extra_value = {}) {
  if (names.empty() && extra_name.empty()) {
    return {};
  }
  std::string out = "{";
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i > 0) {
      out += ',';
    }
    out += fmt::format("{}=\"{}\"", names[i], EscapeLabelValue(values[i]));
  }
  if (!extra_name.empty()) {
    if (!names.empty()) {
      out += ',';
    }
    out += fmt::format("{}=\"{}\"", extra_name, extra_value);
  }
  out += '}';
  return out;
}

std::string EscapeHelp(std::string_view help) {
  std::string out;
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

std::vector<double> LatencyBuckets() {
  return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

void Counter::Inc(double by) {
  if (by < 0) {
    return;  // counters never go down
  }
  AtomicAdd(value_, by);
}

void Gauge::Add(double by) { AtomicAdd(value_, by); }

Histogram::Histogram(const std::vector<double>& upper_bounds)
    : bounds_(upper_bounds),
      buckets_(std::make_unique<std::atomic<std::uint64_t>[]>(upper_bounds.size() + 1)) {
  std::sort(bounds_.begin(), bounds_.end());
}

void Histogram::Observe(double value) {
  auto it = std::lower_bound(bounds_.begin(), bounds_.end(), value);
  buckets_[static_cast<std::size_t>(it - bounds_.begin())].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  AtomicAdd(sum_, value);
}

std::vector<std::uint64_t> Histogram::BucketCounts() const {
  std::vector<std::uint64_t> out(bounds_.size() + 1);
  for (std::size_t i = 0; i < out.size(); ++i) {
    out[i] = buckets_[i].load(std::memory_order_relaxed);
  }
  return out;
}

template <typename M>
M& Family<M>::WithLabels(const std::vector<std::string>& values) {
  std::lock_guard lock(mu_);
  auto it = series_.find(values);
  if (it != series_.end()) {
    return *it->second;
  }
  std::vector<std::string> key = values;
  key.resize(label_names_.size());  // a wrong count is a programming error; never crash on it
  auto& slot = series_[key];
  if (!slot) {
    if constexpr (std::is_same_v<M, Histogram>) {
      slot = std::make_unique<M>(buckets_);
    } else {
      slot = std::make_unique<M>();
    }
  }
  return *slot;
}

template <typename M>
M& Family<M>::WithLabels(std::initializer_list<std::string_view> values) {
  return WithLabels(std::vector<std::string>(values.begin(), values.end()));
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

struct Registry::Entry {
  std::variant<std::unique_ptr<Family<Counter>>, std::unique_ptr<Family<Gauge>>,
               std::unique_ptr<Family<Histogram>>>
      family;
  // For callback gauges.
  std::string name;
  std::string help;
  std::function<double()> read;
  bool counter = false;
};

Registry::Registry() = default;
Registry::~Registry() = default;

void Registry::ClaimNameLocked(const std::string& name) {
  if (names_.insert(name).second) {
    return;
  }
  // Two families of one name make the whole exposition invalid (Prometheus rejects the scrape),
  // and it can only come from wiring code registering a metrics struct twice: a programming
  // error, found by the first test that builds that wiring.
  std::fprintf(stderr,
               "podiam: metrics::Registry: duplicate metric name '%s' (each metric is registered "
               "once, by the metrics.hpp struct of the library that owns it)\n",
               name.c_str());
  std::abort();
}

Family<Counter>& Registry::AddCounter(std::string name, std::string help,
                                      std::vector<std::string> label_names) {
  auto family =
      std::make_unique<Family<Counter>>(std::move(name), std::move(help), std::move(label_names));
  auto& ref = *family;
  std::lock_guard lock(mu_);
  ClaimNameLocked(ref.name());
  entries_.push_back(std::make_unique<Entry>(Entry{std::move(family), {}, {}, {}, false}));
  return ref;
}

Family<Gauge>& Registry::AddGauge(std::string name, std::string help,
                                  std::vector<std::string> label_names) {
  auto family =
      std::make_unique<Family<Gauge>>(std::move(name), std::move(help), std::move(label_names));
  auto& ref = *family;
  std::lock_guard lock(mu_);
  ClaimNameLocked(ref.name());
  entries_.push_back(std::make_unique<Entry>(Entry{std::move(family), {}, {}, {}, false}));
  return ref;
}

Family<Histogram>& Registry::AddHistogram(std::string name, std::string help,
                                          std::vector<std::string> label_names,
                                          std::vector<double> buckets) {
  auto family = std::make_unique<Family<Histogram>>(std::move(name), std::move(help),
                                                    std::move(label_names), std::move(buckets));
  auto& ref = *family;
  std::lock_guard lock(mu_);
  ClaimNameLocked(ref.name());
  entries_.push_back(std::make_unique<Entry>(Entry{std::move(family), {}, {}, {}, false}));
  return ref;
}

void Registry::AddCallbackGauge(std::string name, std::string help, std::function<double()> read) {
  std::lock_guard lock(mu_);
  ClaimNameLocked(name);
  entries_.push_back(std::make_unique<Entry>(Entry{
      std::unique_ptr<Family<Gauge>>{}, std::move(name), std::move(help), std::move(read), false}));
}

void Registry::AddCallbackCounter(std::string name, std::string help,
                                  std::function<double()> read) {
  std::lock_guard lock(mu_);
  ClaimNameLocked(name);
  entries_.push_back(std::make_unique<Entry>(Entry{
      std::unique_ptr<Family<Gauge>>{}, std::move(name), std::move(help), std::move(read), true}));
}

std::string Registry::Render() const {
  std::string out;
  std::lock_guard lock(mu_);
  for (const auto& entry : entries_) {
    if (entry->read) {
      out += fmt::format("# HELP {} {}\n# TYPE {} {}\n{} {}\n", entry->name,
                         EscapeHelp(entry->help), entry->name, entry->counter ? "counter" : "gauge",
                         entry->name, FormatValue(entry->read()));
      continue;
    }
    std::visit(
        [&out](const auto& family) {
          using F = std::decay_t<decltype(*family)>;
          const auto& name = family->name();
          const auto& names = family->label_names();
          if constexpr (std::is_same_v<F, Family<Counter>>) {
            out += fmt::format("# HELP {} {}\n# TYPE {} counter\n", name,
                               EscapeHelp(family->help()), name);
            family->ForEach([&](const auto& labels, const Counter& c) {
              out +=
                  fmt::format("{}{} {}\n", name, LabelSet(names, labels), FormatValue(c.Value()));
            });
          } else if constexpr (std::is_same_v<F, Family<Gauge>>) {
            out += fmt::format("# HELP {} {}\n# TYPE {} gauge\n", name, EscapeHelp(family->help()),
                               name);
            family->ForEach([&](const auto& labels, const Gauge& g) {
              out +=
                  fmt::format("{}{} {}\n", name, LabelSet(names, labels), FormatValue(g.Value()));
            });
          } else {
            out += fmt::format("# HELP {} {}\n# TYPE {} histogram\n", name,
                               EscapeHelp(family->help()), name);
            family->ForEach([&](const auto& labels, const Histogram& h) {
              auto counts = h.BucketCounts();
              std::uint64_t cumulative = 0;
              for (std::size_t i = 0; i < h.upper_bounds().size(); ++i) {
                cumulative += counts[i];
                out += fmt::format("{}_bucket{} {}\n", name,
                                   LabelSet(names, labels, "le", FormatValue(h.upper_bounds()[i])),
                                   cumulative);
              }
              cumulative += counts.back();
              out += fmt::format("{}_bucket{} {}\n", name, LabelSet(names, labels, "le", "+Inf"),
                                 cumulative);
              out +=
                  fmt::format("{}_sum{} {}\n", name, LabelSet(names, labels), FormatValue(h.Sum()));
              // _count equals the +Inf bucket, read once so a concurrent Observe cannot make the
              // two disagree.
              out += fmt::format("{}_count{} {}\n", name, LabelSet(names, labels), cumulative);
            });
          }
        },
        entry->family);
  }
  return out;
}

std::string EscapeLabelValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string FormatValue(double value) {
  if (std::isnan(value)) {
    return "NaN";
  }
  if (std::isinf(value)) {
    return value > 0 ? "+Inf" : "-Inf";
  }
  if (value == std::floor(value) && std::fabs(value) < 1e15) {
    return fmt::format("{}", static_cast<long long>(value));
  }
  return fmt::format("{}", value);
}

}  // namespace podiam::metrics
