// WatchDecoder: incremental parsing of a watch stream. The apiserver sends one JSON object per
// line ({"type":"ADDED","object":{...}}\n); the transport hands the body over in pieces that may
// split an event anywhere, even inside a UTF-8 sequence. The decoder keeps the unfinished tail
// and emits each complete event exactly once, copying only when an event spans chunks.
//
// Thread-safety: one decoder per stream, used by one thread.
//
//   k8s::WatchDecoder decoder;
//   http.Stream(request, [&](std::string_view chunk) {
//     auto more = decoder.Feed(chunk, [&](k8s::WatchEvent&& e) { return Handle(std::move(e)); });
//     return more.value_or(false);  // stop reading on a malformed event or when told to
//   });
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

#include "podiam/base/error.hpp"
#include "podiam/k8s/kube_api.hpp"

namespace podiam::k8s {

// Parses one line of a watch stream. kUpstreamInvalid when it is not a watch event.
Result<WatchEvent> ParseWatchEvent(std::string_view line);

class WatchDecoder {
 public:
  // A Pod is rarely above 100 KB; the cap bounds memory if a stream never sends a newline.
  static constexpr std::size_t kDefaultMaxEventBytes = std::size_t{16} << 20U;

  explicit WatchDecoder(std::size_t max_event_bytes = kDefaultMaxEventBytes)
      : max_event_bytes_(max_event_bytes) {}

  // Emits every event completed by `chunk`. Returns false when on_event asked to stop (the rest
  // of the chunk is dropped), true to go on; kUpstreamInvalid for a malformed or oversized event.
  Result<bool> Feed(std::string_view chunk, const std::function<bool(WatchEvent&&)>& on_event);

  // Bytes of an unfinished event held back (non-zero at the end of a stream means truncation).
  [[nodiscard]] std::size_t pending_bytes() const { return pending_.size(); }

 private:
  Result<bool> Emit(std::string_view line, const std::function<bool(WatchEvent&&)>& on_event);

  std::size_t max_event_bytes_;
  std::string pending_;
};

}  // namespace podiam::k8s
