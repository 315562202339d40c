// The IPv6 metadata endpoint: on instances where it is enabled, the node's metadata service also
// answers at [fd00:ec2::254]:80, and the IPv4 DNAT rule does nothing for it. Ipv6MetadataRedirect
// decides at start-up whether pods need the equivalent ip6tables rule, installs it, or refuses to
// let the agent start when pods could reach the node's metadata service over IPv6 and nothing
// covers it (docs/security.md, "The IPv6 metadata endpoint").
//
// Modes (--ipv6-metadata):
//   on    the rule is required: --host-ipv6 must be set and ip6tables must work, else an error.
//   auto  (default) with --host-ipv6 the rule is installed; a failure is an error when pods can
//         reach the IPv6 metadata address through the node and a warning when they cannot.
//         Without --host-ipv6 the agent refuses to start when pods can reach it.
//   off   no rule (also when --metadata-addr-v6 is empty); a warning when pods can reach it.
// "Pods can reach it" is a ReachProbe, by default PodsCanReach(): the node forwards IPv6
// (net.ipv6.conf.all.forwarding=1, as IPv6 and dual-stack clusters need; an IPv4-only cluster's
// node does not, so its pods' IPv6 packets go nowhere) and has a route to the address (a UDP
// connect() in the node's network namespace, which asks the kernel and sends nothing).
//
// Thread-safety: not thread-safe; used once at start-up and at exit.
//
//   hostnet::Ipv6MetadataRedirect v6(runner, hostnet::PodsCanReach,
//                                    {.mode = "auto", .host_ip = "fd00:10::5",
//                                     .host_interface = "cali+", .port = 8181});
//   auto outcome = v6.Install();   // error: refuse to start; outcome->installed: listen there
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "podiam/base/error.hpp"
#include "podiam/hostnet/iptables.hpp"

namespace podiam::hostnet {

enum class Ipv6Mode { kAuto, kOn, kOff };

// "auto", "on" or "off".
Result<Ipv6Mode> ParseIpv6Mode(std::string_view text);

// Whether this network namespace has a route to `address` (an IPv6 address): connect() on a UDP
// socket, which looks the route up and sends no packet. False without a route, for a malformed
// address, and when the kernel has no IPv6 at all.
bool HasRouteTo(const std::string& address);

// Whether pods' IPv6 packets to `address` can leave through this node: IPv6 forwarding is on
// (/proc/sys/net/ipv6/conf/all/forwarding) and HasRouteTo(address).
bool PodsCanReach(const std::string& address);

using ReachProbe = std::function<bool(const std::string& address)>;

struct Ipv6RedirectOptions {
  std::string mode = "auto";                    // --ipv6-metadata: auto | on | off
  std::string metadata_addr = "fd00:ec2::254";  // --metadata-addr-v6; empty: off
  std::string host_ip;                          // --host-ipv6: the DNAT target, where the agent
                                                // listens; empty: none
  std::string host_interface;                   // --host-interface
  int port = 8181;                              // the agent's metadata port
  std::string ip6tables = "ip6tables";
};

struct Ipv6Outcome {
  bool installed = false;  // the rule is in place: the agent must listen on [host_ip]:port
  bool warn = false;       // `message` is a warning, not information
  std::string message;     // one line for the log
};

class Ipv6MetadataRedirect {
 public:
  Ipv6MetadataRedirect(CommandRunner& runner, ReachProbe reachable, Ipv6RedirectOptions options);

  // Decides and, when called for, installs the rule (idempotently). An error means the agent
  // must not start; its message says what to set.
  Result<Ipv6Outcome> Install();
  // Deletes the rule if Install() put it in place (--iptables-remove-on-exit); else nothing.
  Result<void> Remove();

 private:
  CommandRunner& runner_;
  ReachProbe reachable_;
  Ipv6RedirectOptions options_;
  std::optional<MetadataRedirect> rule_;
  bool installed_ = false;
};

}  // namespace podiam::hostnet
