// FakeKubeApi: a working in-memory apiserver behind the k8s::KubeApi port, for unit tests of
// informers, leader election, events and anything built on them. It keeps objects per resource,
// a global resourceVersion counter and a change history, and implements the semantics podiam
// depends on:
//   - list with label/field selectors (=, ==, !=, existence) and limit/continue pagination;
//   - watch from a resourceVersion, replaying history then blocking for new changes; objects
//     entering or leaving a selector arrive as ADDED/DELETED; BOOKMARKs on request;
//   - Compact(): history up to now is gone, and watches or continue tokens from older versions
//     fail with 410 Expired (IsGone()), as after an etcd compaction; a running watch whose last
//     delivered version is older ends with 410 too, as after an apiserver restart (Bump() first
//     to move the version past what the watch has seen);
//   - create (409 AlreadyExists, generateName), update with optimistic concurrency (409 on a
//     stale metadata.resourceVersion), merge patch, apply (create or merge), delete with
//     preconditions, and the status subresource (writes touch only .status);
//   - FailNext(verb, error): scripted failures; OnCreate(plural, fn): custom answers (e.g.
//     TokenReview).
// Watches end when the stop token fires, the handler returns false, or CloseWatches() is called.
//
// Thread-safety: every method locks; watches run on the caller's thread and wake on changes.
//
//   testing::FakeKubeApi api;
//   api.Put(k8s::resources::Pods(), PodJson("team-a", "web-1", "10.0.0.5"));
//   k8s::PodCache pods;
//   k8s::Informer informer(api, pods, metrics, clock, random, {.resource =
//   k8s::resources::Pods()}); informer.Start();
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "podiam/k8s/kube_api.hpp"
#include "podiam/k8s/timestamps.hpp"

namespace podiam::testing {

class FakeKubeApi final : public k8s::KubeApi {
 public:
  using Json = k8s::Json;
  using Resource = k8s::Resource;

  // ---------------------------------------------------------------- KubeApi
  Result<Json> Get(const Resource& r, std::string_view ns, std::string_view name,
                   std::string_view /*subresource*/ = {}) override {
    std::lock_guard lock(mu_);
    if (auto e = Scripted("get")) {
      return tl::unexpected(*e);
    }
    const Json* o = FindLocked(r, ns, name);
    if (o == nullptr) {
      return tl::unexpected(NotFound(r, name));
    }
    return *o;
  }

  Result<k8s::ObjectList> List(const Resource& r, std::string_view ns,
                               const k8s::ListOptions& options) override {
    if (before_list_) {
      before_list_(options);  // unlocked: it may call back into the fake
    }
    std::lock_guard lock(mu_);
    list_calls_.push_back(options);
    if (auto e = Scripted("list")) {
      return tl::unexpected(*e);
    }
    std::string after;
    std::string list_rv = std::to_string(rv_);
    if (!options.continue_token.empty()) {
      auto bar = options.continue_token.find('|');
      std::int64_t token_rv = std::stoll(options.continue_token.substr(0, bar));
      if (token_rv < compacted_) {
        return tl::unexpected(Status(410, "Expired", "The provided continue parameter is too old"));
      }
      list_rv = std::to_string(token_rv);
      after = options.continue_token.substr(bar + 1);
    }
    k8s::ObjectList out;
    out.resource_version = list_rv;
    const auto& objects = objects_[Collection(r)];
    for (auto it = after.empty() ? objects.begin() : objects.upper_bound(after);
         it != objects.end(); ++it) {
      if (!InNamespace(r, it->second, ns) ||
          !Matches(it->second, options.label_selector, options.field_selector)) {
        continue;
      }
      if (options.limit > 0 && static_cast<int>(out.items.size()) == options.limit) {
        out.continue_token = list_rv + "|" + LastKey(out.items.back());
        break;
      }
      out.items.push_back(it->second);
    }
    return out;
  }

