// Fuzzes k8s::WatchDecoder with a watch stream cut into arbitrary chunks, and the object views
// (PodFromJson, NamespaceFromJson, ServiceAccountFromJson, ParseTime) on every event it yields.
//
// Input layout (docs/fuzzing.md):
//   byte 0   bits 0-2 number of cuts (0-7), bit 3 a 64-byte event limit (else the default 16 MiB),
//            bit 4 the consumer stops after the first event
//   n bytes  chunk lengths (0-255) for the cuts; the last chunk is whatever remains
//   rest     the stream: JSON watch events, one per line
//
// Invariants: with the default limit, chunking changes nothing: the events (type and object),
// the error and the bytes left pending equal those of a reference that splits the whole stream at
// '\n' and parses each trimmed line with ParseWatchEvent; with a small limit the decoder never
// holds more than the limit; a consumer's stop is honoured at once. A Pod view has a name and
// namespace, canonical IPs and only the kept annotations; a creationTimestamp that parses formats
// back to the same instant.
#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz/fuzz_input.hpp"
#include "podiam/k8s/timestamps.hpp"
#include "podiam/k8s/views.hpp"
#include "podiam/k8s/watch_decoder.hpp"

namespace podiam::k8s {
namespace {

constexpr std::size_t kSmallLimit = 64;

struct Outcome {
  std::vector<WatchEvent> events;
  bool failed = false;
  std::size_t pending = 0;
};

std::string_view Trim(std::string_view line) {
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) {
    line.remove_suffix(1);
  }
  while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) {
    line.remove_prefix(1);
  }
  return line;
}

// What the decoder must do, written the obvious way: whole lines, no buffering.
Outcome Reference(std::string_view stream, bool stop_after_first) {
  Outcome out;
  for (auto nl = stream.find('\n'); nl != std::string_view::npos; nl = stream.find('\n')) {
    std::string_view line = Trim(stream.substr(0, nl));
    stream.remove_prefix(nl + 1);
    if (line.empty()) {
      continue;
    }
    auto event = ParseWatchEvent(line);
    if (!event) {
      out.failed = true;
      return out;
    }
    out.events.push_back(std::move(*event));
    if (stop_after_first) {
      return out;
    }
  }
  out.pending = stream.size();
  return out;
}

bool SameEvents(const std::vector<WatchEvent>& a, const std::vector<WatchEvent>& b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i].type != b[i].type || a[i].object != b[i].object) {
      return false;
    }
  }
  return true;
}

void CheckViews(const Json& object) {
  static const AnnotationFilter kKeep({"iam.amazonaws.com/role", "iam.amazonaws.com/*"});
  if (auto pod = PodFromJson(object, kKeep)) {
    FUZZ_CHECK(!pod->name.empty() && !pod->namespace_name.empty(), "pod without name/namespace");
    for (const auto& ip : pod->pod_ips) {
      FUZZ_CHECK(CanonicalIp(ip) == ip, "pod IP not in canonical form");
    }
    for (const auto& [key, value] : pod->annotations) {
      FUZZ_CHECK(key.starts_with("iam.amazonaws.com/"), "an annotation the filter does not keep");
    }
    FUZZ_CHECK(pod->MemoryBytes() >= sizeof(PodView), "MemoryBytes below the object size");
    FUZZ_CHECK(pod->Key() == ObjectKey(object), "Key() differs from ObjectKey()");
  }
  if (auto ns = NamespaceFromJson(object, kKeep)) {
    FUZZ_CHECK(!ns->name.empty(), "namespace without a name");
  }
  if (auto sa = ServiceAccountFromJson(object, kKeep)) {
    FUZZ_CHECK(!sa->name.empty() && !sa->namespace_name.empty(), "SA without name/namespace");
  }
  if (const Json* meta = Find(object, "metadata")) {
    for (const char* key : {"creationTimestamp", "deletionTimestamp"}) {
      if (auto t = ParseTime(StringAt(*meta, key))) {
        auto micro = ParseTime(FormatMicroTime(*t));
        FUZZ_CHECK(micro && *micro == std::chrono::floor<std::chrono::microseconds>(*t),
                   "FormatMicroTime() does not round-trip");
        auto whole = ParseTime(FormatTime(*t));
        FUZZ_CHECK(whole && *whole == std::chrono::floor<std::chrono::seconds>(*t),
                   "FormatTime() does not round-trip");
      }
    }
  }
}

}  // namespace
}  // namespace podiam::k8s

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace podiam;       // NOLINT(google-build-using-namespace)
  using namespace podiam::k8s;  // NOLINT(google-build-using-namespace)
  fuzz::Input in(data, size);
  std::uint8_t flags = in.Byte();
  std::vector<std::size_t> cuts(flags & 7U);
  for (auto& c : cuts) {
    c = in.Byte();
  }
  bool small = (flags & 8U) != 0;
  bool stop_after_first = (flags & 16U) != 0;
  std::string_view stream = in.Rest();

  WatchDecoder decoder(small ? kSmallLimit : WatchDecoder::kDefaultMaxEventBytes);
  Outcome got;
  bool stopped = false;
  auto on_event = [&](WatchEvent&& e) {
    FUZZ_CHECK(!stopped, "an event after the consumer said stop");
    got.events.push_back(std::move(e));
    stopped = stop_after_first;
    return !stop_after_first;
  };
  std::string_view left = stream;
  for (std::size_t i = 0; i <= cuts.size() && !got.failed && !stopped; ++i) {
    std::size_t n = i < cuts.size() ? std::min(cuts[i], left.size()) : left.size();
    // A copy, so that ASan sees any read past the chunk or any use of it after Feed returns.
    std::string chunk(left.substr(0, n));
    left.remove_prefix(n);
    auto more = decoder.Feed(chunk, on_event);
    got.failed = !more.has_value();
    FUZZ_CHECK(!more || *more == !stopped, "Feed() result disagrees with the consumer");
    if (small) {
      FUZZ_CHECK(decoder.pending_bytes() <= kSmallLimit, "decoder holds more than its limit");
    }
  }
  got.pending = decoder.pending_bytes();

  for (const auto& e : got.events) {
    CheckViews(e.object);
  }
  if (!small) {
    Outcome want = Reference(stream, stop_after_first);
    FUZZ_CHECK(SameEvents(got.events, want.events), "chunking changed the events");
    FUZZ_CHECK(got.failed == want.failed, "chunking changed whether the stream is malformed");
    if (!got.failed && !stopped) {
      FUZZ_CHECK(got.pending == want.pending, "chunking changed the pending bytes");
    }
  }
  return 0;
}
