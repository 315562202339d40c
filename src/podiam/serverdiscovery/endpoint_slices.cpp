#include "podiam/serverdiscovery/endpoint_slices.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <utility>

#include "podiam/k8s/resource.hpp"
#include "podiam/k8s/views.hpp"

namespace podiam::serverdiscovery {
namespace {

std::string StringAt(const k8s::Json& object, const char* key) {
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// A condition: its boolean, or `missing` when absent or not a boolean (null included).
bool Condition(const k8s::Json& conditions, const char* key, bool missing) {
  if (!conditions.is_object()) {
    return missing;
  }
  auto it = conditions.find(key);
  return it != conditions.end() && it->is_boolean() ? it->get<bool>() : missing;
}

bool IsNumber(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// The port of `slice` to connect to (0: none fits).
int PickPort(const EndpointSliceView& slice, std::string_view wanted) {
  if (!wanted.empty()) {
    int number = 0;
    if (IsNumber(wanted)) {
      std::from_chars(wanted.data(), wanted.data() + wanted.size(), number);
    }
    for (const SlicePort& p : slice.ports) {
      if ((number != 0 && p.port == number) || (number == 0 && p.name == wanted)) {
        return p.port;
      }
    }
    return 0;
  }
  for (const SlicePort& p : slice.ports) {
    if (p.name == "https") {
      return p.port;
    }
  }
  return slice.ports.size() == 1 ? slice.ports.front().port : 0;
}

bool IsAddress(const std::string& text, bool v6) {
  std::array<unsigned char, sizeof(in6_addr)> buffer{};
  return text.find('\0') == std::string::npos &&  // inet_pton would stop there
         inet_pton(v6 ? AF_INET6 : AF_INET, text.c_str(), buffer.data()) == 1;
}

}  // namespace

std::size_t EndpointSliceView::MemoryBytes() const {
  std::size_t bytes = sizeof(EndpointSliceView) + k8s::StringHeapBytes(namespace_name) +
                      k8s::StringHeapBytes(name) + k8s::StringHeapBytes(uid) +
                      k8s::StringHeapBytes(resource_version) + k8s::StringHeapBytes(address_type);
  for (const SlicePort& p : ports) {
    bytes += sizeof(SlicePort) + k8s::StringHeapBytes(p.name);
  }
  for (const SliceEndpoint& e : endpoints) {
    bytes += sizeof(SliceEndpoint);
    for (const std::string& a : e.addresses) {
      bytes += sizeof(std::string) + k8s::StringHeapBytes(a);
    }
  }
  return bytes;
}

Result<EndpointSliceView> EndpointSliceFromJson(const k8s::Json& object) {
  if (!object.is_object()) {
    return MakeError(ErrorCode::kInvalidArgument, "EndpointSlice: not an object");
  }
  auto meta = object.find("metadata");
  if (meta == object.end() || !meta->is_object() || StringAt(*meta, "name").empty() ||
      StringAt(*meta, "namespace").empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "EndpointSlice: no metadata.name/namespace");
  }
  EndpointSliceView out{.namespace_name = StringAt(*meta, "namespace"),
                        .name = StringAt(*meta, "name"),
                        .uid = StringAt(*meta, "uid"),
                        .resource_version = StringAt(*meta, "resourceVersion"),
                        .address_type = StringAt(object, "addressType")};
  if (auto ports = object.find("ports"); ports != object.end() && ports->is_array()) {
    for (const k8s::Json& p : *ports) {
      if (!p.is_object()) {
        continue;
      }
      auto number = p.find("port");
      const std::string protocol = StringAt(p, "protocol");
      if (number == p.end() || !number->is_number_integer() ||
          (!protocol.empty() && protocol != "TCP")) {
        continue;
      }
      const auto value = number->get<std::int64_t>();
      if (value < 1 || value > 65535) {
        continue;
      }
      out.ports.push_back({.name = StringAt(p, "name"), .port = static_cast<int>(value)});
    }
  }
  if (auto endpoints = object.find("endpoints");
      endpoints != object.end() && endpoints->is_array()) {
    for (const k8s::Json& e : *endpoints) {
      if (!e.is_object()) {
        continue;
      }
      SliceEndpoint endpoint;
      if (auto addresses = e.find("addresses"); addresses != e.end() && addresses->is_array()) {
        for (const k8s::Json& a : *addresses) {
          if (a.is_string() && !a.get_ref<const std::string&>().empty()) {
            endpoint.addresses.push_back(a.get<std::string>());
          }
        }
      }
      if (endpoint.addresses.empty()) {
        continue;
      }
      const k8s::Json empty;
      auto conditions = e.find("conditions");
      const k8s::Json& c = conditions == e.end() ? empty : *conditions;
      endpoint.ready = Condition(c, "ready", true);
      endpoint.serving = Condition(c, "serving", endpoint.ready);
      endpoint.terminating = Condition(c, "terminating", false);
      out.endpoints.push_back(std::move(endpoint));
    }
  }
  return out;
}

std::vector<std::string> ServerUrls(
    const std::vector<std::shared_ptr<const EndpointSliceView>>& slices, std::string_view port) {
  std::vector<std::string> ready;
  std::vector<std::string> draining;
  for (const auto& slice : slices) {
    if (!slice || (slice->address_type != "IPv4" && slice->address_type != "IPv6")) {
      continue;
    }
    const int number = PickPort(*slice, port);
    if (number == 0) {
      continue;
    }
    const bool v6 = slice->address_type == "IPv6";
    for (const SliceEndpoint& e : slice->endpoints) {
      std::vector<std::string>* into = nullptr;
      if (e.ready && !e.terminating) {
        into = &ready;
      } else if (e.serving && e.terminating) {
        into = &draining;
      }
      if (into == nullptr) {
        continue;
      }
      // Every address of an endpoint is the same backend; the API says to use the first. It
      // must be an address of the slice's family (nothing else goes into a URL).
      const std::string& a = e.addresses.front();
      if (!IsAddress(a, v6)) {
        continue;
      }
      into->push_back("https://" + (v6 ? "[" + a + "]" : a) + ":" + std::to_string(number));
    }
  }
  for (auto* group : {&ready, &draining}) {
    std::sort(group->begin(), group->end());
    group->erase(std::unique(group->begin(), group->end()), group->end());
  }
  for (std::string& url : draining) {
    if (std::find(ready.begin(), ready.end(), url) == ready.end()) {
      ready.push_back(std::move(url));
    }
  }
  return ready;
}

ServiceEndpoints::ServiceEndpoints(serverclient::ServiceRef service, OnChange on_change)
    : service_(std::move(service)), on_change_(std::move(on_change)) {
  cache_.AddHandlers({.on_add = [this](const auto&) { Changed(); },
                      .on_update = [this](const auto&, const auto&) { Changed(); },
                      .on_delete = [this](const auto&) { Changed(); }});
}

k8s::InformerOptions ServiceEndpoints::InformerOptions() const {
  return {.resource = k8s::resources::EndpointSlices(),
          .namespace_name = service_.namespace_name,
          .label_selector = "kubernetes.io/service-name=" + service_.name};
}

std::vector<std::string> ServiceEndpoints::Urls() const {
  return ServerUrls(cache_.List(), service_.port);
}

void ServiceEndpoints::Changed() {
  std::vector<std::string> urls = Urls();
  if (urls == last_) {
    return;
  }
  log_.Info("podiam server Service endpoints",
            {{"service", service_.namespace_name + "/" + service_.name},
             {"endpoints", urls.size()},
             {"was", last_.size()}});
  last_ = urls;
  on_change_(urls);
}

}  // namespace podiam::serverdiscovery