  Result<void> Watch(const Resource& r, std::string_view ns, const k8s::WatchOptions& options,
                     const k8s::WatchHandler& handler) override {
    std::unique_lock lock(mu_);
    watch_calls_.push_back(options);
    if (auto e = Scripted("watch")) {
      return tl::unexpected(*e);
    }
    std::int64_t last =
        options.resource_version.empty() ? rv_ : std::stoll(options.resource_version);
    if (last < compacted_) {
      return tl::unexpected(Gone(last));
    }
    const std::string collection = Collection(r);
    const std::uint64_t close_generation = close_generation_;
    std::uint64_t bookmark_generation = bookmark_generation_;
    ++open_watches_;
    cv_.notify_all();
    Result<void> result = Ok();
    bool go_on = true;
    while (go_on) {
      if (last < compacted_) {
        result = tl::unexpected(Gone(last));  // as an in-stream ERROR 410 would end it
        break;
      }
      // Deliver the history after `last`.
      std::vector<k8s::WatchEvent> batch;
      std::int64_t batch_last = last;
      for (const auto& change : history_) {
        if (change.rv <= last) {
          continue;
        }
        batch_last = change.rv;
        if (change.collection != collection || !InNamespace(r, change.object, ns)) {
          continue;
        }
        if (auto event = Translate(change, options)) {
          batch.push_back(std::move(*event));
        }
      }
      last = batch_last;
      if (options.allow_bookmarks && bookmark_generation != bookmark_generation_) {
        bookmark_generation = bookmark_generation_;
        last = rv_;
        batch.push_back({k8s::WatchEventType::kBookmark,
                         {{"kind", r.kind},
                          {"apiVersion", r.ApiVersion()},
                          {"metadata", {{"resourceVersion", std::to_string(rv_)}}}}});
      }
      lock.unlock();
      for (auto& event : batch) {
        if (options.stop.stop_requested() || !handler(std::move(event))) {
          go_on = false;
          break;
        }
      }
      lock.lock();
      if (!go_on || options.stop.stop_requested() || close_generation != close_generation_) {
        break;
      }
      cv_.wait(lock, options.stop, [&] {
        return (!history_.empty() && history_.back().rv > last) ||
               close_generation != close_generation_ ||
               bookmark_generation != bookmark_generation_ || last < compacted_;
      });
      if (options.stop.stop_requested() || close_generation != close_generation_) {
        break;
      }
    }
    --open_watches_;
    cv_.notify_all();
    return result;
  }

  Result<Json> Create(const Resource& r, std::string_view ns, const Json& object) override {
    std::lock_guard lock(mu_);
    if (auto e = Scripted("create")) {
      return tl::unexpected(*e);
    }
    if (auto hook = create_hooks_.find(r.plural); hook != create_hooks_.end()) {
      return hook->second(object);
    }
    return CreateLocked(r, ns, object);
  }

  Result<Json> CreateSubresource(const Resource& r, std::string_view ns, std::string_view name,
                                 std::string_view subresource, const Json& body) override {
    std::lock_guard lock(mu_);
    if (auto e = Scripted("create")) {
      return tl::unexpected(*e);
    }
    if (FindLocked(r, ns, name) == nullptr) {
      return tl::unexpected(NotFound(r, name));
    }
    Json out = body;
    if (subresource == "token") {
      out["status"]["token"] = "fake-token-" + std::to_string(++uid_counter_);
    }
    return out;
  }

  Result<Json> Update(const Resource& r, std::string_view ns, const Json& object,
                      std::string_view subresource = {}) override {
    std::lock_guard lock(mu_);
    if (auto e = Scripted("update")) {
      return tl::unexpected(*e);
    }
    const Json& meta = object.value("metadata", Json::object());
    std::string name = k8s::StringAt(meta, "name");
    std::string space = Space(r, ns, object);
    Json* stored = FindMutable(r, space, name);
    if (stored == nullptr) {
      return tl::unexpected(NotFound(r, name));
    }
    const std::string& want_rv = k8s::StringAt(meta, "resourceVersion");
    if (!want_rv.empty() && want_rv != (*stored)["metadata"]["resourceVersion"]) {
      return tl::unexpected(Status(409, "Conflict",
                                   "Operation cannot be fulfilled on " + r.plural + " \"" + name +
                                       "\": the object has been modified; please apply your "
                                       "changes to the latest version and try again"));
    }
    Json next = *stored;
    if (subresource == "status") {
      next["status"] = object.value("status", Json::object());
    } else {
      next = object;
      next["metadata"]["uid"] = (*stored)["metadata"]["uid"];
      next["metadata"]["creationTimestamp"] = (*stored)["metadata"]["creationTimestamp"];
    }
    return ModifyLocked(r, stored, std::move(next));
  }

