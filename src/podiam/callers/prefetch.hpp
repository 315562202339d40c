// Prefetch bookkeeping: a pod with a role Retain()s its credentials in the broker as soon as it is
// known (before it even has an IP: its sandbox and network take longer than an AssumeRole), and
// Release()s them when it goes or its request changes. Only a change of CredentialKey counts:
// re-deciding a pod to the same request leaves the broker alone.
//
// A `hook` replaces the broker's Retain/Release (the server's OwnedPrefetch retains only the keys
// its replica owns, docs/server.md "High availability and sharding"); it gets the same calls.
//
// Thread-safety: as the broker's; callers serialise changes of one pod.
//
//   callers::Prefetch prefetch(broker);
//   prefetch.Change(old_spec, new_spec);  // either may be null
#pragma once

#include <functional>
#include <utility>

#include "podiam/creds/credential_broker.hpp"

namespace podiam::callers {

class Prefetch {
 public:
  using Hook = std::function<void(const creds::CredentialSpec*, const creds::CredentialSpec*)>;
  explicit Prefetch(creds::CredentialBroker& broker, Hook hook = {})
      : broker_(broker), hook_(std::move(hook)) {}

  // A pod's request went from `before` to `after` (null: none).
  void Change(const creds::CredentialSpec* before, const creds::CredentialSpec* after) {
    bool same =
        (before == nullptr || after == nullptr) ? before == after : before->key == after->key;
    if (same) {
      return;
    }
    if (hook_) {
      hook_(before, after);
      return;
    }
    if (after != nullptr) {
      broker_.Retain(*after);
    }
    if (before != nullptr) {
      broker_.Release(before->key);
    }
  }

 private:
  creds::CredentialBroker& broker_;
  Hook hook_;
};

}  // namespace podiam::callers
