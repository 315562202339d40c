// The metadata handlers' CredentialSource, backed by the CredentialBroker: a cached lookup on the
// I/O thread, a blocking fetch (shared with any in-flight one) on a worker. It reads the spec the
// PodDirectory put in each Caller (PodCredentials).
//
// Thread-safety: as the broker's.
//
//   callers::BrokerSource source(broker);
//   metadata::ImdsHandler::Create(directory, source, ...);
#pragma once

#include "podiam/callers/pod_credentials.hpp"
#include "podiam/creds/credential_broker.hpp"
#include "podiam/metadata/ports.hpp"

namespace podiam::callers {

class BrokerSource final : public metadata::CredentialSource {
 public:
  explicit BrokerSource(creds::CredentialBroker& broker) : broker_(broker) {}

  std::shared_ptr<const aws::Credentials> Cached(const metadata::Caller& caller) override {
    const creds::CredentialSpec* spec = SpecOf(caller);
    return spec != nullptr ? broker_.Cached(spec->key) : nullptr;
  }

  Result<aws::Credentials> Fetch(const metadata::Caller& caller,
                                 metadata::SteadyTime deadline) override {
    const creds::CredentialSpec* spec = SpecOf(caller);
    if (spec == nullptr) {
      return MakeError(ErrorCode::kFailedPrecondition, "this pod has no role to fetch");
    }
    return broker_.Get(*spec, deadline);
  }

 private:
  creds::CredentialBroker& broker_;
};

}  // namespace podiam::callers
