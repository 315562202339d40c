#include "podiam/k8s/informer.hpp"

#include <algorithm>
#include <cmath>
// Under AddressSanitizer malloc is ASan's, and glibc's own arenas are set up lazily by the first
// malloc_trim call; two informers listing at once race in that set-up and crash. Trimming would
// free nothing there anyway, so sanitized builds skip it.
#if defined(__SANITIZE_ADDRESS__)
#define PODIAM_TRIM_AFTER_LIST 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PODIAM_TRIM_AFTER_LIST 0
#endif
#endif
#if !defined(PODIAM_TRIM_AFTER_LIST) && defined(__GLIBC__)
#define PODIAM_TRIM_AFTER_LIST 1
#include <malloc.h>
#endif
#if !defined(PODIAM_TRIM_AFTER_LIST)
#define PODIAM_TRIM_AFTER_LIST 0
#endif

namespace podiam::k8s {

Informer::Informer(KubeApi& api, InformerSink& sink, K8sMetrics& metrics, const Clock& clock,
                   Random& random, InformerOptions options)
    : api_(api),
      sink_(sink),
      metrics_(metrics),
      clock_(clock),
      random_(random),
      options_(std::move(options)),
      resource_label_(options_.resource.plural) {}

Informer::~Informer() { Stop(); }

void Informer::Start() {
  loop_.Start([this](const std::stop_token& stop) { Run(stop); });
}

void Informer::Stop() { loop_.Stop(); }

bool Informer::WaitForSync(std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mu_);
  return synced_cv_.wait_for(lock, timeout, [this] { return synced_.load(); });
}

std::string Informer::resource_version() const {
  std::lock_guard lock(mu_);
  return resource_version_;
}

void Informer::SetResourceVersion(const std::string& rv) {
  if (rv.empty()) {
    return;
  }
  std::lock_guard lock(mu_);
  resource_version_ = rv;
}

void Informer::UpdateGauges() {
  metrics_.informer_objects.WithLabels({resource_label_}).Set(static_cast<double>(sink_.Size()));
  metrics_.informer_bytes.WithLabels({resource_label_})
      .Set(static_cast<double>(sink_.MemoryBytes()));
}

std::chrono::milliseconds Informer::Backoff(int failures) {
  double cap = static_cast<double>(options_.max_backoff.count());
  double base = static_cast<double>(options_.initial_backoff.count()) *
                std::pow(2.0, std::min(failures - 1, 30));
  double delay = std::min(cap, base);
  // Equal jitter: never less than half the delay, so backoff still backs off.
  return std::chrono::milliseconds(
      static_cast<std::int64_t>(delay / 2 + delay / 2 * random_.Uniform01()));
}

void Informer::Sleep(std::chrono::milliseconds delay, const std::stop_token& stop) {
  if (options_.sleep) {
    options_.sleep(delay);
    return;
  }
  loop_.Sleep(delay, stop);
}

Result<void> Informer::Relist() {
  sink_.BeginList();
  ListOptions list{.label_selector = options_.label_selector,
                   .field_selector = options_.field_selector,
                   .limit = options_.page_size};
  std::size_t items = 0;
  auto rv = ListAll(
      api_, options_.resource, options_.namespace_name, list,
      [&](Json&& item) {
        ++items;
        sink_.ListItem(std::move(item));
      },
      [&] {
        log_.Info("list continue token expired; listing again without pages",
                  {{"resource", resource_label_}});
        items = 0;
        sink_.BeginList();
      });
  if (!rv) {
    metrics_.list_failures.WithLabels({resource_label_}).Inc();
    return tl::unexpected(rv.error());
  }
  std::size_t deltas = sink_.EndList();
  SetResourceVersion(*rv);
  need_list_ = false;
  if (listed_once_) {
    log_.Info("relisted", {{"resource", resource_label_},
                           {"objects", items},
                           {"changes", deltas},
                           {"resource_version", *rv}});
  } else {
    log_.Info("listed",
              {{"resource", resource_label_}, {"objects", items}, {"resource_version", *rv}});
  }
  listed_once_ = true;
  UpdateGauges();
#if PODIAM_TRIM_AFTER_LIST
  // A list parses whole pages into JSON trees, all freed by now, but glibc keeps their pages.
  // Hand them back: for a node agent that is most of what a list costs in RSS (measured with
  // scripts/bench: 1.7 of 5.4 MiB of anonymous memory after listing 110 pods). Lists are rare.
  ::malloc_trim(0);
#endif
  if (!synced_.exchange(true)) {
    metrics_.informer_synced.WithLabels({resource_label_}).Set(1);
    std::lock_guard lock(mu_);
    synced_cv_.notify_all();
  }
  return Ok();
}

