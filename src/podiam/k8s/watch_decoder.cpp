#include "podiam/k8s/watch_decoder.hpp"

#include <fmt/format.h>

#include <cstring>

namespace podiam::k8s {
namespace {

bool ParseType(std::string_view text, WatchEventType* type) {
  static constexpr std::pair<std::string_view, WatchEventType> kTypes[] = {
      {"ADDED", WatchEventType::kAdded},     {"MODIFIED", WatchEventType::kModified},
      {"DELETED", WatchEventType::kDeleted}, {"BOOKMARK", WatchEventType::kBookmark},
      {"ERROR", WatchEventType::kError},
  };
  for (const auto& [name, value] : kTypes) {
    if (name == text) {
      *type = value;
      return true;
    }
  }
  return false;
}

std::string_view TrimLine(std::string_view line) {
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) {
    line.remove_suffix(1);
  }
  while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) {
    line.remove_prefix(1);
  }
  return line;
}

}  // namespace

Result<WatchEvent> ParseWatchEvent(std::string_view line) {
  Json parsed = Json::parse(line.begin(), line.end(), nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded() || !parsed.is_object()) {
    return MakeError(ErrorCode::kUpstreamInvalid,
                     fmt::format("watch stream: not a JSON object ({} bytes)", line.size()));
  }
  WatchEvent event;
  auto type = parsed.find("type");
  if (type == parsed.end() || !type->is_string() ||
      !ParseType(type->get_ref<const std::string&>(), &event.type)) {
    return MakeError(ErrorCode::kUpstreamInvalid, "watch stream: event without a known type");
  }
  auto object = parsed.find("object");
  if (object == parsed.end() || !object->is_object()) {
    return MakeError(ErrorCode::kUpstreamInvalid, "watch stream: event without an object");
  }
  event.object = std::move(*object);
  return event;
}

Result<bool> WatchDecoder::Emit(std::string_view line,
                                const std::function<bool(WatchEvent&&)>& on_event) {
  line = TrimLine(line);
  if (line.empty()) {
    return true;  // blank keep-alive lines are harmless
  }
  auto event = ParseWatchEvent(line);
  if (!event) {
    return tl::unexpected(event.error());
  }
  return on_event(std::move(*event));
}

Result<bool> WatchDecoder::Feed(std::string_view chunk,
                                const std::function<bool(WatchEvent&&)>& on_event) {
  while (!chunk.empty()) {
    const void* found = std::memchr(chunk.data(), '\n', chunk.size());
    if (found == nullptr) {
      if (pending_.size() + chunk.size() > max_event_bytes_) {
        pending_.clear();
        return MakeError(ErrorCode::kUpstreamInvalid,
                         fmt::format("watch stream: event larger than {} bytes", max_event_bytes_));
      }
      pending_.append(chunk);
      return true;
    }
    auto end = static_cast<std::size_t>(static_cast<const char*>(found) - chunk.data());
    Result<bool> more = true;
    if (pending_.empty()) {
      // The common case: the whole event is inside this chunk; parse it in place.
      more = Emit(chunk.substr(0, end), on_event);
    } else {
      if (pending_.size() + end > max_event_bytes_) {
        pending_.clear();
        return MakeError(ErrorCode::kUpstreamInvalid,
                         fmt::format("watch stream: event larger than {} bytes", max_event_bytes_));
      }
      pending_.append(chunk.substr(0, end));
      more = Emit(pending_, on_event);
      pending_.clear();
    }
    chunk.remove_prefix(end + 1);
    if (!more || !*more) {
      return more;
    }
  }
  return true;
}

}  // namespace podiam::k8s
