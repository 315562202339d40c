// CredentialBroker's log line of a finished fetch (kept apart to keep credential_broker.cpp
// short; written outside the broker's lock).
#include "podiam/creds/credential_broker.hpp"

namespace podiam::creds {

void CredentialBroker::LogOutcome(const FetchOutcome& o) const {
  if (o.ok) {
    log_.Debug("credentials fetched", {{"role", o.role},
                                       {"session", o.session},
                                       {"reason", o.reason},
                                       {"expires", o.expires},
                                       {"refresh_at", o.refresh_at}});
    return;
  }
  log_.Warn("credential fetch failed", {{"role", o.role},
                                        {"session", o.session},
                                        {"reason", o.reason},
                                        {"error", o.error},
                                        {"failures", o.failures},
                                        {"serving_previous", o.serving_previous},
                                        {"retry_in_ms", o.retry_in_ms}});
}

}  // namespace podiam::creds
