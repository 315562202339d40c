#include "podiam/app/agent_network.hpp"

#include <algorithm>
#include <thread>

namespace podiam::app {

MetadataRedirects::MetadataRedirects(const cli::HostnetFlags& flags, std::uint16_t port)
    : flags_(flags), port_(port) {}

Result<void> MetadataRedirects::Install(log::Logger& log) {
  if (!flags_.iptables) {
    return {};
  }
  v4_.emplace(runner_, hostnet::RedirectOptions{.host_interface = flags_.host_interface,
                                                .host_ip = flags_.host_ip,
                                                .port = port_,
                                                .metadata_addr = flags_.metadata_addr});
  if (auto ok = v4_->Install(); !ok) {
    failed_step_ = "iptables";
    return ok;
  }
  log.Info("metadata DNAT rule in place", {{"interface", flags_.host_interface},
                                           {"to", flags_.host_ip + ":" + std::to_string(port_)}});
  // [fd00:ec2::254]: docs/security.md
  v6_.emplace(runner_, hostnet::PodsCanReach,
              hostnet::Ipv6RedirectOptions{.mode = flags_.ipv6_metadata,
                                           .metadata_addr = flags_.metadata_addr_v6,
                                           .host_ip = flags_.host_ipv6,
                                           .host_interface = flags_.host_interface,
                                           .port = port_});
  auto v6 = v6_->Install();
  if (!v6) {
    failed_step_ = "ip6tables";
    return tl::unexpected(v6.error());
  }
  if (v6->warn) {
    log.Warn(v6->message);
  } else {
    log.Info(v6->message);
  }
  ipv6_listener_ = v6->installed;
  return {};
}

void MetadataRedirects::RemoveIfAsked(log::Logger& log) {
  if (!flags_.iptables_remove_on_exit) {
    return;
  }
  if (v4_) {
    if (auto ok = v4_->Remove(); !ok) {
      log.Warn("cannot remove the metadata DNAT rule", {{"error", ok.error().ToString()}});
    }
  }
  if (v6_) {
    if (auto ok = v6_->Remove(); !ok) {
      log.Warn("cannot remove the IPv6 metadata DNAT rule", {{"error", ok.error().ToString()}});
    }
  }
}

namespace {

int ImdsThreads(const cli::ListenerFlags& flags) {
  unsigned cores = std::max(1U, std::thread::hardware_concurrency());
  return flags.threads > 0 ? flags.threads : static_cast<int>(std::min(cores, 4U));
}

}  // namespace

MetadataListeners::MetadataListeners(const cli::ListenerFlags& flags, const http::HostPort& listen,
                                     std::optional<std::string> ipv6_host,
                                     transport::HttpServerMetrics& metrics,
                                     const std::shared_ptr<http::Handler>& handler)
    : listen_text_(flags.listen),
      ipv6_host_(listen.host != "::" ? std::move(ipv6_host) : std::nullopt),  // "::": all
      v4_({.address = listen.host,
           .port = listen.port,
           .threads = ImdsThreads(flags),
           .max_connections_per_client = static_cast<std::size_t>(flags.max_connections_per_pod),
           .name = "imds",
           .metrics = &metrics},
          handler) {
  if (ipv6_host_) {  // where the IPv6 DNAT rule points
    v6_.emplace(transport::HttpServerOptions{.address = *ipv6_host_,
                                             .port = listen.port,
                                             .threads = 1,
                                             .max_connections_per_client = static_cast<std::size_t>(
                                                 flags.max_connections_per_pod),
                                             .name = "imds",
                                             .metrics = &metrics},
                handler);
  }
}

Result<void> MetadataListeners::Start() {
  if (auto ok = v4_.Start(); !ok) {
    failed_step_ = "metadata listener " + listen_text_;
    return ok;
  }
  if (v6_) {
    if (auto ok = v6_->Start(); !ok) {
      failed_step_ = "metadata listener [" + *ipv6_host_ + "]";
      return ok;
    }
  }
  return {};
}

void MetadataListeners::Stop(std::chrono::milliseconds grace) {
  v4_.Stop(grace);
  if (v6_) {
    v6_->Stop(grace);
  }
}

}  // namespace podiam::app
