// Fuzzes the agent's reading of the podiam server Service's EndpointSlices
// (serverdiscovery/endpoint_slices.hpp: EndpointSliceFromJson, ServerUrls) and
// serverclient::ParseServiceRef (the --server-service value).
//
// Input layout (docs/fuzzing.md):
//   byte 0     which port to ask for: 0 none, 1 "https", 2 "metrics", else its value as a number
//   rest       the EndpointSlice JSON (also, up to the first newline, a --server-service value)
//
// Invariants: nothing but valid JSON objects with metadata name and namespace parses; every URL
// is "https://" + an address of the slice's family without '/', '?', '#', '@' or space (IPv6 in
// brackets, exactly when the slice is IPv6) + ":" + a port in 1..65535 that the slice lists; no URL
// twice; every URL names an address of a ready endpoint or a serving terminating one; a parsed
// ServiceRef is made of DNS labels and its DnsName is NAME.NAMESPACE.svc.
#include <arpa/inet.h>
#include <netinet/in.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <string_view>

#include "fuzz/fuzz_input.hpp"
#include "podiam/serverdiscovery/endpoint_slices.hpp"

namespace podiam::serverdiscovery {
namespace {

void CheckUrls(const EndpointSliceView& view, const std::string& port) {
  auto urls = ServerUrls({std::make_shared<const EndpointSliceView>(view)}, port);
  std::set<std::string> seen;
  for (const std::string& url : urls) {
    FUZZ_CHECK(seen.insert(url).second, "a URL twice");
    FUZZ_CHECK(url.rfind("https://", 0) == 0, "not https");
    const auto colon = url.rfind(':');
    FUZZ_CHECK(colon != std::string::npos && colon > 8, "no port");
    const std::string number = url.substr(colon + 1);
    FUZZ_CHECK(!number.empty() && number.size() <= 5, "bad port text");
    const int p = std::stoi(number);
    FUZZ_CHECK(p >= 1 && p <= 65535, "port out of range");
    bool listed = false;
    for (const SlicePort& sp : view.ports) {
      listed = listed || sp.port == p;
    }
    FUZZ_CHECK(listed, "a port the slice does not list");
    std::string host = url.substr(8, colon - 8);
    const bool v6 = view.address_type == "IPv6";
    FUZZ_CHECK(view.address_type == "IPv4" || v6, "a URL from an FQDN (or unknown) slice");
    if (v6) {
      FUZZ_CHECK(host.size() >= 2 && host.front() == '[' && host.back() == ']', "IPv6 unbracketed");
      host = host.substr(1, host.size() - 2);
    }
    FUZZ_CHECK(host.find_first_of("/?#@ ") == std::string::npos, "unsafe character in a host");
    std::array<unsigned char, sizeof(in6_addr)> buffer{};
    FUZZ_CHECK(host.find('\0') == std::string::npos &&
                   inet_pton(v6 ? AF_INET6 : AF_INET, host.c_str(), buffer.data()) == 1,
               "not an address of the slice's family");
    bool usable = false;
    for (const SliceEndpoint& e : view.endpoints) {
      if (!e.addresses.empty() && e.addresses.front() == host) {
        usable = usable || (e.ready && !e.terminating) || (e.serving && e.terminating);
      }
    }
    FUZZ_CHECK(usable, "a URL for an endpoint that is neither ready nor serving-terminating");
  }
}

void CheckServiceRef(std::string_view text) {
  auto ref = serverclient::ParseServiceRef(text);
  if (!ref) {
    FUZZ_CHECK(ref.error().code() == ErrorCode::kInvalidArgument, "not kInvalidArgument");
    return;
  }
  for (const std::string* s : {&ref->namespace_name, &ref->name}) {
    FUZZ_CHECK(!s->empty() && s->size() <= 63, "label length");
    for (char c : *s) {
      FUZZ_CHECK((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-', "label character");
    }
  }
  FUZZ_CHECK(ref->DnsName() == ref->name + "." + ref->namespace_name + ".svc", "DNS name");
}

}  // namespace
}  // namespace podiam::serverdiscovery

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace podiam::serverdiscovery;  // NOLINT(google-build-using-namespace)
  podiam::fuzz::Input in(data, size);
  const int which = in.Byte();
  const std::string port = which == 0   ? ""
                           : which == 1 ? "https"
                           : which == 2 ? "metrics"
                                        : std::to_string(which);
  std::string_view rest = in.Rest();
  CheckServiceRef(rest.substr(0, rest.find('\n')));
  auto doc = nlohmann::json::parse(rest, nullptr, /*allow_exceptions=*/false);
  auto view = EndpointSliceFromJson(doc);
  if (!view) {
    FUZZ_CHECK(view.error().code() == podiam::ErrorCode::kInvalidArgument, "not kInvalidArgument");
    return 0;
  }
  FUZZ_CHECK(doc.is_object(), "a non-object parsed");
  FUZZ_CHECK(!view->name.empty() && !view->namespace_name.empty(), "parsed without metadata");
  CheckUrls(*view, port);
  return 0;
}
