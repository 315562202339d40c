#include "podiam/serverclient/endpoints.hpp"

#include <algorithm>

#include "podiam/http/message.hpp"

namespace podiam::serverclient {

Result<std::vector<std::string>> ParseServerUrls(const std::vector<std::string>& values) {
  std::vector<std::string> out;
  for (const std::string& value : values) {
    std::string_view rest = value;
    while (!rest.empty()) {
      const auto comma = rest.find(',');
      std::string_view item = rest.substr(0, comma);
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
      if (item.empty()) {
        continue;
      }
      auto url = http::ParseUrl(item);
      if (!url) {
        return tl::unexpected(url.error().Wrap("--server " + std::string(item)));
      }
      if (!url->tls()) {
        return MakeError(
            ErrorCode::kInvalidArgument,
            "--server " + std::string(item) + ": the podiam server is reached over https only");
      }
      if (url->target != "/") {
        return MakeError(ErrorCode::kInvalidArgument,
                         "--server " + std::string(item) +
                             ": give the server's base URL (https://host[:port]), without a path "
                             "or query");
      }
      std::string base = std::string(item);
      while (!base.empty() && base.back() == '/') {
        base.pop_back();
      }
      if (std::find(out.begin(), out.end(), base) == out.end()) {
        out.push_back(std::move(base));
      }
    }
  }
  if (out.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "--server: no URL given");
  }
  return out;
}

Endpoints::Endpoints(std::vector<std::string> urls, const Clock& clock, Random& random,
                     BackoffOptions options)
    : urls_(std::move(urls)),
      clock_(clock),
      random_(random),
      options_(options),
      states_(urls_.size()) {}

std::vector<std::string> Endpoints::Pick() const {
  const Clock::SteadyTime now = clock_.SteadyNow();
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  for (std::size_t i = 0; i < urls_.size(); ++i) {
    if (now >= states_[i].until) {
      out.push_back(urls_[i]);
    }
  }
  return out;
}

std::optional<Clock::SteadyTime> Endpoints::NextAvailable() const {
  const Clock::SteadyTime now = clock_.SteadyNow();
  std::lock_guard lock(mu_);
  std::optional<Clock::SteadyTime> out;
  for (const State& s : states_) {
    if (now < s.until && (!out || s.until < *out)) {
      out = s.until;
    }
  }
  return out;
}

Endpoints::State* Endpoints::Find(const std::string& url) {
  auto it = std::find(urls_.begin(), urls_.end(), url);
  return it == urls_.end() ? nullptr : &states_[static_cast<std::size_t>(it - urls_.begin())];
}

int Endpoints::Failed(const std::string& url) {
  const Clock::SteadyTime now = clock_.SteadyNow();
  std::lock_guard lock(mu_);
  State* s = Find(url);
  if (s == nullptr) {
    return 0;
  }
  s->failures = std::min(s->failures + 1, 30);
  auto delay = options_.base;
  for (int i = 1; i < s->failures && delay < options_.max; ++i) {
    delay *= 2;
  }
  delay = std::min(delay, options_.max);
  const double jitter = 0.5 + 0.5 * random_.Uniform01();
  s->until = now + std::chrono::duration_cast<std::chrono::nanoseconds>(delay * jitter);
  return s->failures;
}

bool Endpoints::Succeeded(const std::string& url) {
  std::lock_guard lock(mu_);
  State* s = Find(url);
  if (s == nullptr) {
    return false;
  }
  const bool recovered = s->failures > 0;
  *s = State{};
  return recovered;
}

std::size_t Endpoints::BackingOff() const {
  const Clock::SteadyTime now = clock_.SteadyNow();
  std::lock_guard lock(mu_);
  return static_cast<std::size_t>(std::count_if(states_.begin(), states_.end(),
                                                [now](const State& s) { return now < s.until; }));
}

}  // namespace podiam::serverclient
