// The agent's node-facing pieces: the metadata DNAT rules (IPv4 and, where pods could reach the
// IPv6 metadata address, IPv6) and the listeners pods' requests arrive at. Built by RunAgent
// (app/agent.cpp); the rules go in before the listeners start, so pods never fall through to
// the node's own metadata service.
//
// Thread-safety: from the controlling thread only.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "podiam/base/error.hpp"
#include "podiam/base/log.hpp"
#include "podiam/cli/config.hpp"
#include "podiam/hostnet/iptables.hpp"
#include "podiam/hostnet/ipv6_metadata.hpp"
#include "podiam/http/handler.hpp"
#include "podiam/http/host_port.hpp"
#include "podiam/transport/http_server.hpp"
#include "podiam/transport/metrics.hpp"

namespace podiam::app {

// --iptables: the DNAT rules towards `port` on --host-ip / --host-ipv6.
class MetadataRedirects {
 public:
  MetadataRedirects(const cli::HostnetFlags& flags, std::uint16_t port);

  // Nothing without --iptables. On error, failed_step() names the rule ("iptables",
  // "ip6tables"). Logs what was installed.
  Result<void> Install(log::Logger& log);
  // The IPv6 rule points at [--host-ipv6]:port, where the agent must then also listen.
  [[nodiscard]] bool needs_ipv6_listener() const { return ipv6_listener_; }
  [[nodiscard]] const char* failed_step() const { return failed_step_; }
  // With --iptables-remove-on-exit only: otherwise the rules stay, so that pods never reach the
  // node's metadata service while no agent runs.
  void RemoveIfAsked(log::Logger& log);

 private:
  cli::HostnetFlags flags_;
  std::uint16_t port_;
  hostnet::SubprocessRunner runner_;
  std::optional<hostnet::MetadataRedirect> v4_;
  std::optional<hostnet::Ipv6MetadataRedirect> v6_;
  bool ipv6_listener_ = false;
  const char* failed_step_ = "";
};

// The metadata listener (--listen) and, when the IPv6 rule needs it, one on [--host-ipv6].
class MetadataListeners {
 public:
  MetadataListeners(const cli::ListenerFlags& flags, const http::HostPort& listen,
                    std::optional<std::string> ipv6_host, transport::HttpServerMetrics& metrics,
                    const std::shared_ptr<http::Handler>& handler);

  // On error, failed_step() names the listener.
  Result<void> Start();
  void Stop(std::chrono::milliseconds grace);
  [[nodiscard]] std::uint16_t port() const { return v4_.port(); }
  [[nodiscard]] const std::string& failed_step() const { return failed_step_; }

 private:
  std::string listen_text_;
  std::optional<std::string> ipv6_host_;
  transport::HttpServer v4_;
  std::optional<transport::HttpServer> v6_;
  std::string failed_step_;
};

}  // namespace podiam::app
