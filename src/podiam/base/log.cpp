#include "podiam/base/log.hpp"

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <openssl/sha.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <utility>

namespace podiam::log {
namespace {

std::atomic<Level> g_level{Level::kInfo};
std::atomic<Format> g_format{Format::kText};

std::mutex g_sink_mu;
std::shared_ptr<spdlog::logger> g_logger;  // guarded by g_sink_mu for replacement
std::ostringstream* g_capture = nullptr;   // guarded by g_sink_mu

std::shared_ptr<spdlog::logger> MakeStderrLogger() {
  auto logger =
      std::make_shared<spdlog::logger>("podiam", std::make_shared<spdlog::sinks::stderr_sink_mt>());
  logger->set_pattern("%v");
  logger->set_level(spdlog::level::trace);
  logger->flush_on(spdlog::level::trace);
  return logger;
}

std::shared_ptr<spdlog::logger> CurrentSink() {
  std::lock_guard lock(g_sink_mu);
  if (!g_logger) {
    g_logger = MakeStderrLogger();
  }
  return g_logger;
}

// '=' is excluded: it only pads the end of a run, and it separates keys from values.
bool IsBase64Char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '+' || c == '/';
}
bool IsBase64UrlChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '_';
}

// A long run of base64 characters with mixed case and digits: AWS secret keys are 40 such
// characters, session tokens hundreds. Lowercase-and-dash names (roles, pods) never match.
bool LooksLikeOpaqueSecret(std::string_view run) {
  if (run.size() < 40) {
    return false;
  }
  bool upper = false;
  bool lower = false;
  bool digit = false;
  for (char c : run) {
    upper = upper || std::isupper(static_cast<unsigned char>(c)) != 0;
    lower = lower || std::islower(static_cast<unsigned char>(c)) != 0;
    digit = digit || std::isdigit(static_cast<unsigned char>(c)) != 0;
  }
  return upper && lower && digit;
}

constexpr std::array<std::string_view, 9> kSecretKeys = {"secretaccesskey",
                                                         "sessiontoken",
                                                         "token",
                                                         "authorization",
                                                         "x-aws-ec2-metadata-token",
                                                         "password",
                                                         "secret",
                                                         "x-amz-security-token",
                                                         "bearer"};

bool EndsWithSecretKey(std::string_view before) {
  // `before` ends right before a separator; take the trailing identifier, case-insensitively.
  std::size_t end = before.size();
  while (end > 0 && (before[end - 1] == '"' || before[end - 1] == '\'' || before[end - 1] == ' ')) {
    --end;
  }
  std::size_t start = end;
  while (start > 0) {
    char c = before[start - 1];
    if (std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '_') {
      --start;
    } else {
      break;
    }
  }
  std::string key(before.substr(start, end - start));
  std::transform(key.begin(), key.end(), key.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return std::find(kSecretKeys.begin(), kSecretKeys.end(), key) != kSecretKeys.end();
}

}  // namespace

Field::Field(std::string_view k, double v) : key(k), value(fmt::format("{}", v)) {}

std::optional<Level> ParseLevel(std::string_view text) {
  static constexpr std::array<std::pair<std::string_view, Level>, 7> kNames = {{
      {"trace", Level::kTrace},
      {"debug", Level::kDebug},
      {"info", Level::kInfo},
      {"warn", Level::kWarn},
      {"warning", Level::kWarn},
      {"error", Level::kError},
      {"off", Level::kOff},
  }};
  for (const auto& [name, level] : kNames) {
    if (name == text) {
      return level;
    }
  }
  return std::nullopt;
}

std::optional<Format> ParseFormat(std::string_view text) {
  if (text == "text") {
    return Format::kText;
  }
  if (text == "json") {
    return Format::kJson;
  }
  return std::nullopt;
}

std::string_view LevelName(Level level) {
  switch (level) {
    case Level::kTrace:
      return "trace";
    case Level::kDebug:
      return "debug";
    case Level::kInfo:
      return "info";
    case Level::kWarn:
      return "warn";
    case Level::kError:
      return "error";
    case Level::kOff:
      return "off";
  }
  return "unknown";
}

std::string Mask(std::string_view secret) {
  std::array<unsigned char, SHA256_DIGEST_LENGTH> digest{};
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): OpenSSL takes unsigned char*.
  SHA256(reinterpret_cast<const unsigned char*>(secret.data()), secret.size(), digest.data());
  return fmt::format("<redacted len={} fp={:02x}{:02x}{:02x}{:02x}>", secret.size(), digest[0],
                     digest[1], digest[2], digest[3]);
}

Field Secret(std::string_view key, std::string_view value) { return {key, Mask(value)}; }

