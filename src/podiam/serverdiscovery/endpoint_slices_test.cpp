#include "podiam/serverdiscovery/endpoint_slices.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace podiam::serverdiscovery {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

k8s::Json Slice(const std::string& name, const std::string& type, k8s::Json endpoints,
                k8s::Json ports = k8s::Json::array({{{"name", "https"}, {"port", 8443}}}),
                const std::string& rv = "1") {
  return {{"apiVersion", "discovery.k8s.io/v1"},
          {"kind", "EndpointSlice"},
          {"metadata",
           {{"name", name},
            {"namespace", "kube-system"},
            {"uid", "uid-" + name},
            {"resourceVersion", rv},
            {"labels", {{"kubernetes.io/service-name", "podiam-server"}}}}},
          {"addressType", type},
          {"ports", std::move(ports)},
          {"endpoints", std::move(endpoints)}};
}

k8s::Json Endpoint(const std::string& address, k8s::Json conditions = k8s::Json::object()) {
  return {{"addresses", {address}}, {"conditions", std::move(conditions)}};
}

std::vector<std::string> Urls(const std::vector<k8s::Json>& objects, std::string_view port = "") {
  std::vector<std::shared_ptr<const EndpointSliceView>> views;
  for (const auto& o : objects) {
    auto v = EndpointSliceFromJson(o);
    EXPECT_TRUE(v) << v.error().ToString();
    views.push_back(std::make_shared<const EndpointSliceView>(std::move(*v)));
  }
  return ServerUrls(views, port);
}

TEST(EndpointSlicesTest, ReadyFirstThenServingTerminatingNeverNotServing) {
  auto urls = Urls({Slice(
      "a", "IPv4",
      {Endpoint("10.0.0.3", {{"ready", true}, {"serving", true}, {"terminating", false}}),
       Endpoint("10.0.0.1"),  // no conditions: ready (API: nil ready means true)
       Endpoint("10.0.0.2", {{"ready", false}, {"serving", true}, {"terminating", true}}),
       Endpoint("10.0.0.4", {{"ready", false}, {"serving", false}, {"terminating", true}}),
       Endpoint("10.0.0.5", {{"ready", false}}),  // not ready, not terminating: starting
       Endpoint("10.0.0.6", {{"ready", false}, {"terminating", true}})})});  // serving: as ready
  EXPECT_THAT(
      urls, ElementsAre("https://10.0.0.1:8443", "https://10.0.0.3:8443", "https://10.0.0.2:8443"));
}

TEST(EndpointSlicesTest, Ipv6IsBracketedAndFqdnIgnored) {
  auto urls = Urls({Slice("v6", "IPv6", {Endpoint("fd00::7")}),
                    Slice("fqdn", "FQDN", {Endpoint("server.example")}),
                    Slice("v4", "IPv4", {Endpoint("10.0.0.1")})});
  EXPECT_THAT(urls, ElementsAre("https://10.0.0.1:8443", "https://[fd00::7]:8443"));
}

TEST(EndpointSlicesTest, PortByNameNumberHttpsOrTheOnlyOne) {
  k8s::Json two = k8s::Json::array(
      {{{"name", "metrics"}, {"port", 9620}}, {{"name", "https"}, {"port", 8443}}});
  EXPECT_THAT(Urls({Slice("a", "IPv4", {Endpoint("10.0.0.1")}, two)}),
              ElementsAre("https://10.0.0.1:8443"));
  EXPECT_THAT(Urls({Slice("a", "IPv4", {Endpoint("10.0.0.1")}, two)}, "metrics"),
              ElementsAre("https://10.0.0.1:9620"));
  EXPECT_THAT(Urls({Slice("a", "IPv4", {Endpoint("10.0.0.1")}, two)}, "9620"),
              ElementsAre("https://10.0.0.1:9620"));
  EXPECT_THAT(Urls({Slice("a", "IPv4", {Endpoint("10.0.0.1")}, two)}, "grpc"), IsEmpty());
  k8s::Json only = k8s::Json::array({{{"port", 443}}});  // unnamed: a single-port Service
  EXPECT_THAT(Urls({Slice("a", "IPv4", {Endpoint("10.0.0.1")}, only)}),
              ElementsAre("https://10.0.0.1:443"));
  k8s::Json unnamed_two =
      k8s::Json::array({{{"name", "a"}, {"port", 1}}, {{"name", "b"}, {"port", 2}}});
  EXPECT_THAT(Urls({Slice("a", "IPv4", {Endpoint("10.0.0.1")}, unnamed_two)}), IsEmpty());
  k8s::Json udp = k8s::Json::array({{{"name", "https"}, {"port", 8443}, {"protocol", "UDP"}}});
  EXPECT_THAT(Urls({Slice("a", "IPv4", {Endpoint("10.0.0.1")}, udp)}), IsEmpty());
}

