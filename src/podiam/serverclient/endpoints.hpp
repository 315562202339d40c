// Endpoints: the podiam server URLs of `--server URL[,URL…]` in the operator's order, each with
// its own backoff. Pick() gives the URLs to try now, in order, skipping those backing off;
// Failed() starts or doubles a URL's backoff (base doubling to max, times a jitter factor in
// [0.5, 1) from the injected Random); Succeeded() clears it.
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
#include <vector>

#include "podiam/base/clock.hpp"
#include "podiam/base/error.hpp"
#include "podiam/base/random.hpp"

namespace podiam::serverclient {

// `--server` values: each a comma-separated list of https base URLs ("https://host[:port]", no
// path, query or user info). kInvalidArgument naming the bad one; an empty list is an error.
Result<std::vector<std::string>> ParseServerUrls(const std::vector<std::string>& values);

struct BackoffOptions {
  std::chrono::milliseconds base{1000};
  std::chrono::milliseconds max{30000};
};

class Endpoints {
 public:
  Endpoints(std::vector<std::string> urls, const Clock& clock, Random& random,
            BackoffOptions options);

  // The URLs not backing off now, in the configured order.
  [[nodiscard]] std::vector<std::string> Pick() const;
  // When the first backed-off URL becomes available again (nullopt when none backs off).
  [[nodiscard]] std::optional<Clock::SteadyTime> NextAvailable() const;
  // Returns the URL's consecutive failures, this one included (1: it was healthy).
  int Failed(const std::string& url);
  // Returns whether the URL had failed before (it recovered).
  bool Succeeded(const std::string& url);
  [[nodiscard]] std::size_t BackingOff() const;
  [[nodiscard]] const std::vector<std::string>& urls() const { return urls_; }

 private:
  struct State {
    int failures = 0;
    Clock::SteadyTime until{};
  };
  State* Find(const std::string& url);

  const std::vector<std::string> urls_;
  const Clock& clock_;
  Random& random_;
  const BackoffOptions options_;
  mutable std::mutex mu_;
  std::vector<State> states_;  // parallel to urls_
};

}  // namespace podiam::serverclient
