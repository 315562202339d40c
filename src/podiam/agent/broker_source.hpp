// The metadata handlers' CredentialSource, backed by the CredentialBroker: a cached lookup on the
// I/O thread, a blocking fetch (shared with any in-flight one) on a worker.
//
// Thread-safety: as the broker's.
//
//   agent::BrokerSource source(broker);
//   metadata::ImdsHandler::Create(directory, source, ...);
#pragma once

#include "podiam/creds/credential_broker.hpp"
#include "podiam/metadata/ports.hpp"

namespace podiam::agent {

class BrokerSource final : public metadata::CredentialSource {
 public:
  explicit BrokerSource(creds::CredentialBroker& broker) : broker_(broker) {}

  std::shared_ptr<const aws::Credentials> Cached(const metadata::Caller& caller) override {
    return caller.spec ? broker_.Cached(caller.spec->key) : nullptr;
  }

  Result<aws::Credentials> Fetch(const metadata::Caller& caller,
                                 metadata::SteadyTime deadline) override {
    if (!caller.spec) {
      return MakeError(ErrorCode::kFailedPrecondition, "this pod has no role to fetch");
    }
    return broker_.Get(*caller.spec, deadline);
  }

 private:
  creds::CredentialBroker& broker_;
};

}  // namespace podiam::agent
