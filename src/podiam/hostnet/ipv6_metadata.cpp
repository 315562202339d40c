#include "podiam/hostnet/ipv6_metadata.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>

namespace podiam::hostnet {

Result<Ipv6Mode> ParseIpv6Mode(std::string_view text) {
  if (text == "auto") {
    return Ipv6Mode::kAuto;
  }
  if (text == "on") {
    return Ipv6Mode::kOn;
  }
  if (text == "off") {
    return Ipv6Mode::kOff;
  }
  return MakeError(ErrorCode::kInvalidArgument,
                   "--ipv6-metadata must be auto, on or off, got '" + std::string(text) + "'");
}

bool HasRouteTo(const std::string& address) {
  sockaddr_in6 target{};
  target.sin6_family = AF_INET6;
  target.sin6_port = htons(80);
  if (inet_pton(AF_INET6, address.c_str(), &target.sin6_addr) != 1) {
    return false;
  }
  int fd = ::socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return false;  // no IPv6 in this kernel or namespace
  }
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): the sockets API
  bool routed = ::connect(fd, reinterpret_cast<const sockaddr*>(&target), sizeof(target)) == 0;
  ::close(fd);
  return routed;
}

bool PodsCanReach(const std::string& address) {
  std::ifstream forwarding("/proc/sys/net/ipv6/conf/all/forwarding");
  int value = 0;
  return forwarding >> value && value != 0 && HasRouteTo(address);
}

Ipv6MetadataRedirect::Ipv6MetadataRedirect(CommandRunner& runner, ReachProbe reachable,
                                           Ipv6RedirectOptions options)
    : runner_(runner), reachable_(std::move(reachable)), options_(std::move(options)) {}

Result<Ipv6Outcome> Ipv6MetadataRedirect::Install() {
  auto mode = ParseIpv6Mode(options_.mode);
  if (!mode) {
    return tl::unexpected(mode.error());
  }
  const std::string& addr = options_.metadata_addr;
  if (in6_addr parsed{}; !addr.empty() && inet_pton(AF_INET6, addr.c_str(), &parsed) != 1) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "--metadata-addr-v6 must be an IPv6 address or empty, got '" + addr + "'");
  }
  if (*mode == Ipv6Mode::kOff || addr.empty()) {
    if (!addr.empty() && reachable_(addr)) {
      return Ipv6Outcome{.warn = true,
                         .message =
                             "no IPv6 metadata DNAT rule (--ipv6-metadata=off) although "
                             "this node forwards IPv6 and has a route to " +
                             addr + ": pods with IPv6 may reach the node's own metadata service"};
    }
    return Ipv6Outcome{.message = "no IPv6 metadata DNAT rule (--ipv6-metadata=off)"};
  }
  if (options_.host_ip.empty()) {
    if (*mode == Ipv6Mode::kOn) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "--ipv6-metadata=on needs --host-ipv6, the node's IPv6 address the agent "
                       "listens on");
    }
    if (reachable_(addr)) {
      return MakeError(ErrorCode::kFailedPrecondition,
                       "this node forwards IPv6 and has a route to the IPv6 metadata address " +
                           addr +
                           ", so pods could reach the node's own metadata service (and its "
                           "credentials) over IPv6: set --host-ipv6 to this node's IPv6 address "
                           "(the agent then redirects it with ip6tables), or --ipv6-metadata=off "
                           "if pods have no IPv6 or the instance's IPv6 metadata endpoint is "
                           "disabled");
    }
    return Ipv6Outcome{.message = "no IPv6 metadata DNAT rule: pods cannot reach " + addr +
                                  " through this node (no route, or IPv6 forwarding off)"};
  }
  rule_.emplace(runner_, RedirectOptions{.host_interface = options_.host_interface,
                                         .host_ip = options_.host_ip,
                                         .port = options_.port,
                                         .metadata_addr = addr,
                                         .iptables = options_.ip6tables,
                                         .ipv6 = true});
  if (auto valid = rule_->Validate(); !valid) {
    return tl::unexpected(valid.error());
  }
  if (auto ok = rule_->Install(); !ok) {
    if (*mode == Ipv6Mode::kAuto && !reachable_(addr)) {
      return Ipv6Outcome{.warn = true,
                         .message = "cannot install the IPv6 metadata DNAT rule (" +
                                    ok.error().message() + "); not needed now: pods cannot reach " +
                                    addr + " through this node"};
    }
    return tl::unexpected(
        ok.error().Wrap("cannot install the IPv6 metadata DNAT rule, so pods could reach the "
                        "node's own metadata service over IPv6 (ip6tables with the nat table is "
                        "needed; --ipv6-metadata=off if pods have no IPv6)"));
  }
  installed_ = true;
  return Ipv6Outcome{.installed = true,
                     .message = "IPv6 metadata DNAT rule in place: [" + addr + "]:80 to [" +
                                options_.host_ip + "]:" + std::to_string(options_.port)};
}

Result<void> Ipv6MetadataRedirect::Remove() {
  if (!installed_ || !rule_) {
    return Ok();
  }
  if (auto ok = rule_->Remove(); !ok) {
    return ok;
  }
  installed_ = false;
  return Ok();
}

}  // namespace podiam::hostnet
