// Cache<V>: an informer's local copy of one resource, as compact views V (views.hpp), with
// add/update/delete handlers and hooks for secondary indexes (PodCache adds IP, ServiceAccount and
// namespace indexes). An Informer feeds it through the InformerSink interface.
//
// Semantics podiam relies on:
// - A relist (BeginList/ListItem/EndList) replaces the contents atomically for readers and emits
//   synthetic deltas: deletes for objects gone, adds for new ones, updates for changed ones
//   (resourceVersion differs), nothing for unchanged ones. Deletes come first, so a handler sees
//   an IP released before it is claimed again. No object is lost or reported twice.
// - An object whose uid changed under the same name (deleted and re-created while we were not
//   watching) is reported as delete(old) + add(new), never as an update: it is another pod.
// - ADDED/MODIFIED for an object already held at the same resourceVersion is ignored.
// - Objects that cannot be converted are skipped and logged (skipped() counts them).
//
// Thread-safety: readers (Get, List, Size, index queries) may run on any thread concurrently
// (shared lock); the informer thread writes (exclusive lock). Handlers run on the informer thread
// after the write, outside the lock, so they may query the cache. Add handlers before the
// informer starts.
//
//   k8s::NamespaceCache namespaces({.annotation_keys = {"iam.amazonaws.com/*"}});
//   namespaces.AddHandlers({.on_update = [](const auto& old_ns, const auto& new_ns) { ... }});
//   k8s::Informer informer(api, namespaces, metrics, clock, random,
//                          {.resource = k8s::resources::Namespaces()});
//   informer.Start();
//   auto ns = namespaces.Get("team-a");  // shared_ptr<const NamespaceView>, or nullptr
#pragma once

#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "podiam/base/log.hpp"
#include "podiam/k8s/kube_api.hpp"
#include "podiam/k8s/views.hpp"

namespace podiam::k8s {

// What an Informer writes into.
class InformerSink {
 public:
  virtual ~InformerSink() = default;
  // A (re)list starts: forget anything staged by an earlier, unfinished one.
  virtual void BeginList() = 0;
  virtual void ListItem(Json&& object) = 0;
  // The list is complete: replace the contents. Returns the number of deltas it produced.
  virtual std::size_t EndList() = 0;
  // A watch event (ADDED, MODIFIED or DELETED).
  virtual void Event(WatchEventType type, Json&& object) = 0;
  [[nodiscard]] virtual std::size_t Size() const = 0;
  [[nodiscard]] virtual std::size_t MemoryBytes() const = 0;
};

template <typename V>
struct CacheHandlers {
  using Ptr = std::shared_ptr<const V>;
  std::function<void(const Ptr& added)> on_add;
  std::function<void(const Ptr& old_object, const Ptr& new_object)> on_update;
  std::function<void(const Ptr& deleted)> on_delete;
};

struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

template <typename V>
class Cache : public InformerSink {
 public:
  using Ptr = std::shared_ptr<const V>;
  using Converter = std::function<Result<V>(const Json&)>;

  Cache(Converter convert, std::string kind)
      : convert_(std::move(convert)), kind_(std::move(kind)), log_("k8s.cache") {}
  ~Cache() override = default;
  Cache(const Cache&) = delete;
  Cache& operator=(const Cache&) = delete;

  void AddHandlers(CacheHandlers<V> handlers) { handlers_.push_back(std::move(handlers)); }

  // By key: "namespace/name", or "name" for cluster-scoped kinds.
  [[nodiscard]] Ptr Get(std::string_view key) const {
    std::shared_lock lock(mu_);
    auto it = items_.find(key);
    return it == items_.end() ? nullptr : it->second;
  }
  [[nodiscard]] std::vector<Ptr> List() const {
    std::shared_lock lock(mu_);
    std::vector<Ptr> out;
    out.reserve(items_.size());
    for (const auto& [key, item] : items_) {
      out.push_back(item);
    }
    return out;
  }
  [[nodiscard]] std::size_t Size() const override {
    std::shared_lock lock(mu_);
    return items_.size();
  }
  // Views, keys, hash-table overhead and indexes; an estimate, not an allocator count.
  [[nodiscard]] std::size_t MemoryBytes() const override {
    std::shared_lock lock(mu_);
    return bytes_ + items_.bucket_count() * sizeof(void*) + IndexBytes();
  }
  [[nodiscard]] std::size_t skipped() const { return skipped_.load(); }
  // The view this cache would keep of `object`, without storing it: for readers that fetched an
  // object themselves and must leave the informer's cache to the informer.
  [[nodiscard]] Result<V> ViewOf(const Json& object) const { return convert_(object); }

