// Endpoints: the podiam server URLs of `--server URL[,URL…]` in the operator's order, then those
// discovered from the Service's EndpointSlices (`--server-service`, SetDiscovered(); the set
// changes while the agent runs), each with its own backoff. Pick() gives the URLs to try now, in
// that order, skipping those backing off; Failed() starts or doubles a URL's backoff (base
// doubling to max, times a jitter factor in [0.5, 1) from the injected Random); Succeeded()
// clears it. SetDiscovered() keeps the backoff of URLs that stay and forgets those that go.
//
// Thread-safety: every method may be called from any thread (one mutex; Random is called only
// under it, so a non-thread-safe fake is fine).
//
//   serverclient::Endpoints endpoints({"https://a:8443", "https://b:8443"}, clock, random, {});
//   for (const std::string& url : endpoints.Pick()) { ...; endpoints.Failed(url); }
#pragma once

#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "podiam/base/clock.hpp"
#include "podiam/base/error.hpp"
#include "podiam/base/random.hpp"

namespace podiam::serverclient {

// `--server` values: each a comma-separated list of https base URLs ("https://host[:port]", no
// path, query or user info). kInvalidArgument naming the bad one; an empty list is an error.
Result<std::vector<std::string>> ParseServerUrls(const std::vector<std::string>& values);

// `--server-service NAMESPACE/NAME[:PORT]`: the podiam server's Service, whose EndpointSlices
// the agent watches. `port` is a port name or number as given (empty: the port named "https", or
// the only one). kInvalidArgument for anything else (names are DNS-1123 labels).
struct ServiceRef {
  std::string namespace_name;
  std::string name;
  std::string port;
  // What the server's certificate must name when an endpoint's IP is connected to.
  [[nodiscard]] std::string DnsName() const { return name + "." + namespace_name + ".svc"; }
};
Result<ServiceRef> ParseServiceRef(std::string_view value);

struct BackoffOptions {
  std::chrono::milliseconds base{1000};
  std::chrono::milliseconds max{30000};
};

class Endpoints {
 public:
  Endpoints(std::vector<std::string> urls, const Clock& clock, Random& random,
            BackoffOptions options);

  // Replaces the discovered URLs (tried after the configured ones, in the given order; a URL
  // also configured stays where it was configured).
  void SetDiscovered(const std::vector<std::string>& urls);
  // The URLs not backing off now: configured, then discovered.
  [[nodiscard]] std::vector<std::string> Pick() const;
  // Every current URL, backing off or not, in the same order.
  [[nodiscard]] std::vector<std::string> All() const;
  // The URL came from SetDiscovered() (and is not configured).
  [[nodiscard]] bool Discovered(const std::string& url) const;
  // When the first backed-off URL becomes available again (nullopt when none backs off).
  [[nodiscard]] std::optional<Clock::SteadyTime> NextAvailable() const;
  // Returns the URL's consecutive failures, this one included (1: it was healthy); 0 for a URL
  // that is not (or no longer) current.
  int Failed(const std::string& url);
  // Returns whether the URL had failed before (it recovered).
  bool Succeeded(const std::string& url);
  [[nodiscard]] std::size_t BackingOff() const;
  // The configured URLs (--server).
  [[nodiscard]] const std::vector<std::string>& urls() const { return urls_; }

 private:
  struct State {
    int failures = 0;
    Clock::SteadyTime until{};
  };
  [[nodiscard]] std::vector<std::string> AllLocked() const;

  const std::vector<std::string> urls_;
  const Clock& clock_;
  Random& random_;
  const BackoffOptions options_;
  mutable std::mutex mu_;
  std::vector<std::string> discovered_;            // not in urls_
  std::unordered_map<std::string, State> states_;  // one per current URL
};

}  // namespace podiam::serverclient
