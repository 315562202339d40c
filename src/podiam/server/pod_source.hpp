// DirectoryPods: the server's PodLookup over callers::PodDirectory in all-nodes mode (the same
// directory, decisions and prefetch the agent uses for its node, docs/server.md): Find() reads the
// directory, Read() adds the directory's rate-limited direct apiserver read for a pod the watch
// has not delivered yet.
//
// Thread-safety: as PodDirectory's (any thread).
#pragma once

#include "podiam/callers/pod_directory.hpp"
#include "podiam/server/ports.hpp"

namespace podiam::server {

// The ServerPod of one directory record.
std::shared_ptr<const ServerPod> FromRecord(const callers::PodRecord& record);

class DirectoryPods final : public PodLookup {
 public:
  explicit DirectoryPods(callers::PodDirectory& directory) : directory_(directory) {}

  std::shared_ptr<const ServerPod> Find(std::string_view namespace_name, std::string_view name,
                                        std::string_view uid) override;
  Result<std::shared_ptr<const ServerPod>> Read(std::string_view namespace_name,
                                                std::string_view name,
                                                std::string_view uid) override;
  bool Ready() override { return directory_.Ready(); }

 private:
  callers::PodDirectory& directory_;
};

}  // namespace podiam::server