  // InformerSink.
  void BeginList() override { staged_.clear(); }
  void ListItem(Json&& object) override {
    if (auto view = Convert(object)) {
      auto ptr = std::make_shared<const V>(std::move(*view));
      std::string key = ptr->Key();
      staged_.emplace_back(std::move(key), std::move(ptr));
    }
  }
  std::size_t EndList() override {
    std::vector<Delta> deltas;
    {
      std::unique_lock lock(mu_);
      deltas = ReplaceLocked();
    }
    staged_.clear();
    staged_.shrink_to_fit();
    Dispatch(deltas);
    return deltas.size();
  }
  void Event(WatchEventType type, Json&& object) override {
    if (type == WatchEventType::kDeleted) {
      std::string key = ObjectKey(object);
      Erase(key, MetadataString(object, "uid"));
      return;
    }
    if (auto view = Convert(object)) {
      Upsert(std::move(*view));
    }
  }

  // Direct writes (what Event does), for tests and benchmarks.
  void Upsert(V view) {
    auto ptr = std::make_shared<const V>(std::move(view));
    std::string key = ptr->Key();
    std::vector<Delta> deltas;
    {
      std::unique_lock lock(mu_);
      auto it = items_.find(key);
      if (it == items_.end()) {
        InsertLocked(key, ptr);
        deltas.push_back({nullptr, ptr});
      } else if (it->second->uid != ptr->uid) {
        Ptr old = it->second;
        RemoveLocked(it);
        InsertLocked(key, ptr);
        deltas.push_back({old, nullptr});
        deltas.push_back({nullptr, ptr});
      } else if (it->second->resource_version != ptr->resource_version) {
        Ptr old = it->second;
        RemoveLocked(it);
        InsertLocked(key, ptr);
        deltas.push_back({old, ptr});
      }
    }
    Dispatch(deltas);
  }
  // Removes `key` if present (and, when uid is given, only that incarnation).
  void Erase(std::string_view key, std::string_view uid = {}) {
    Ptr old;
    {
      std::unique_lock lock(mu_);
      auto it = items_.find(key);
      if (it == items_.end() || (!uid.empty() && it->second->uid != uid)) {
        return;
      }
      old = it->second;
      RemoveLocked(it);
    }
    Dispatch({{old, nullptr}});
  }

 protected:
  // Keep secondary indexes in step; called with the exclusive lock held.
  virtual void IndexAdd(const Ptr& /*object*/) {}
  virtual void IndexRemove(const Ptr& /*object*/) {}
  [[nodiscard]] virtual std::size_t IndexBytes() const { return 0; }

  // Index queries of subclasses take this lock shared.
  mutable std::shared_mutex mu_;  // NOLINT(misc-non-private-member-variables-in-classes)

 private:
  struct Delta {
    Ptr old_object;  // null: added
    Ptr new_object;  // null: deleted
  };
  using Map = std::unordered_map<std::string, Ptr, StringHash, std::equal_to<>>;
  // Hash node (next pointer, cached hash), key, value and make_shared's control block.
  static constexpr std::size_t kEntryOverhead =
      2 * sizeof(void*) + sizeof(std::string) + sizeof(Ptr) + 2 * sizeof(long);

  static std::size_t EntryBytes(const std::string& key, const V& view) {
    return kEntryOverhead + StringHeapBytes(key) + view.MemoryBytes();
  }

  Result<V> Convert(const Json& object) {
    auto view = convert_(object);
    if (!view) {
      skipped_.fetch_add(1);
      log_.Warn("skipping an object that cannot be read",
                {{"kind", kind_}, {"key", ObjectKey(object)}, {"error", view.error().ToString()}});
    }
    return view;
  }

