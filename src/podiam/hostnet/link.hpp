// The link-local addresses of the container-credentials endpoint on the node
// (docs/container-credentials.md, "Node set-up"): 169.254.170.23/32 and fd00:ec2::23/128, put on
// a link the agent owns so that pods' packets to them are delivered locally to the agent (which
// runs hostNetwork). Like the EKS Pod Identity agent, podiam makes a dummy link for them
// ("podiam-link0"); where the kernel cannot make one (no `dummy` module) or an operator wants the
// addresses elsewhere, `--container-credentials-link=<existing link>` (e.g. `lo`) is used as is.
//
// Commands (iproute2, through CommandRunner so tests see them; needs CAP_NET_ADMIN):
//   ip link show dev podiam-link0          exists already?
//   ip link add podiam-link0 type dummy     when it does not
//   ip link set podiam-link0 up
//   ip addr replace 169.254.170.23/32 dev podiam-link0
//   ip -6 addr replace fd00:ec2::23/128 dev podiam-link0 nodad
// Idempotent: a restarted agent finds the link and addresses in place. Nothing is removed on exit
// (pods keep resolving the endpoint across an agent upgrade).
//
// Thread-safety: none needed (called once at start).
//
//   hostnet::LinkAddresses link(runner, {.link = ""});
//   auto placed = link.Ensure();   // which addresses are in place; error says what to do
#pragma once

#include <string>
#include <vector>

#include "podiam/base/error.hpp"
#include "podiam/hostnet/iptables.hpp"

namespace podiam::hostnet {

struct LinkOptions {
  // --container-credentials-link: an existing link to put the addresses on. Empty: make (or
  // reuse) the dummy link `dummy_name`.
  std::string link;
  std::string dummy_name = "podiam-link0";
  std::vector<std::string> addresses = {"169.254.170.23", "fd00:ec2::23"};
  std::string ip = "ip";
};

struct PlacedAddresses {
  std::string link;
  std::vector<std::string> addresses;  // in place
  std::vector<std::string> warnings;   // addresses that could not be placed (IPv6 off, ...)
};

class LinkAddresses {
 public:
  LinkAddresses(CommandRunner& runner, LinkOptions options)
      : runner_(runner), options_(std::move(options)) {}
  // kFailedPrecondition (with what to do) when no address could be placed.
  Result<PlacedAddresses> Ensure();

 private:
  Result<std::string> Ip(std::vector<std::string> args);
  CommandRunner& runner_;
  LinkOptions options_;
};

}  // namespace podiam::hostnet
