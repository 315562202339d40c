// Logging facade over spdlog: one Logger per component, structured key/value fields, text or JSON
// lines on stderr, and masking so that credentials and tokens never reach a log.
//
// Secrets are kept out of logs twice over: values known to be secret are passed as
// log::Secret(...) and printed only as a fingerprint, and every message and field value is
// scrubbed of anything that looks like a JWT, an AWS secret key or a session token.
//
// Thread-safety: Logger methods may be called from any thread. Configure() is meant to be called
// once at start-up, before other threads log.
//
//   podiam::log::Logger log("agent");
//   log.Info("credentials served", {{"namespace", ns}, {"pod", pod}, {"role", role}});
//   log.Warn("token rejected", {log::Secret("token", token)});
#pragma once

#include <chrono>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

namespace podiam::log {

enum class Level { kTrace, kDebug, kInfo, kWarn, kError, kOff };
enum class Format { kText, kJson };

std::optional<Level> ParseLevel(std::string_view text);
std::optional<Format> ParseFormat(std::string_view text);
std::string_view LevelName(Level level);

struct Field {
  Field(std::string_view k, std::string_view v) : key(k), value(v) {}
  Field(std::string_view k, const char* v) : key(k), value(v) {}
  Field(std::string_view k, const std::string& v) : key(k), value(v) {}
  Field(std::string_view k, long long v) : key(k), value(std::to_string(v)) {}
  Field(std::string_view k, int v) : key(k), value(std::to_string(v)) {}
  Field(std::string_view k, unsigned long v) : key(k), value(std::to_string(v)) {}
  Field(std::string_view k, unsigned long long v) : key(k), value(std::to_string(v)) {}
  Field(std::string_view k, double v);
  Field(std::string_view k, bool v) : key(k), value(v ? "true" : "false") {}

  std::string key;
  std::string value;
};

// A field whose value is a secret: logged as "<redacted len=N fp=xxxxxxxx>", where fp is the
// first 8 hex digits of its SHA-256, enough to correlate two log lines, useless to an attacker.
Field Secret(std::string_view key, std::string_view value);

// The fingerprint form used by Secret().
std::string Mask(std::string_view secret);

// Replaces anything that looks like a credential inside free text: JWTs (eyJ...x.y.z), AWS session
// tokens and secret keys (long base64 runs), and the values after well-known secret keys
// ("SecretAccessKey", "Token", "Authorization", "X-aws-ec2-metadata-token", ...).
std::string Scrub(std::string_view text);

// Pure formatting of one line (no trailing newline). Exposed for tests.
std::string FormatLine(Format format, Level level, std::string_view component,
                       std::chrono::system_clock::time_point when, std::string_view message,
                       std::initializer_list<Field> fields);

struct Options {
  Format format = Format::kText;
  Level level = Level::kInfo;
};

// Sets the process-wide format and level (the logger is podiam's only singleton).
void Configure(const Options& options);
Level CurrentLevel();

class Logger {
 public:
  explicit Logger(std::string component) : component_(std::move(component)) {}

  [[nodiscard]] bool Enabled(Level level) const;
  void Log(Level level, std::string_view message, std::initializer_list<Field> fields = {}) const;

  void Trace(std::string_view m, std::initializer_list<Field> f = {}) const {
    Log(Level::kTrace, m, f);
  }
  void Debug(std::string_view m, std::initializer_list<Field> f = {}) const {
    Log(Level::kDebug, m, f);
  }
  void Info(std::string_view m, std::initializer_list<Field> f = {}) const {
    Log(Level::kInfo, m, f);
  }
  void Warn(std::string_view m, std::initializer_list<Field> f = {}) const {
    Log(Level::kWarn, m, f);
  }
  void Error(std::string_view m, std::initializer_list<Field> f = {}) const {
    Log(Level::kError, m, f);
  }

  [[nodiscard]] const std::string& component() const { return component_; }

 private:
  std::string component_;
};

// Test hook: capture formatted lines instead of writing them to stderr (nullptr restores).
class Capture {
 public:
  Capture();
  ~Capture();
  Capture(const Capture&) = delete;
  Capture& operator=(const Capture&) = delete;
  [[nodiscard]] std::string Text() const;
};

}  // namespace podiam::log
