// Prefetch bookkeeping: a pod with a role Retain()s its credentials in the broker as soon as it is
// known (before it even has an IP: its sandbox and network take longer than an AssumeRole), and
// Release()s them when it goes or its request changes. Only a change of CredentialKey counts:
// re-deciding a pod to the same request leaves the broker alone.
//
// Thread-safety: as the broker's; callers serialise changes of one pod.
//
//   callers::Prefetch prefetch(broker);
//   prefetch.Change(old_spec, new_spec);  // either may be null
#pragma once

#include "podiam/creds/credential_broker.hpp"

namespace podiam::callers {

class Prefetch {
 public:
  explicit Prefetch(creds::CredentialBroker& broker) : broker_(broker) {}

  // A pod's request went from `before` to `after` (null: none).
  void Change(const creds::CredentialSpec* before, const creds::CredentialSpec* after) {
    bool same =
        (before == nullptr || after == nullptr) ? before == after : before->key == after->key;
    if (same) {
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
};

}  // namespace podiam::callers