  void InsertLocked(const std::string& key, const Ptr& ptr) {
    // Counted with the map's own copy of the key, as RemoveLocked() will: `key` itself (built
    // by operator+) may have a larger capacity, and that difference would add up forever.
    auto slot = items_.insert_or_assign(key, ptr).first;
    bytes_ += EntryBytes(slot->first, *ptr);
    IndexAdd(ptr);
  }
  void RemoveLocked(typename Map::iterator it) {
    bytes_ -= EntryBytes(it->first, *it->second);
    IndexRemove(it->second);
    items_.erase(it);
  }

  std::vector<Delta> ReplaceLocked() {
    std::vector<Delta> deletes;
    std::vector<Delta> others;
    Map next;
    next.reserve(staged_.size());
    std::size_t bytes = 0;
    for (auto& [key, ptr] : staged_) {
      auto it = items_.find(key);
      Ptr kept = ptr;
      if (it == items_.end()) {
        others.push_back({nullptr, ptr});
      } else if (it->second->uid != ptr->uid) {
        deletes.push_back({it->second, nullptr});
        others.push_back({nullptr, ptr});
      } else if (it->second->resource_version != ptr->resource_version) {
        others.push_back({it->second, ptr});
      } else {
        kept = it->second;  // unchanged: readers keep the very same object
      }
      auto [slot, inserted] = next.insert_or_assign(key, kept);
      if (inserted) {
        bytes += EntryBytes(slot->first, *kept);
      }
    }
    for (const auto& [key, old] : items_) {
      if (!next.contains(key)) {
        deletes.push_back({old, nullptr});
      }
    }
    for (const auto& d : deletes) {
      IndexRemove(d.old_object);
    }
    for (const auto& d : others) {
      if (d.old_object) {
        IndexRemove(d.old_object);
      }
      IndexAdd(d.new_object);
    }
    items_ = std::move(next);
    bytes_ = bytes;
    deletes.insert(deletes.end(), others.begin(), others.end());
    return deletes;
  }

  void Dispatch(const std::vector<Delta>& deltas) const {
    for (const auto& h : handlers_) {
      for (const auto& d : deltas) {
        if (!d.old_object && h.on_add) {
          h.on_add(d.new_object);
        } else if (!d.new_object && h.on_delete) {
          h.on_delete(d.old_object);
        } else if (d.old_object && d.new_object && h.on_update) {
          h.on_update(d.old_object, d.new_object);
        }
      }
    }
  }

  Converter convert_;
  std::string kind_;
  log::Logger log_;
  std::vector<CacheHandlers<V>> handlers_;
  Map items_;
  std::size_t bytes_ = 0;
  std::vector<std::pair<std::string, Ptr>> staged_;  // informer thread only
  std::atomic<std::size_t> skipped_{0};
};

struct NamespaceCacheOptions {
  std::vector<std::string> annotation_keys;  // exact keys, or prefixes ending in '*'
};

class NamespaceCache final : public Cache<NamespaceView> {
 public:
  explicit NamespaceCache(const NamespaceCacheOptions& options = {})
      : Cache([keep = AnnotationFilter(options.annotation_keys)](
                  const Json& o) { return NamespaceFromJson(o, keep); },
              "Namespace") {}
  [[nodiscard]] Ptr Namespace(std::string_view name) const { return Get(name); }
};

struct ServiceAccountCacheOptions {
  std::vector<std::string> annotation_keys;
};

class ServiceAccountCache final : public Cache<ServiceAccountView> {
 public:
  explicit ServiceAccountCache(const ServiceAccountCacheOptions& options = {})
      : Cache([keep = AnnotationFilter(options.annotation_keys)](
                  const Json& o) { return ServiceAccountFromJson(o, keep); },
              "ServiceAccount") {}
  [[nodiscard]] Ptr ServiceAccount(std::string_view namespace_name, std::string_view name) const {
    std::string key(namespace_name);
    key += '/';
    key += name;
    return Get(key);
  }
};

}  // namespace podiam::k8s
