// The CredentialHandle a Caller made by callers::PodDirectory carries: the AssumeRole request
// identity::DecidePod built for that pod. metadata/ passes it through unopened; BrokerSource
// (and tests) read it back with SpecOf().
//
// Thread-safety: immutable once made.
//
//   caller->credentials = std::make_shared<const callers::PodCredentials>(std::move(*spec));
//   if (const creds::CredentialSpec* spec = callers::SpecOf(*caller)) { broker.Get(*spec, t); }
#pragma once

#include "podiam/creds/credential_key.hpp"
#include "podiam/metadata/ports.hpp"

namespace podiam::callers {

class PodCredentials final : public metadata::CredentialHandle {
 public:
  explicit PodCredentials(creds::CredentialSpec spec) : spec_(std::move(spec)) {}
  [[nodiscard]] const creds::CredentialSpec& spec() const { return spec_; }

 private:
  creds::CredentialSpec spec_;
};

// The spec of a Caller this folder made, or null (no role, or a handle from elsewhere).
inline const creds::CredentialSpec* SpecOf(const metadata::Caller& caller) {
  const auto* handle = dynamic_cast<const PodCredentials*>(caller.credentials.get());
  return handle != nullptr ? &handle->spec() : nullptr;
}

}  // namespace podiam::callers
