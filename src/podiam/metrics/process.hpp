// Process metrics every podiam component exposes: resident memory, open file descriptors, CPU
// seconds and start time, read from /proc at scrape time (the names Prometheus client libraries
// use, so existing dashboards work).
//
// Thread-safety: registration once at start-up; the gauges are read under the Registry's lock.
//
//   metrics::RegisterProcessMetrics(registry);
#pragma once

#include "podiam/metrics/registry.hpp"

namespace podiam::metrics {

void RegisterProcessMetrics(Registry& registry);

// Current resident set size in bytes (0 when /proc is unreadable).
double ResidentMemoryBytes();
// Number of open file descriptors (0 when /proc is unreadable).
double OpenFileDescriptors();

}  // namespace podiam::metrics