  Result<Json> MergePatch(const Resource& r, std::string_view ns, std::string_view name,
                          const Json& patch, std::string_view subresource = {}) override {
    std::lock_guard lock(mu_);
    if (auto e = Scripted("patch")) {
      return tl::unexpected(*e);
    }
    Json* stored = FindMutable(r, std::string(ns), name);
    if (stored == nullptr) {
      return tl::unexpected(NotFound(r, name));
    }
    Json next = *stored;
    if (subresource == "status") {
      Json status_only = {{"status", patch.value("status", Json::object())}};
      next.merge_patch(status_only);
    } else {
      next.merge_patch(patch);
    }
    return ModifyLocked(r, stored, std::move(next));
  }

  Result<Json> Apply(const Resource& r, std::string_view ns, std::string_view name,
                     const Json& object, const k8s::ApplyOptions& options,
                     std::string_view subresource = {}) override {
    std::lock_guard lock(mu_);
    if (auto e = Scripted("apply")) {
      return tl::unexpected(*e);
    }
    if (options.field_manager.empty()) {
      return tl::unexpected(Status(400, "BadRequest", "fieldManager is required"));
    }
    Json* stored = FindMutable(r, std::string(ns), name);
    if (stored == nullptr) {
      Json copy = object;
      copy["metadata"]["name"] = std::string(name);
      return CreateLocked(r, ns, copy);
    }
    Json next = *stored;
    next.merge_patch(subresource == "status"
                         ? Json{{"status", object.value("status", Json::object())}}
                         : object);
    return ModifyLocked(r, stored, std::move(next));
  }

  Result<void> Delete(const Resource& r, std::string_view ns, std::string_view name,
                      const k8s::DeleteOptions& options = {}) override {
    std::lock_guard lock(mu_);
    if (auto e = Scripted("delete")) {
      return tl::unexpected(*e);
    }
    Json* stored = FindMutable(r, std::string(ns), name);
    if (stored == nullptr) {
      return tl::unexpected(NotFound(r, name));
    }
    if ((!options.precondition_uid.empty() &&
         options.precondition_uid != (*stored)["metadata"]["uid"]) ||
        (!options.precondition_resource_version.empty() &&
         options.precondition_resource_version != (*stored)["metadata"]["resourceVersion"])) {
      return tl::unexpected(Status(409, "Conflict", "Precondition failed"));
    }
    RemoveLocked(r, *stored);
    return Ok();
  }

  Result<void> DeleteCollection(const Resource& r, std::string_view ns,
                                const k8s::ListOptions& selector,
                                const k8s::DeleteOptions& /*options*/ = {}) override {
    std::lock_guard lock(mu_);
    if (auto e = Scripted("deletecollection")) {
      return tl::unexpected(*e);
    }
    std::vector<Json> doomed;
    for (const auto& [key, o] : objects_[Collection(r)]) {
      if (InNamespace(r, o, ns) && Matches(o, selector.label_selector, selector.field_selector)) {
        doomed.push_back(o);
      }
    }
    for (const auto& o : doomed) {
      RemoveLocked(r, o);
    }
    return Ok();
  }

