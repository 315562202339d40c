#include "podiam/metrics/process.hpp"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace podiam::metrics {
namespace {

// Fields of /proc/self/stat after the command name (which may contain spaces).
std::vector<std::string> StatFields() {
  std::ifstream in("/proc/self/stat");
  std::string line;
  std::getline(in, line);
  auto close = line.rfind(')');
  if (close == std::string::npos) {
    return {};
  }
  std::istringstream rest(line.substr(close + 2));
  std::vector<std::string> fields;
  for (std::string f; rest >> f;) {
    fields.push_back(f);
  }
  return fields;
}

double CpuSeconds() {
  auto fields = StatFields();
  // utime and stime are fields 14 and 15 of stat; index 11 and 12 after the name.
  if (fields.size() < 13) {
    return 0;
  }
  double ticks = std::stod(fields[11]) + std::stod(fields[12]);
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

double StartTimeSeconds() {
  auto fields = StatFields();
  if (fields.size() < 20) {
    return 0;
  }
  double start_ticks = std::stod(fields[19]);
  std::ifstream stat("/proc/stat");
  std::string key;
  double btime = 0;
  while (stat >> key) {
    if (key == "btime") {
      stat >> btime;
      break;
    }
  }
  return btime + start_ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

}  // namespace

double ResidentMemoryBytes() {
  std::ifstream in("/proc/self/statm");
  double size = 0;
  double resident = 0;
  if (!(in >> size >> resident)) {
    return 0;
  }
  return resident * static_cast<double>(sysconf(_SC_PAGESIZE));
}

double OpenFileDescriptors() {
  std::error_code ec;
  double count = 0;
  for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    ++count;
  }
  return count;
}

void RegisterProcessMetrics(Registry& registry) {
  registry.AddCallbackGauge("process_resident_memory_bytes", "Resident memory size in bytes.",
                            ResidentMemoryBytes);
  registry.AddCallbackGauge("process_open_fds", "Number of open file descriptors.",
                            OpenFileDescriptors);
  registry.AddCallbackCounter("process_cpu_seconds_total",
                              "Total user and system CPU time spent in seconds.", CpuSeconds);
  registry.AddCallbackGauge("process_start_time_seconds",
                            "Start time of the process since unix epoch in seconds.",
                            StartTimeSeconds);
}

}  // namespace podiam::metrics
