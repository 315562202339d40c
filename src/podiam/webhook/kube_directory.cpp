#include "podiam/webhook/kube_directory.hpp"

#include <fstream>
#include <sstream>

namespace podiam::webhook {

std::optional<AccountAnnotations> KubeServiceAccounts::Cached(std::string_view namespace_name,
                                                              std::string_view name) {
  auto view = cache_.ServiceAccount(namespace_name, name);
  if (!view) {
    return std::nullopt;
  }
  return AccountAnnotations(view, &view->annotations);
}

Result<AccountAnnotations> KubeServiceAccounts::Fetch(std::string_view namespace_name,
                                                      std::string_view name, SteadyTime deadline) {
  if (clock_.SteadyNow() >= deadline) {
    return MakeError(ErrorCode::kDeadlineExceeded, "no time left to read the ServiceAccount");
  }
  auto object = lookup_.Get(k8s::resources::ServiceAccounts(), namespace_name, name);
  if (!object) {
    if (object.error().code() == ErrorCode::kNotFound) {
      return AccountAnnotations();
    }
    return tl::unexpected(object.error());
  }
  auto view = k8s::ServiceAccountFromJson(*object, keep_);
  if (!view) {
    return tl::unexpected(view.error());
  }
  return std::make_shared<const k8s::Annotations>(std::move(view->annotations));
}

k8s::Resource PodIdentityAssociations() {
  return {.group = "podiam.io",
          .version = "v1alpha1",
          .plural = "podidentityassociations",
          .namespaced = true,
          .kind = "PodIdentityAssociation"};
}

std::size_t AssociationView::MemoryBytes() const {
  return sizeof(AssociationView) + k8s::StringHeapBytes(namespace_name) +
         k8s::StringHeapBytes(name) + k8s::StringHeapBytes(uid) +
         k8s::StringHeapBytes(resource_version) + k8s::StringHeapBytes(service_account);
}

Result<AssociationView> AssociationFromJson(const k8s::Json& object) {
  AssociationView view{.namespace_name = k8s::StringAt(object, "metadata", "namespace"),
                       .name = k8s::StringAt(object, "metadata", "name"),
                       .uid = k8s::StringAt(object, "metadata", "uid"),
                       .resource_version = k8s::StringAt(object, "metadata", "resourceVersion"),
                       .service_account = k8s::StringAt(object, "spec", "serviceAccount")};
  if (view.namespace_name.empty() || view.name.empty()) {
    return MakeError(ErrorCode::kUpstreamInvalid,
                     "PodIdentityAssociation without metadata.name or metadata.namespace");
  }
  if (view.service_account.empty()) {
    return MakeError(ErrorCode::kUpstreamInvalid,
                     "PodIdentityAssociation " + view.Key() + " has no spec.serviceAccount");
  }
  return view;
}

AssociationCache::AssociationCache()
    : Cache([](const k8s::Json& o) { return AssociationFromJson(o); }, "PodIdentityAssociation") {}

bool AssociationCache::Names(std::string_view namespace_name,
                             std::string_view service_account) const {
  std::string key(namespace_name);
  key += '/';
  key += service_account;
  std::shared_lock lock(mu_);
  return by_account_.find(key) != by_account_.end();
}

void AssociationCache::IndexAdd(const Ptr& object) {
  ++by_account_[object->namespace_name + "/" + object->service_account];
}

void AssociationCache::IndexRemove(const Ptr& object) {
  auto it = by_account_.find(object->namespace_name + "/" + object->service_account);
  if (it != by_account_.end() && --it->second <= 0) {
    by_account_.erase(it);
  }
}

std::size_t AssociationCache::IndexBytes() const {
  std::size_t n = by_account_.bucket_count() * sizeof(void*);
  for (const auto& [key, count] : by_account_) {
    n += sizeof(std::string) + sizeof(int) + 2 * sizeof(void*) + k8s::StringHeapBytes(key);
  }
  return n;
}

Result<std::set<std::string, std::less<>>> ParseIdentities(std::string_view content) {
  std::set<std::string, std::less<>> out;
  if (content.empty()) {
    return out;
  }
  auto root = k8s::Json::parse(content, nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded() || !root.is_object()) {
    return MakeError(ErrorCode::kInvalidArgument, "the file is not a JSON object");
  }
  auto it = root.find("identities");
  if (it == root.end() || it->is_null()) {
    return out;
  }
  if (!it->is_array()) {
    return MakeError(ErrorCode::kInvalidArgument, "identities is not a list");
  }
  for (const auto& item : *it) {
    if (!item.is_object()) {
      return MakeError(ErrorCode::kInvalidArgument, "an identity is not an object");
    }
    auto ns = item.find("namespace");
    auto sa = item.find("serviceAccount");
    auto text = [](const k8s::Json::const_iterator& v, const k8s::Json::const_iterator& end) {
      return v != end && v->is_string() ? v->get<std::string>() : std::string();
    };
    out.insert(text(ns, item.end()) + "/" + text(sa, item.end()));
  }
  return out;
}

void IdentitiesFile::Reload() {
  std::error_code ec;
  auto mtime = std::filesystem::last_write_time(path_, ec);
  auto size = ec ? static_cast<std::uintmax_t>(-1) : std::filesystem::file_size(path_, ec);
  if (ec) {
    if (size_ != static_cast<std::uintmax_t>(-2)) {
      log_.Warn("cannot read the container credentials config file; keeping what was loaded",
                {{"path", path_.string()}, {"error", ec.message()}});
    }
    size_ = static_cast<std::uintmax_t>(-2);
    return;
  }
  if (mtime == mtime_ && size == size_) {
    return;
  }
  mtime_ = mtime;
  size_ = size;
  std::ifstream in(path_, std::ios::binary);
  std::stringstream content;
  content << in.rdbuf();
  auto parsed = ParseIdentities(content.str());
  if (!parsed) {
    log_.Error("container credentials config file is invalid; keeping what was loaded",
               {{"path", path_.string()}, {"error", parsed.error().message()}});
    return;
  }
  log_.Info("loaded container credentials config file",
            {{"path", path_.string()}, {"identities", parsed->size()}});
  std::unique_lock lock(mu_);
  identities_ = std::move(*parsed);
}

bool IdentitiesFile::Selects(std::string_view namespace_name,
                             std::string_view service_account) const {
  std::string key(namespace_name);
  key += '/';
  key += service_account;
  std::shared_lock lock(mu_);
  return identities_.find(key) != identities_.end();
}

}  // namespace podiam::webhook
