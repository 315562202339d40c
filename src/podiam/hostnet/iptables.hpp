// Node networking for the agent: the DNAT rule that sends pods' metadata requests
// (169.254.169.254:80) to the agent instead of the node's real metadata service.
//
// The rule is installed idempotently (checked with `iptables -C` before `-A`) and, by default,
// left in place when the agent exits, so a restart or upgrade never opens a window in which pods
// reach the node's own metadata service and its credentials (kube2iam removes it on exit).
// Interfaces follow kube2iam and kiam: "cni0", a prefix wildcard "cali+", or a negation "!eth0".
// This is the only code that needs CAP_NET_ADMIN; commands run through a CommandRunner port so
// the rule construction is unit-tested without root.
//
// Thread-safety: not thread-safe; used once at start-up and at exit.
//
//   hostnet::SubprocessRunner runner;
//   hostnet::MetadataRedirect redirect(runner, {.host_interface = "cali+", .host_ip = "10.0.0.5",
//                                               .port = 8181});
//   if (auto ok = redirect.Install(); !ok) { ... }
#pragma once

#include <string>
#include <vector>

#include "podiam/base/error.hpp"

namespace podiam::hostnet {

class CommandRunner {
 public:
  virtual ~CommandRunner() = default;
  // Runs argv (argv[0] looked up in PATH) and returns its exit status; `output` receives stdout
  // and stderr. An error only when the command could not be started at all.
  virtual Result<int> Run(const std::vector<std::string>& argv, std::string* output) = 0;
};

class SubprocessRunner final : public CommandRunner {
 public:
  Result<int> Run(const std::vector<std::string>& argv, std::string* output) override;
};

struct RedirectOptions {
  std::string host_interface;  // required: "cni0", "cali+", "!eth0"
  std::string host_ip;         // required: the node address the agent listens on
  int port = 8181;
  std::string metadata_addr = "169.254.169.254";  // --metadata-addr
  std::string iptables;  // the command; empty: "iptables", or "ip6tables" with `ipv6`
  // The IPv6 rule: ip6tables, IPv6 addresses, "-d <addr>/128", target "[<host_ip>]:<port>".
  bool ipv6 = false;
};

class MetadataRedirect {
 public:
  MetadataRedirect(CommandRunner& runner, RedirectOptions options)
      : runner_(runner), options_(std::move(options)) {}

  // Checks the options (interface syntax, addresses of the rule's family, port) without running
  // anything.
  [[nodiscard]] Result<void> Validate() const;
  // Adds the rule unless an identical one exists.
  Result<void> Install() { return Change(true); }
  // Deletes the rule if present (--iptables-remove-on-exit).
  Result<void> Remove() { return Change(false); }
  // The rule's match and target, after "-t nat <op> PREROUTING".
  [[nodiscard]] std::vector<std::string> RuleSpec() const;

 private:
  Result<bool> Exists();
  Result<void> Change(bool install);
  Result<int> RunRule(std::string_view op, std::string* output);
  [[nodiscard]] std::string Command() const;
  CommandRunner& runner_;
  RedirectOptions options_;
};

}  // namespace podiam::hostnet
