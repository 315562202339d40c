#include "podiam/hostnet/iptables.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cctype>

extern char** environ;  // NOLINT(readability-identifier-naming): POSIX name

namespace podiam::hostnet {
namespace {

bool IsIpv4(const std::string& text) {
  in_addr addr{};
  return inet_pton(AF_INET, text.c_str(), &addr) == 1;
}

// A unicast IPv6 address usable as a DNAT target or match: not "::", not IPv4-mapped, not
// link-local (which would need a zone) and not multicast.
bool IsUnicastIpv6(const std::string& text) {
  in6_addr addr{};
  if (inet_pton(AF_INET6, text.c_str(), &addr) != 1) {
    return false;
  }
  return IN6_IS_ADDR_UNSPECIFIED(&addr) == 0 && IN6_IS_ADDR_V4MAPPED(&addr) == 0 &&
         IN6_IS_ADDR_LINKLOCAL(&addr) == 0 && IN6_IS_ADDR_MULTICAST(&addr) == 0;
}

// Linux interface names: 1-15 characters, no '/', whitespace or ':'; "+" only as a final wildcard.
bool IsInterfacePattern(std::string_view name) {
  if (name.starts_with('!')) {
    name.remove_prefix(1);
  }
  if (name.ends_with('+')) {
    name.remove_suffix(1);
  }
  if (name.empty() || name.size() > 15) {
    return false;
  }
  for (char c : name) {
    if (std::isalnum(static_cast<unsigned char>(c)) == 0 && c != '-' && c != '_' && c != '.' &&
        c != '@') {
      return false;
    }
  }
  return true;
}

}  // namespace

Result<int> SubprocessRunner::Run(const std::vector<std::string>& argv, std::string* output) {
  if (argv.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "empty command");
  }
  std::array<int, 2> pipe_fds{};
  if (pipe2(pipe_fds.data(), O_CLOEXEC) != 0) {
    return MakeError(ErrorCode::kInternal, "pipe failed");
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDERR_FILENO);
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const auto& a : argv) {
    args.push_back(const_cast<char*>(a.c_str()));  // NOLINT: posix_spawn's signature
  }
  args.push_back(nullptr);
  pid_t pid = 0;
  int rc = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(pipe_fds[1]);
  if (rc != 0) {
    close(pipe_fds[0]);
    return MakeError(ErrorCode::kFailedPrecondition,
                     "cannot run " + argv[0] + ": not found or not executable");
  }
  std::string collected;
  std::array<char, 4096> buffer{};
  for (ssize_t n = 0; (n = read(pipe_fds[0], buffer.data(), buffer.size())) > 0;) {
    collected.append(buffer.data(), static_cast<std::size_t>(n));
  }
  close(pipe_fds[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (output != nullptr) {
    *output = std::move(collected);
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

Result<void> MetadataRedirect::Validate() const {
  if (!IsInterfacePattern(options_.host_interface)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "--host-interface must be an interface name, a prefix with '+' (cali+) or a "
                     "negation (!eth0), got '" +
                         options_.host_interface + "'");
  }
  if (options_.ipv6) {
    if (!IsUnicastIpv6(options_.host_ip)) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "--host-ipv6 must be the node's global or unique-local IPv6 address, got '" +
                           options_.host_ip + "'");
    }
    if (!IsUnicastIpv6(options_.metadata_addr)) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "--metadata-addr-v6 must be a unicast IPv6 address, got '" +
                           options_.metadata_addr + "'");
    }
  } else {
    if (!IsIpv4(options_.host_ip)) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "--host-ip must be the node's IPv4 address, got '" + options_.host_ip + "'");
    }
    if (!IsIpv4(options_.metadata_addr)) {
      return MakeError(
          ErrorCode::kInvalidArgument,
          "--metadata-addr must be an IPv4 address, got '" + options_.metadata_addr + "'");
    }
  }
  if (options_.port < 1 || options_.port > 65535) {
    return MakeError(ErrorCode::kInvalidArgument, "the agent's port must be 1-65535");
  }
  return Ok();
}

std::vector<std::string> MetadataRedirect::RuleSpec() const {
  std::string destination =
      options_.ipv6 ? options_.metadata_addr + "/128" : options_.metadata_addr;
  std::string target = options_.ipv6 ? "[" + options_.host_ip + "]" : options_.host_ip;
  std::vector<std::string> spec = {"-p", "tcp", "-d", destination, "--dport", "80"};
  std::string_view iface = options_.host_interface;
  if (iface.starts_with('!')) {
    spec.insert(spec.end(), {"!", "-i", std::string(iface.substr(1))});
  } else {
    spec.insert(spec.end(), {"-i", std::string(iface)});
  }
  spec.insert(spec.end(),
              {"-m", "comment", "--comment", "podiam: pod metadata requests to the agent", "-j",
               "DNAT", "--to-destination", target + ":" + std::to_string(options_.port)});
  return spec;
}

std::string MetadataRedirect::Command() const {
  if (!options_.iptables.empty()) {
    return options_.iptables;
  }
  return options_.ipv6 ? "ip6tables" : "iptables";
}

Result<int> MetadataRedirect::RunRule(std::string_view op, std::string* output) {
  std::vector<std::string> argv = {Command(),       "-w",        "5", "-t", "nat",
                                   std::string(op), "PREROUTING"};
  auto spec = RuleSpec();
  argv.insert(argv.end(), spec.begin(), spec.end());
  return runner_.Run(argv, output);
}

Result<bool> MetadataRedirect::Exists() {
  std::string output;
  auto rc = RunRule("-C", &output);
  if (!rc) {
    return tl::unexpected(rc.error());
  }
  // 0: present; 1: absent ("Bad rule" / "does a matching rule exist"); anything else: a failure.
  if (*rc == 0 || *rc == 1) {
    return *rc == 0;
  }
  return MakeError(ErrorCode::kFailedPrecondition,
                   Command() + " check failed (exit " + std::to_string(*rc) + "): " + output);
}

Result<void> MetadataRedirect::Change(bool install) {
  if (auto ok = Validate(); !ok) {
    return ok;
  }
  auto exists = Exists();
  if (!exists) {
    return tl::unexpected(exists.error());
  }
  if (*exists == install) {
    return Ok();  // already as wanted
  }
  std::string output;
  auto rc = RunRule(install ? "-A" : "-D", &output);
  if (!rc) {
    return tl::unexpected(rc.error());
  }
  if (*rc != 0) {
    return MakeError(ErrorCode::kFailedPrecondition,
                     std::string(install ? "cannot add" : "cannot delete") +
                         " the metadata DNAT rule (" + Command() + " exit " + std::to_string(*rc) +
                         "): " + output);
  }
  return Ok();
}

}  // namespace podiam::hostnet
