// The podiam server's Service endpoints, for `podiam agent --server-service NS/NAME[:PORT]`
// (docs/agent.md "Server mode", "Service endpoints"): the agent watches the Service's
// discovery.k8s.io/v1 EndpointSlices (label kubernetes.io/service-name=NAME in NS) and hands the
// ready endpoints' URLs to the server source, which tries them after the --server URLs.
//
// Which endpoints (EndpointSlice v1 conditions; a missing condition as the API reference says):
//   - ready (missing = true): tried, in address order;
//   - not ready but serving and terminating (a replica draining during a rollout): tried only
//     after every ready one;
//   - otherwise (not serving): not tried. addressType FQDN slices are ignored (IPv4 and IPv6 only).
// Port: the slice's port named ServiceRef::port, or with that number; without one, the port
// named "https", else the slice's only port. A slice without such a port contributes nothing.
// URL: https://IP:PORT (an IPv6 address in brackets); an address that is not one of the slice's
// family is skipped.
//
// Thread-safety: EndpointSliceFromJson and ServerUrls are pure. ServiceEndpoints: construct and
// Watch() from the controlling thread; its callback runs on the informer's thread.
//
//   serverdiscovery::ServiceEndpoints service(*ref, [&](auto urls) { source.SetDiscovered(urls);
//   }); kube.Watch(service.cache(), service.InformerOptions());
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "podiam/base/error.hpp"
#include "podiam/base/log.hpp"
#include "podiam/k8s/cache.hpp"
#include "podiam/k8s/informer.hpp"
#include "podiam/serverclient/endpoints.hpp"

namespace podiam::serverdiscovery {

struct SliceEndpoint {
  std::vector<std::string> addresses;
  bool ready = true;
  bool serving = true;
  bool terminating = false;
};

struct SlicePort {
  std::string name;
  int port = 0;
};

struct EndpointSliceView {
  std::string namespace_name;
  std::string name;
  std::string uid;
  std::string resource_version;
  std::string address_type;  // "IPv4", "IPv6" or "FQDN"
  std::vector<SlicePort> ports;
  std::vector<SliceEndpoint> endpoints;

  [[nodiscard]] std::string Key() const { return namespace_name + "/" + name; }
  [[nodiscard]] std::size_t MemoryBytes() const;
};

// kInvalidArgument when metadata (name, namespace) is missing; malformed entries (a port without
// a number, an endpoint without addresses, wrong JSON types) are skipped, not fatal.
Result<EndpointSliceView> EndpointSliceFromJson(const k8s::Json& object);

// The URLs to try, ready endpoints first, then serving terminating ones; each group sorted,
// no duplicates. `port`: ServiceRef::port.
std::vector<std::string> ServerUrls(
    const std::vector<std::shared_ptr<const EndpointSliceView>>& slices, std::string_view port);

class EndpointSliceCache final : public k8s::Cache<EndpointSliceView> {
 public:
  EndpointSliceCache() : Cache(EndpointSliceFromJson, "EndpointSlice") {}
};

class ServiceEndpoints {
 public:
  using OnChange = std::function<void(const std::vector<std::string>& urls)>;
  // `on_change` gets the whole URL list whenever a slice is added, changed or deleted.
  ServiceEndpoints(serverclient::ServiceRef service, OnChange on_change);

  k8s::InformerSink& cache() { return cache_; }
  // The Service's slices: label kubernetes.io/service-name=NAME in its namespace.
  [[nodiscard]] k8s::InformerOptions InformerOptions() const;
  [[nodiscard]] std::vector<std::string> Urls() const;

 private:
  void Changed();

  const serverclient::ServiceRef service_;
  OnChange on_change_;
  EndpointSliceCache cache_;
  std::vector<std::string> last_;  // informer thread only
  log::Logger log_{"serverdiscovery"};
};

}  // namespace podiam::serverdiscovery