std::string Scrub(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    // JWT: three base64url segments joined by dots, starting with the encoded '{"'.
    if (text.compare(i, 3, "eyJ") == 0) {
      std::size_t j = i;
      int dots = 0;
      while (j < text.size() && (IsBase64UrlChar(text[j]) || text[j] == '.')) {
        dots += text[j] == '.' ? 1 : 0;
        ++j;
      }
      if (dots >= 2 && j - i >= 20) {
        out += "<redacted:jwt>";
        i = j;
        continue;
      }
    }
    // Value after a secret key: `Token: v`, `"SecretAccessKey":"v"`, `token=v`.
    if ((text[i] == ':' || text[i] == '=') && EndsWithSecretKey(text.substr(0, i))) {
      out += text[i];
      std::size_t j = i + 1;
      while (j < text.size() && (text[j] == ' ' || text[j] == '"' || text[j] == '\'')) {
        out += text[j];
        ++j;
      }
      // "Bearer <token>": keep the scheme, redact the credential.
      if (text.compare(j, 7, "Bearer ") == 0) {
        out += "Bearer ";
        j += 7;
      }
      std::size_t k = j;
      while (k < text.size() && text[k] != '"' && text[k] != '\'' && text[k] != ',' &&
             text[k] != ' ' && text[k] != '&' && text[k] != '}' && text[k] != '\n') {
        ++k;
      }
      if (k > j) {
        out += "<redacted>";
      }
      i = k;
      continue;
    }
    if (IsBase64Char(text[i])) {
      std::size_t j = i;
      while (j < text.size() && IsBase64Char(text[j])) {
        ++j;
      }
      std::size_t padded = j;
      while (padded < text.size() && text[padded] == '=' && padded - j < 2) {
        ++padded;
      }
      if (padded > j && LooksLikeOpaqueSecret(text.substr(i, j - i))) {
        j = padded;
      }
      std::string_view run = text.substr(i, j - i);
      if (LooksLikeOpaqueSecret(run)) {
        out += "<redacted>";
      } else {
        out.append(run);
      }
      i = j;
      continue;
    }
    out += text[i];
    ++i;
  }
  return out;
}

std::string FormatLine(Format format, Level level, std::string_view component,
                       std::chrono::system_clock::time_point when, std::string_view message,
                       std::initializer_list<Field> fields) {
  auto millis = std::chrono::time_point_cast<std::chrono::milliseconds>(when);
  std::string ts = fmt::format("{:%Y-%m-%dT%H:%M:%S}Z", millis);
  if (format == Format::kJson) {
    nlohmann::ordered_json line;
    line["ts"] = ts;
    line["level"] = LevelName(level);
    line["component"] = component;
    line["msg"] = Scrub(message);
    for (const auto& f : fields) {
      line[f.key] = Scrub(f.value);
    }
    return line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  std::string out = fmt::format("{} {:<5} {}: {}", ts, LevelName(level), component, Scrub(message));
  for (const auto& f : fields) {
    std::string value = Scrub(f.value);
    bool quote = value.empty() || value.find_first_of(" \"=\t\n") != std::string::npos;
    if (quote) {
      // Values come from upstreams too (an STS error message): invalid UTF-8 must not throw.
      out += fmt::format(
          " {}={}", f.key,
          nlohmann::json(value).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    } else {
      out += fmt::format(" {}={}", f.key, value);
    }
  }
  return out;
}

void Configure(const Options& options) {
  g_level.store(options.level);
  g_format.store(options.format);
}

Level CurrentLevel() { return g_level.load(); }

bool Logger::Enabled(Level level) const {
  return level != Level::kOff && level >= g_level.load(std::memory_order_relaxed);
}

void Logger::Log(Level level, std::string_view message, std::initializer_list<Field> fields) const {
  if (!Enabled(level)) {
    return;
  }
  std::string line = FormatLine(g_format.load(std::memory_order_relaxed), level, component_,
                                std::chrono::system_clock::now(), message, fields);
  {
    std::lock_guard lock(g_sink_mu);
    if (g_capture != nullptr) {
      *g_capture << line << '\n';
      return;
    }
  }
  CurrentSink()->info("{}", line);
}

namespace {
// Guarded by g_sink_mu. Function-local so that nothing can throw during static initialisation.
std::ostringstream& CaptureBuffer() {
  static std::ostringstream buffer;
  return buffer;
}
}  // namespace

Capture::Capture() {
  std::lock_guard lock(g_sink_mu);
  CaptureBuffer().str({});
  g_capture = &CaptureBuffer();
}

Capture::~Capture() {
  std::lock_guard lock(g_sink_mu);
  g_capture = nullptr;
}

std::string Capture::Text() const {
  std::lock_guard lock(g_sink_mu);
  return CaptureBuffer().str();
}

}  // namespace podiam::log
