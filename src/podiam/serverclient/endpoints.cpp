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

Result<ServiceRef> ParseServiceRef(std::string_view value) {
  auto bad = [&](const std::string& why) -> Result<ServiceRef> {
    return MakeError(ErrorCode::kInvalidArgument,
                     "--server-service " + std::string(value) + ": " + why +
                         " (want NAMESPACE/NAME[:PORT], PORT a port name or number)");
  };
  const auto slash = value.find('/');
  if (slash == std::string_view::npos) {
    return bad("no namespace");
  }
  ServiceRef out{.namespace_name = std::string(value.substr(0, slash))};
  std::string_view rest = value.substr(slash + 1);
  if (const auto colon = rest.find(':'); colon != std::string_view::npos) {
    out.port = std::string(rest.substr(colon + 1));
    rest = rest.substr(0, colon);
    if (out.port.empty()) {
      return bad("empty port");
    }
  }
  out.name = std::string(rest);
  // DNS-1123 labels: lower-case alphanumerics and '-', starting and ending alphanumeric, <= 63.
  auto label = [](std::string_view s) {
    if (s.empty() || s.size() > 63 || s.front() == '-' || s.back() == '-') {
      return false;
    }
    return std::all_of(s.begin(), s.end(), [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
    });
  };
  if (!label(out.namespace_name) || !label(out.name)) {
    return bad("namespace and name must be DNS labels");
  }
  if (!out.port.empty() && !label(out.port)) {
    return bad("bad port '" + out.port + "'");
  }
  if (std::all_of(out.port.begin(), out.port.end(), [](char c) { return c >= '0' && c <= '9'; }) &&
      !out.port.empty() &&
      (out.port.size() > 5 || std::stoi(out.port) < 1 || std::stoi(out.port) > 65535)) {
    return bad("port out of range");
  }
  return out;
}

Endpoints::Endpoints(std::vector<std::string> urls, const Clock& clock, Random& random,
                     BackoffOptions options)
    : urls_(std::move(urls)), clock_(clock), random_(random), options_(options) {
  for (const std::string& url : urls_) {
    states_.emplace(url, State{});
  }
}

std::vector<std::string> Endpoints::AllLocked() const {
  std::vector<std::string> out = urls_;
  out.insert(out.end(), discovered_.begin(), discovered_.end());
  return out;
}

void Endpoints::SetDiscovered(const std::vector<std::string>& urls) {
  std::lock_guard lock(mu_);
  discovered_.clear();
  for (const std::string& url : urls) {
    if (std::find(urls_.begin(), urls_.end(), url) == urls_.end() &&
        std::find(discovered_.begin(), discovered_.end(), url) == discovered_.end()) {
      discovered_.push_back(url);
    }
  }
  std::unordered_map<std::string, State> states;
  for (const std::string& url : AllLocked()) {
    auto it = states_.find(url);
    states.emplace(url, it == states_.end() ? State{} : it->second);
  }
  states_ = std::move(states);
}

std::vector<std::string> Endpoints::All() const {
  std::lock_guard lock(mu_);
  return AllLocked();
}

bool Endpoints::Discovered(const std::string& url) const {
  std::lock_guard lock(mu_);
  return std::find(discovered_.begin(), discovered_.end(), url) != discovered_.end();
}

std::vector<std::string> Endpoints::Pick() const {
  const Clock::SteadyTime now = clock_.SteadyNow();
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  for (std::string& url : AllLocked()) {
    if (now >= states_.at(url).until) {
      out.push_back(std::move(url));
    }
  }
  return out;
}

std::optional<Clock::SteadyTime> Endpoints::NextAvailable() const {
  const Clock::SteadyTime now = clock_.SteadyNow();
  std::lock_guard lock(mu_);
  std::optional<Clock::SteadyTime> out;
  for (const auto& [url, s] : states_) {
    if (now < s.until && (!out || s.until < *out)) {
      out = s.until;
    }
  }
  return out;
}

int Endpoints::Failed(const std::string& url) {
  const Clock::SteadyTime now = clock_.SteadyNow();
  std::lock_guard lock(mu_);
  auto it = states_.find(url);
  if (it == states_.end()) {
    return 0;
  }
  State* s = &it->second;
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
  auto it = states_.find(url);
  if (it == states_.end()) {
    return false;
  }
  const bool recovered = it->second.failures > 0;
  it->second = State{};
  return recovered;
}

std::size_t Endpoints::BackingOff() const {
  const Clock::SteadyTime now = clock_.SteadyNow();
  std::lock_guard lock(mu_);
  return static_cast<std::size_t>(
      std::count_if(states_.begin(), states_.end(),
                    [now](const auto& entry) { return now < entry.second.until; }));
}

}  // namespace podiam::serverclient
