#include "podiam/server/pod_source.hpp"

#include "podiam/callers/pod_credentials.hpp"

namespace podiam::server {

std::shared_ptr<const ServerPod> FromRecord(const callers::PodRecord& record) {
  auto pod = std::make_shared<ServerPod>();
  pod->namespace_name = record.namespace_name;
  pod->name = record.name;
  pod->uid = record.uid;
  pod->node_name = record.node_name;
  if (record.caller) {
    pod->decided = true;
    pod->decision = record.caller->decision;
    if (const creds::CredentialSpec* spec = callers::SpecOf(*record.caller)) {
      // The caller keeps the spec alive; share its ownership instead of copying the key.
      pod->spec = std::shared_ptr<const creds::CredentialSpec>(record.caller, spec);
    }
  }
  return pod;
}

std::shared_ptr<const ServerPod> DirectoryPods::Find(std::string_view namespace_name,
                                                     std::string_view name, std::string_view uid) {
  auto record = directory_.Pod(namespace_name, name, uid);
  return record ? FromRecord(*record) : nullptr;
}

Result<std::shared_ptr<const ServerPod>> DirectoryPods::Read(std::string_view namespace_name,
                                                             std::string_view name,
                                                             std::string_view uid) {
  auto read = directory_.ReadPod(namespace_name, name, uid);
  if (!read) {
    return tl::unexpected(read.error());
  }
  if (!*read) {
    return std::shared_ptr<const ServerPod>();
  }
  return FromRecord(**read);
}

}  // namespace podiam::server