Result<void> Informer::WatchOnce(const std::stop_token& stop) {
  auto timeout = options_.watch_timeout.count();
  WatchOptions watch{
      .resource_version = resource_version(),
      .label_selector = options_.label_selector,
      .field_selector = options_.field_selector,
      .allow_bookmarks = true,
      .timeout = std::chrono::seconds(
          timeout + static_cast<std::int64_t>(static_cast<double>(timeout) * random_.Uniform01())),
      .stop = stop};
  auto& added = metrics_.watch_events.WithLabels({resource_label_, "ADDED"});
  auto& modified = metrics_.watch_events.WithLabels({resource_label_, "MODIFIED"});
  auto& deleted = metrics_.watch_events.WithLabels({resource_label_, "DELETED"});
  auto& bookmarks = metrics_.watch_events.WithLabels({resource_label_, "BOOKMARK"});
  return api_.Watch(options_.resource, options_.namespace_name, watch, [&](WatchEvent&& event) {
    const Json* meta = Find(event.object, "metadata");
    std::string rv = meta != nullptr ? StringAt(*meta, "resourceVersion") : std::string();
    switch (event.type) {
      case WatchEventType::kBookmark:
        bookmarks.Inc();
        break;
      case WatchEventType::kAdded:
      case WatchEventType::kModified:
      case WatchEventType::kDeleted:
        (event.type == WatchEventType::kAdded      ? added
         : event.type == WatchEventType::kModified ? modified
                                                   : deleted)
            .Inc();
        ++events_;
        sink_.Event(event.type, std::move(event.object));
        UpdateGauges();
        break;
      case WatchEventType::kError:
        break;  // adapters turn these into errors
    }
    SetResourceVersion(rv);
    return !stop.stop_requested();
  });
}

void Informer::Run(const std::stop_token& stop) {
  int failures = 0;
  while (!stop.stop_requested()) {
    if (need_list_) {
      auto listed = Relist();
      if (!listed) {
        ++failures;
        auto delay = Backoff(failures);
        log_.Warn("list failed; retrying",
                  {{"resource", resource_label_},
                   {"error", listed.error().ToString()},
                   {"retry_in_ms", static_cast<long long>(delay.count())}});
        Sleep(delay, stop);
        continue;
      }
      failures = 0;
    }
    auto started = clock_.SteadyNow();
    std::uint64_t events_before = events_;
    auto watched = WatchOnce(stop);
    if (stop.stop_requested()) {
      break;
    }
    if (!watched && IsGone(watched.error())) {
      // Our resourceVersion is older than the apiserver keeps: only a new list can tell us what
      // we missed. No backoff: the list itself is the remedy, and it backs off if it fails.
      metrics_.watch_restarts.WithLabels({resource_label_, "gone"}).Inc();
      metrics_.relists.WithLabels({resource_label_, "gone"}).Inc();
      log_.Info("watch expired; relisting",
                {{"resource", resource_label_}, {"error", watched.error().ToString()}});
      need_list_ = true;
      continue;
    }
    bool progressed = events_ != events_before;
    bool brief = clock_.SteadyNow() - started < std::chrono::seconds(1);
    if (!watched) {
      metrics_.watch_restarts.WithLabels({resource_label_, "error"}).Inc();
      failures = progressed ? 1 : failures + 1;
      auto delay = Backoff(failures);
      log_.Warn("watch failed; retrying", {{"resource", resource_label_},
                                           {"error", watched.error().ToString()},
                                           {"retry_in_ms", static_cast<long long>(delay.count())}});
      Sleep(delay, stop);
      continue;
    }
    metrics_.watch_restarts.WithLabels({resource_label_, "closed"}).Inc();
    if (progressed || !brief) {
      failures = 0;
      continue;
    }
    ++failures;
    Sleep(Backoff(failures), stop);
  }
}

}  // namespace podiam::k8s
