// What the controller's reconciler needs from outside, as small interfaces: credentials (the
// agent's creds::CredentialBroker in production, a fake in tests) and Events (k8s::EventRecorder
// in production). Kubernetes objects go through the k8s::KubeApi port (testing::FakeKubeApi in
// tests).
//
// Thread-safety: implementations allow calls from any thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "podiam/aws/credentials.hpp"
#include "podiam/base/error.hpp"
#include "podiam/creds/credential_key.hpp"
#include "podiam/k8s/event_recorder.hpp"

namespace podiam::controller {

class CredentialSource {
 public:
  virtual ~CredentialSource() = default;
  // Credentials for `spec`, on behalf of the AWSIAMRole `owner` (its uid). Blocks for at most a
  // few seconds; keeps them refreshed in the background until Forget(owner) or a Get with
  // another spec for the same owner.
  virtual Result<aws::Credentials> Get(const std::string& owner,
                                       const creds::CredentialSpec& spec) = 0;
  // The error of the last background refresh of `owner`'s credentials while it keeps failing
  // (Get() still returns the previous, valid credentials then); nullopt when the last fetch
  // succeeded. Never blocks, never calls STS.
  virtual std::optional<Error> RefreshError(const std::string& owner) = 0;
  // The AWSIAMRole is gone (or denied): stop refreshing its credentials.
  virtual void Forget(const std::string& owner) = 0;
};

class EventSink {
 public:
  virtual ~EventSink() = default;
  virtual void Record(const k8s::ObjectReference& regarding, k8s::EventType type,
                      std::string_view reason, std::string_view note) = 0;
};

}  // namespace podiam::controller
