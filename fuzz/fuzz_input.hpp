// Helpers shared by the libFuzzer targets in fuzz/: a reader that turns the fuzzer's bytes into
// structured pieces (a flag byte, a line, the rest), and a CHECK that aborts with a message so that
// libFuzzer records a broken invariant as a crash and keeps the input.
//
// Thread-safety: none needed; each target runs single-threaded.
//
//   fuzz::Input in(data, size);
//   std::uint8_t flags = in.Byte();
//   std::string_view path = in.Line();   // up to '\n' (not included), or the rest
//   FUZZ_CHECK(ok, "what went wrong");
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace podiam::fuzz {

class Input {
 public:
  Input(const std::uint8_t* data, std::size_t size)
      : rest_(reinterpret_cast<const char*>(data), size) {}  // NOLINT: bytes as text

  // Next byte, or 0 once the input is used up.
  std::uint8_t Byte() {
    if (rest_.empty()) {
      return 0;
    }
    auto b = static_cast<std::uint8_t>(rest_.front());
    rest_.remove_prefix(1);
    return b;
  }

  // Text up to the next '\n' (which is consumed, not returned), or everything left.
  std::string_view Line() {
    auto nl = rest_.find('\n');
    std::string_view line = rest_.substr(0, nl);
    rest_.remove_prefix(nl == std::string_view::npos ? rest_.size() : nl + 1);
    return line;
  }

  // Everything not read yet.
  std::string_view Rest() {
    std::string_view all = rest_;
    rest_ = {};
    return all;
  }

  [[nodiscard]] bool empty() const { return rest_.empty(); }
  [[nodiscard]] std::string_view peek() const { return rest_; }

 private:
  std::string_view rest_;
};

[[noreturn]] inline void CheckFailed(const char* expr, const char* what, const char* file,
                                     int line) {
  std::fprintf(stderr, "%s:%d: invariant broken: %s (%s)\n", file, line, what, expr);
  std::abort();
}

}  // namespace podiam::fuzz

// Aborts (a crash to libFuzzer) when `cond` is false. Kept as a macro for the file and line.
#define FUZZ_CHECK(cond, what)                                      \
  do {                                                              \
    if (!(cond)) {                                                  \
      ::podiam::fuzz::CheckFailed(#cond, what, __FILE__, __LINE__); \
    }                                                               \
  } while (false)