  // ---------------------------------------------------------------- test controls
  // Creates or replaces an object as another client would (ADDED or MODIFIED); returns it as
  // stored, with uid, resourceVersion and creationTimestamp filled in when absent.
  Json Put(const Resource& r, Json object) {
    std::lock_guard lock(mu_);
    const Json& meta = object.value("metadata", Json::object());
    std::string space = Space(r, "", object);
    Json* stored = FindMutable(r, space, k8s::StringAt(meta, "name"));
    if (stored == nullptr) {
      return *CreateLocked(r, space, object);
    }
    if (!object["metadata"].contains("uid")) {
      object["metadata"]["uid"] = (*stored)["metadata"]["uid"];
    }
    if (!object["metadata"].contains("creationTimestamp")) {
      object["metadata"]["creationTimestamp"] = (*stored)["metadata"]["creationTimestamp"];
    }
    return *ModifyLocked(r, stored, std::move(object));
  }
  // Deletes as another client would (DELETED); false if absent.
  bool Remove(const Resource& r, std::string_view ns, std::string_view name) {
    std::lock_guard lock(mu_);
    Json* stored = FindMutable(r, std::string(ns), name);
    if (stored == nullptr) {
      return false;
    }
    RemoveLocked(r, *stored);
    return true;
  }
  // Forgets all history up to the current resourceVersion (an etcd compaction).
  void Compact() {
    std::lock_guard lock(mu_);
    compacted_ = rv_;
    while (!history_.empty() && history_.front().rv <= compacted_) {
      history_.pop_front();
    }
    cv_.notify_all();
  }
  // Advances the resourceVersion without touching any object (writes elsewhere in the cluster).
  void Bump(int by = 1) {
    std::lock_guard lock(mu_);
    rv_ += by;
  }
  // Sends every open watch a BOOKMARK at the current resourceVersion.
  void Bookmark() {
    std::lock_guard lock(mu_);
    ++bookmark_generation_;
    cv_.notify_all();
  }
  // Ends every open watch as if the server closed the connection.
  void CloseWatches() {
    std::lock_guard lock(mu_);
    ++close_generation_;
    cv_.notify_all();
  }
  void FailNext(const std::string& verb, Error error, int times = 1) {
    std::lock_guard lock(mu_);
    for (int i = 0; i < times; ++i) {
      failures_[verb].push_back(error);
    }
  }
  // Called at the start of every List (set before the code under test runs).
  void set_before_list(std::function<void(const k8s::ListOptions&)> hook) {
    before_list_ = std::move(hook);
  }
  void OnCreate(const std::string& plural, std::function<Result<Json>(const Json&)> hook) {
    std::lock_guard lock(mu_);
    create_hooks_[plural] = std::move(hook);
  }
  // Waits in real time until `n` watches are open.
  bool WaitForWatches(int n, std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return open_watches_ >= n; });
  }
  // Waits in real time until `n` watch calls have been made in total.
  bool WaitForWatchCalls(std::size_t n,
                         std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return watch_calls_.size() >= n; });
  }
  [[nodiscard]] int open_watches() const {
    std::lock_guard lock(mu_);
    return open_watches_;
  }
  [[nodiscard]] std::vector<k8s::ListOptions> list_calls() const {
    std::lock_guard lock(mu_);
    return list_calls_;
  }
  [[nodiscard]] std::vector<k8s::WatchOptions> watch_calls() const {
    std::lock_guard lock(mu_);
    return watch_calls_;
  }
  [[nodiscard]] std::string resource_version() const {
    std::lock_guard lock(mu_);
    return std::to_string(rv_);
  }
  [[nodiscard]] std::size_t count(const Resource& r) const {
    std::lock_guard lock(mu_);
    auto it = objects_.find(Collection(r));
    return it == objects_.end() ? 0 : it->second.size();
  }
  // Wall time written into creationTimestamp of new objects; advances 1 s per create by default.
  void set_creation_time(std::chrono::system_clock::time_point t) {
    std::lock_guard lock(mu_);
    creation_time_ = t;
  }

  static Error Status(int code, const std::string& reason, const std::string& message) {
    return k8s::StatusObjectError({{"kind", "Status"},
                                   {"status", "Failure"},
                                   {"code", code},
                                   {"reason", reason},
                                   {"message", message}});
  }

 private:
  struct Change {
    std::string collection;
    std::int64_t rv = 0;
    k8s::WatchEventType type = k8s::WatchEventType::kAdded;
    Json object;
    Json previous;  // MODIFIED: the object before
  };

  static std::string Collection(const Resource& r) {
    return r.group + "/" + r.version + "/" + r.plural;
  }
  static std::string Key(const std::string& ns, std::string_view name) {
    return ns + "/" + std::string(name);
  }
  static const Json& Meta(const Json& o) {
    static const Json kEmpty = Json::object();
    const Json* m = k8s::Find(o, "metadata");
    return m != nullptr ? *m : kEmpty;
  }
  static std::string LastKey(const Json& o) {
    return k8s::StringAt(Meta(o), "namespace") + "/" + k8s::StringAt(Meta(o), "name");
  }
  static std::string Space(const Resource& r, std::string_view ns, const Json& object) {
    if (!r.namespaced) {
      return {};
    }
    if (!ns.empty()) {
      return std::string(ns);
    }
    return k8s::StringAt(object.value("metadata", Json::object()), "namespace");
  }
  static bool InNamespace(const Resource& r, const Json& o, std::string_view ns) {
    return !r.namespaced || ns.empty() || k8s::StringAt(Meta(o), "namespace") == ns;
  }
  static Error NotFound(const Resource& r, std::string_view name) {
    return Status(404, "NotFound", r.plural + " \"" + std::string(name) + "\" not found");
  }
  static Error Gone(std::int64_t rv) {
    return Status(410, "Expired",
                  "The resourceVersion for the provided watch is too old: " + std::to_string(rv));
  }

  // "a.b.c" in a JSON object, as text ("" when absent; booleans as "true"/"false").
  static std::string FieldText(const Json& o, std::string_view path) {
    const Json* cur = &o;
    while (!path.empty()) {
      auto dot = path.find('.');
      cur = k8s::Find(*cur, path.substr(0, dot));
      if (cur == nullptr) {
        return {};
      }
      path = dot == std::string_view::npos ? std::string_view() : path.substr(dot + 1);
    }
    if (cur->is_string()) {
      return cur->get<std::string>();
    }
    if (cur->is_boolean()) {
      return cur->get<bool>() ? "true" : "false";
    }
    return cur->is_null() ? std::string() : cur->dump();
  }

  static bool Matches(const Json& o, std::string_view labels, std::string_view fields) {
    auto each = [](std::string_view text, auto&& f) {
      while (!text.empty()) {
        auto comma = text.find(',');
        if (!f(text.substr(0, comma))) {
          return false;
        }
        text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
      }
      return true;
    };
    auto term = [](std::string_view t, auto&& value_of) {
      if (auto ne = t.find("!="); ne != std::string_view::npos) {
        return value_of(t.substr(0, ne)) != t.substr(ne + 2);
      }
      if (auto eq = t.find('='); eq != std::string_view::npos) {
        std::string_view v = t.substr(eq + 1);
        if (!v.empty() && v.front() == '=') {
          v.remove_prefix(1);
        }
        return value_of(t.substr(0, eq)) == v;
      }
      return true;
    };
    bool labels_ok = each(labels, [&](std::string_view t) {
      const Json* ls = k8s::Find(Meta(o), "labels");
      auto has = [&](std::string_view k) { return ls != nullptr && k8s::Find(*ls, k) != nullptr; };
      if (t.find('=') == std::string_view::npos) {
        return !t.empty() && t.front() == '!' ? !has(t.substr(1)) : has(t);
      }
      return term(t, [&](std::string_view k) {
        return ls != nullptr ? k8s::StringAt(*ls, k) : std::string();
      });
    });
    return labels_ok && each(fields, [&](std::string_view t) {
             return term(t, [&](std::string_view path) { return FieldText(o, path); });
           });
  }

  std::optional<k8s::WatchEvent> Translate(const Change& c, const k8s::WatchOptions& o) const {
    bool now = Matches(c.object, o.label_selector, o.field_selector);
    switch (c.type) {
      case k8s::WatchEventType::kModified: {
        bool before = Matches(c.previous, o.label_selector, o.field_selector);
        if (before && now) {
          return k8s::WatchEvent{k8s::WatchEventType::kModified, c.object};
        }
        if (now) {
          return k8s::WatchEvent{k8s::WatchEventType::kAdded, c.object};
        }
        if (before) {
          return k8s::WatchEvent{k8s::WatchEventType::kDeleted, c.object};
        }
        return std::nullopt;
      }
      default:
        if (!now) {
          return std::nullopt;
        }
        return k8s::WatchEvent{c.type, c.object};
    }
  }

  std::optional<Error> Scripted(const std::string& verb) {
    auto it = failures_.find(verb);
    if (it == failures_.end() || it->second.empty()) {
      return std::nullopt;
    }
    Error e = it->second.front();
    it->second.pop_front();
    return e;
  }

  const Json* FindLocked(const Resource& r, std::string_view ns, std::string_view name) {
    return FindMutable(r, r.namespaced ? std::string(ns) : std::string(), name);
  }
  Json* FindMutable(const Resource& r, const std::string& ns, std::string_view name) {
    auto& objects = objects_[Collection(r)];
    auto it = objects.find(Key(r.namespaced ? ns : std::string(), name));
    return it == objects.end() ? nullptr : &it->second;
  }

  void Record(const Resource& r, k8s::WatchEventType type, const Json& object,
              const Json& previous = Json()) {
    history_.push_back({Collection(r), rv_, type, object, previous});
    cv_.notify_all();
  }

  Result<Json> CreateLocked(const Resource& r, std::string_view ns, Json object) {
    std::string space = Space(r, ns, object);
    if (r.namespaced && space.empty()) {
      return tl::unexpected(Status(400, "BadRequest", "the namespace is required"));
    }
    Json& meta = object["metadata"];
    if (k8s::StringAt(meta, "name").empty()) {
      const std::string& prefix = k8s::StringAt(meta, "generateName");
      if (prefix.empty()) {
        return tl::unexpected(Status(422, "Invalid", "metadata.name: Required value"));
      }
      meta["name"] = prefix + std::to_string(++uid_counter_);
    }
    std::string name = meta["name"].get<std::string>();
    if (FindMutable(r, space, name) != nullptr) {
      return tl::unexpected(
          Status(409, "AlreadyExists", r.plural + " \"" + name + "\" already exists"));
    }
    if (r.namespaced) {
      meta["namespace"] = space;
    }
    if (!meta.contains("uid")) {
      meta["uid"] = "uid-" + std::to_string(++uid_counter_);
    }
    if (!meta.contains("creationTimestamp")) {
      meta["creationTimestamp"] = k8s::FormatTime(creation_time_);
      creation_time_ += std::chrono::seconds(1);
    }
    meta["resourceVersion"] = std::to_string(++rv_);
    objects_[Collection(r)][Key(space, name)] = object;
    Record(r, k8s::WatchEventType::kAdded, object);
    return object;
  }

  Result<Json> ModifyLocked(const Resource& r, Json* stored, Json next) {
    next["metadata"]["resourceVersion"] = std::to_string(++rv_);
    Json previous = std::move(*stored);
    *stored = next;
    Record(r, k8s::WatchEventType::kModified, next, previous);
    return next;
  }

  void RemoveLocked(const Resource& r, Json object) {
    std::string key = Key(k8s::StringAt(object["metadata"], "namespace"),
                          k8s::StringAt(object["metadata"], "name"));
    objects_[Collection(r)].erase(key);
    object["metadata"]["resourceVersion"] = std::to_string(++rv_);
    Record(r, k8s::WatchEventType::kDeleted, object);
  }

  mutable std::mutex mu_;
  mutable std::condition_variable_any cv_;
  std::map<std::string, std::map<std::string, Json>> objects_;
  std::deque<Change> history_;
  std::int64_t rv_ = 100;
  std::int64_t compacted_ = 0;
  std::uint64_t close_generation_ = 0;
  std::uint64_t bookmark_generation_ = 0;
  int open_watches_ = 0;
  int uid_counter_ = 0;
  std::chrono::system_clock::time_point creation_time_{std::chrono::seconds(1767225600)};
  std::map<std::string, std::deque<Error>> failures_;
  std::map<std::string, std::function<Result<Json>(const Json&)>> create_hooks_;
  std::function<void(const k8s::ListOptions&)> before_list_;
  std::vector<k8s::ListOptions> list_calls_;
  std::vector<k8s::WatchOptions> watch_calls_;
};

}  // namespace podiam::testing