TEST(EndpointSlicesTest, MalformedPartsAreSkippedNotFatal) {
  k8s::Json slice = Slice("a", "IPv4",
                          {Endpoint("10.0.0.1"), k8s::Json{{"addresses", k8s::Json::array()}},
                           k8s::Json("junk"), k8s::Json{{"addresses", {42}}},
                           Endpoint("10.0.0.2", {{"ready", "yes"}}),  // not a bool: missing
                           Endpoint("10.0.0.3/8"), Endpoint("fd00::1"), Endpoint("10.0.0.4:1"),
                           Endpoint(std::string("10.0.0.5\0/x", 11))},
                          k8s::Json::array({{{"name", "https"}, {"port", "8443"}},
                                            {{"name", "https"}, {"port", 70000}},
                                            {{"name", "https"}, {"port", 8443}}}));
  EXPECT_THAT(Urls({slice}), ElementsAre("https://10.0.0.1:8443", "https://10.0.0.2:8443"));
  EXPECT_FALSE(EndpointSliceFromJson(k8s::Json::array()));
  EXPECT_FALSE(EndpointSliceFromJson(k8s::Json{{"metadata", {{"name", "x"}}}}));
}

TEST(ServiceEndpointsTest, CallsBackWithTheWholeListWhenSlicesChange) {
  std::vector<std::vector<std::string>> seen;
  ServiceEndpoints service({.namespace_name = "kube-system", .name = "podiam-server"},
                           [&](const std::vector<std::string>& urls) { seen.push_back(urls); });
  auto options = service.InformerOptions();
  EXPECT_EQ(options.resource.plural, "endpointslices");
  EXPECT_EQ(options.resource.group, "discovery.k8s.io");
  EXPECT_EQ(options.namespace_name, "kube-system");
  EXPECT_EQ(options.label_selector, "kubernetes.io/service-name=podiam-server");

  k8s::InformerSink& sink = service.cache();
  sink.BeginList();
  sink.ListItem(Slice("a", "IPv4", {Endpoint("10.0.0.1")}));
  sink.EndList();
  ASSERT_EQ(seen.size(), 1U);
  EXPECT_THAT(seen.back(), ElementsAre("https://10.0.0.1:8443"));
  // A second slice of the same Service.
  sink.Event(k8s::WatchEventType::kAdded, Slice("b", "IPv4", {Endpoint("10.0.0.2")}));
  EXPECT_THAT(seen.back(), ElementsAre("https://10.0.0.1:8443", "https://10.0.0.2:8443"));
  // The first replica starts terminating: it moves behind the ready one.
  sink.Event(
      k8s::WatchEventType::kModified,
      Slice("a", "IPv4",
            {Endpoint("10.0.0.1", {{"ready", false}, {"serving", true}, {"terminating", true}})},
            k8s::Json::array({{{"name", "https"}, {"port", 8443}}}), "2"));
  EXPECT_THAT(seen.back(), ElementsAre("https://10.0.0.2:8443", "https://10.0.0.1:8443"));
  // A change that leaves the URLs as they were is not reported again.
  const auto count = seen.size();
  sink.Event(k8s::WatchEventType::kModified,
             Slice("b", "IPv4", {Endpoint("10.0.0.2")},
                   k8s::Json::array({{{"name", "https"}, {"port", 8443}}}), "3"));
  EXPECT_EQ(seen.size(), count);
  sink.Event(k8s::WatchEventType::kDeleted, Slice("a", "IPv4", k8s::Json::array()));
  EXPECT_THAT(seen.back(), ElementsAre("https://10.0.0.2:8443"));
}

}  // namespace
}  // namespace podiam::serverdiscovery
