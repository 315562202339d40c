// What every long-running subcommand does to its process first: take SIGTERM/SIGINT
// synchronously, and raise the open-file limit.
//
// Thread-safety: construct ShutdownSignals on the main thread before any thread starts (threads
// inherit the blocked mask); Wait() from that thread.
//
//   app::ShutdownSignals signals;          // first thing in RunX()
//   app::RaiseFileLimit();
//   ... start everything ...
//   int signal = signals.Wait();           // then stop in reverse order
#pragma once

#include <chrono>
#include <csignal>
#include <cstdint>
#include <optional>

namespace podiam::app {

class ShutdownSignals {
 public:
  // Blocks SIGTERM and SIGINT in the calling thread.
  ShutdownSignals();
  // Waits for one of them; returns its number.
  int Wait();
  // Waits at most `timeout` (for subcommands that poll between signals, e.g. oidc serve
  // re-reading its key files); nullopt when none came.
  std::optional<int> WaitFor(std::chrono::milliseconds timeout);

 private:
  sigset_t signals_{};
};

// Every pod may hold --max-connections-per-pod connections; the default soft limit of 1024
// descriptors would cut a busy node off long before that. Raises the soft limit to the hard
// limit, as the Go runtime does for kube2iam. Returns the soft limit now in force (0 when it
// cannot be read).
std::uint64_t RaiseFileLimit();

}  // namespace podiam::app
