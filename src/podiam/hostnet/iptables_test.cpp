#include "podiam/hostnet/iptables.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "podiam/hostnet/ipv6_metadata.hpp"

namespace podiam::hostnet {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Records commands; `-C` answers from `present`.
class FakeRunner final : public CommandRunner {
 public:
  Result<int> Run(const std::vector<std::string>& argv, std::string* output) override {
    calls.push_back(argv);
    if (missing) {
      return MakeError(ErrorCode::kFailedPrecondition,
                       "cannot run " + argv[0] + ": not found or not executable");
    }
    if (output != nullptr) {
      *output = "";
    }
    for (const auto& a : argv) {
      if (a == "-C") {
        return present ? 0 : 1;
      }
      if (a == "-A") {
        present = true;
      }
      if (a == "-D") {
        present = false;
      }
    }
    return 0;
  }
  bool present = false;
  bool missing = false;  // the command is not installed
  std::vector<std::vector<std::string>> calls;
};

TEST(MetadataRedirectTest, InstallIsIdempotent) {
  FakeRunner runner;
  MetadataRedirect redirect(runner, {.host_interface = "cali+", .host_ip = "10.0.0.5"});
  ASSERT_TRUE(redirect.Install());
  ASSERT_TRUE(redirect.Install());
  ASSERT_EQ(runner.calls.size(), 3U);  // check, add, check
  EXPECT_EQ(runner.calls[1][5], "-A");
  EXPECT_THAT(redirect.RuleSpec(), ElementsAre("-p", "tcp", "-d", "169.254.169.254", "--dport",
                                               "80", "-i", "cali+", "-m", "comment", "--comment",
                                               "podiam: pod metadata requests to the agent", "-j",
                                               "DNAT", "--to-destination", "10.0.0.5:8181"));
  ASSERT_TRUE(redirect.Remove());
  EXPECT_FALSE(runner.present);
}

TEST(MetadataRedirectTest, NegatedInterfaceBecomesBangDashI) {
  FakeRunner runner;
  MetadataRedirect redirect(runner, {.host_interface = "!eth0", .host_ip = "10.0.0.5", .port = 80});
  auto spec = redirect.RuleSpec();
  EXPECT_EQ(spec[6], "!");
  EXPECT_EQ(spec[7], "-i");
  EXPECT_EQ(spec[8], "eth0");
  EXPECT_EQ(spec.back(), "10.0.0.5:80");
}

TEST(MetadataRedirectTest, BadOptionsAreRefusedBeforeRunningAnything) {
  FakeRunner runner;
  for (RedirectOptions o :
       {RedirectOptions{.host_interface = "", .host_ip = "10.0.0.5"},
        RedirectOptions{.host_interface = "eth0; rm -rf /", .host_ip = "10.0.0.5"},
        RedirectOptions{.host_interface = "a-very-long-interface-name", .host_ip = "10.0.0.5"},
        RedirectOptions{.host_interface = "cni0", .host_ip = "node-1"},
        RedirectOptions{.host_interface = "cni0", .host_ip = "10.0.0.5", .port = 0}}) {
    MetadataRedirect redirect(runner, o);
    auto r = redirect.Install();
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
  }
  EXPECT_TRUE(runner.calls.empty());
}

// The IPv6 rule: what the brief's ip6tables command line is, in argv form.
const std::vector<std::string> kIpv6Rule = {"-p",
                                            "tcp",
                                            "-d",
                                            "fd00:ec2::254/128",
                                            "--dport",
                                            "80",
                                            "-i",
                                            "cali+",
                                            "-m",
                                            "comment",
                                            "--comment",
                                            "podiam: pod metadata requests to the agent",
                                            "-j",
                                            "DNAT",
                                            "--to-destination",
                                            "[fd00:10::5]:8181"};

std::vector<std::string> Ip6tables(const std::string& op) {
  std::vector<std::string> argv = {"ip6tables", "-w", "5", "-t", "nat", op, "PREROUTING"};
  argv.insert(argv.end(), kIpv6Rule.begin(), kIpv6Rule.end());
  return argv;
}

ReachProbe Routed(bool routed, int* probes = nullptr) {
  return [routed, probes](const std::string& address) {
    EXPECT_EQ(address, "fd00:ec2::254");
    if (probes != nullptr) {
      ++*probes;
    }
    return routed;
  };
}

Ipv6RedirectOptions V6(std::string mode, std::string host_ip = "fd00:10::5") {
  return {.mode = std::move(mode), .host_ip = std::move(host_ip), .host_interface = "cali+"};
}

TEST(MetadataRedirectTest, Ipv6RuleUsesIp6tablesAndABracketedTarget) {
  FakeRunner runner;
  MetadataRedirect redirect(runner, {.host_interface = "cali+",
                                     .host_ip = "fd00:10::5",
                                     .metadata_addr = "fd00:ec2::254",
                                     .ipv6 = true});
  EXPECT_EQ(redirect.RuleSpec(), kIpv6Rule);
  ASSERT_TRUE(redirect.Install());
  EXPECT_THAT(runner.calls, ElementsAre(Ip6tables("-C"), Ip6tables("-A")));
}

TEST(MetadataRedirectTest, Ipv6RuleRefusesAddressesOfTheWrongKind) {
  FakeRunner runner;
  for (const char* host : {"10.0.0.5", "::", "fe80::1", "::ffff:10.0.0.5", "ff02::1", "node"}) {
    MetadataRedirect redirect(runner, {.host_interface = "cali+",
                                       .host_ip = host,
                                       .metadata_addr = "fd00:ec2::254",
                                       .ipv6 = true});
    auto r = redirect.Install();
    ASSERT_FALSE(r) << host;
    EXPECT_THAT(r.error().message(), HasSubstr("--host-ipv6")) << host;
  }
  MetadataRedirect v4_addr(runner, {.host_interface = "cali+",
                                    .host_ip = "fd00:10::5",
                                    .metadata_addr = "169.254.169.254",
                                    .ipv6 = true});
  EXPECT_FALSE(v4_addr.Install());
  EXPECT_TRUE(runner.calls.empty());
}

TEST(Ipv6MetadataRedirectTest, WithHostIpv6TheRuleIsInstalledOnceAndRemoved) {
  FakeRunner runner;
  Ipv6MetadataRedirect v6(runner, Routed(true), V6("auto"));
  auto first = v6.Install();
  ASSERT_TRUE(first) << first.error().ToString();
  EXPECT_TRUE(first->installed);
  EXPECT_FALSE(first->warn);
  EXPECT_THAT(first->message, HasSubstr("[fd00:10::5]:8181"));
  auto again = v6.Install();  // a restart of the agent: the rule is already there
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->installed);
  EXPECT_THAT(runner.calls, ElementsAre(Ip6tables("-C"), Ip6tables("-A"), Ip6tables("-C")));
  runner.calls.clear();
  ASSERT_TRUE(v6.Remove());
  EXPECT_FALSE(runner.present);
  EXPECT_THAT(runner.calls, ElementsAre(Ip6tables("-C"), Ip6tables("-D")));
}

TEST(Ipv6MetadataRedirectTest, RemoveDoesNothingWhenNoRuleWasInstalled) {
  FakeRunner runner;
  Ipv6MetadataRedirect v6(runner, Routed(false), V6("auto", ""));
  ASSERT_TRUE(v6.Install());
  ASSERT_TRUE(v6.Remove());
  EXPECT_TRUE(runner.calls.empty());
}

TEST(Ipv6MetadataRedirectTest, RefusesToStartWhenTheEndpointIsRoutedAndNothingCoversIt) {
  FakeRunner runner;
  Ipv6MetadataRedirect v6(runner, Routed(true), V6("auto", ""));
  auto r = v6.Install();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_THAT(r.error().message(), HasSubstr("set --host-ipv6"));
  EXPECT_THAT(r.error().message(), HasSubstr("--ipv6-metadata=off"));
  EXPECT_EQ(r.error().message().find('\n'), std::string::npos);  // one line
  EXPECT_TRUE(runner.calls.empty());
}

TEST(Ipv6MetadataRedirectTest, NoRouteAndNoHostIpv6NeedsNoRule) {
  FakeRunner runner;
  Ipv6MetadataRedirect v6(runner, Routed(false), V6("auto", ""));
  auto r = v6.Install();
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->installed);
  EXPECT_FALSE(r->warn);
  EXPECT_THAT(r->message, HasSubstr("cannot reach"));
  EXPECT_TRUE(runner.calls.empty());
}

TEST(Ipv6MetadataRedirectTest, MissingIp6tablesIsAnErrorWhenNeededAndAWarningOtherwise) {
  FakeRunner runner;
  runner.missing = true;
  for (const char* mode : {"on", "auto"}) {
    Ipv6MetadataRedirect routed(runner, Routed(true), V6(mode));
    auto r = routed.Install();
    ASSERT_FALSE(r) << mode;
    EXPECT_THAT(r.error().message(), HasSubstr("cannot run ip6tables")) << mode;
    EXPECT_THAT(r.error().message(), HasSubstr("over IPv6")) << mode;
  }
  Ipv6MetadataRedirect on_unrouted(runner, Routed(false), V6("on"));
  EXPECT_FALSE(on_unrouted.Install());  // asked for explicitly
  Ipv6MetadataRedirect auto_unrouted(runner, Routed(false), V6("auto"));
  auto r = auto_unrouted.Install();
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->installed);
  EXPECT_TRUE(r->warn);
  EXPECT_THAT(r->message, HasSubstr("cannot run ip6tables"));
}

TEST(Ipv6MetadataRedirectTest, OnNeedsHostIpv6AndIgnoresTheProbe) {
  FakeRunner runner;
  int probes = 0;
  Ipv6MetadataRedirect missing_ip(runner, Routed(false, &probes), V6("on", ""));
  auto r = missing_ip.Install();
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message(), HasSubstr("needs --host-ipv6"));
  Ipv6MetadataRedirect on(runner, Routed(false, &probes), V6("on"));
  auto installed = on.Install();
  ASSERT_TRUE(installed);
  EXPECT_TRUE(installed->installed);
  EXPECT_EQ(probes, 0);
}

TEST(Ipv6MetadataRedirectTest, OffInstallsNothingAndWarnsWhenTheEndpointIsRouted) {
  FakeRunner runner;
  Ipv6MetadataRedirect routed(runner, Routed(true), V6("off"));
  auto r = routed.Install();
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->installed);
  EXPECT_TRUE(r->warn);
  Ipv6RedirectOptions empty_addr = V6("auto");
  empty_addr.metadata_addr = "";  // --metadata-addr-v6= turns it off too
  Ipv6MetadataRedirect off(runner, Routed(true), empty_addr);
  auto o = off.Install();
  ASSERT_TRUE(o);
  EXPECT_FALSE(o->installed);
  EXPECT_FALSE(o->warn);
  EXPECT_TRUE(runner.calls.empty());
  Ipv6MetadataRedirect bad_mode(runner, Routed(false), V6("maybe"));
  EXPECT_FALSE(bad_mode.Install());
  Ipv6RedirectOptions bad_addr = V6("off");
  bad_addr.metadata_addr = "--ipv6-metadata=on";  // what `--metadata-addr-v6= --x` parses to
  Ipv6MetadataRedirect bad(runner, Routed(false), bad_addr);
  auto b = bad.Install();
  ASSERT_FALSE(b);
  EXPECT_THAT(b.error().message(), HasSubstr("--metadata-addr-v6 must be"));
}

TEST(Ipv6MetadataRedirectTest, ABrokenNatTableIsAnErrorWhenRouted) {
  // ip6tables exists but its nat table does not (exit 3: module missing): not "absent".
  class NoNatTable final : public CommandRunner {
   public:
    Result<int> Run(const std::vector<std::string>& /*argv*/, std::string* output) override {
      *output = "can't initialize ip6tables table `nat'";
      return 3;
    }
  } runner;
  Ipv6MetadataRedirect v6(runner, Routed(true), V6("auto"));
  auto r = v6.Install();
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message(), HasSubstr("table `nat'"));
}

TEST(HasRouteToTest, LoopbackIsRoutedAndGarbageIsNot) {
  EXPECT_FALSE(HasRouteTo("not-an-address"));
  EXPECT_FALSE(HasRouteTo("10.0.0.1"));  // IPv4: the probe is for IPv6 only
  if (!HasRouteTo("::1")) {
    GTEST_SKIP() << "no IPv6 loopback here";
  }
  EXPECT_TRUE(HasRouteTo("::1"));
}

TEST(SubprocessRunnerTest, RunsCommandsAndReportsExitStatusAndOutput) {
  SubprocessRunner runner;
  std::string out;
  EXPECT_EQ(*runner.Run({"sh", "-c", "echo hi; echo err >&2; exit 3"}, &out), 3);
  EXPECT_THAT(out, HasSubstr("hi"));
  EXPECT_THAT(out, HasSubstr("err"));
  auto missing = runner.Run({"/nonexistent/podiam-cmd"}, &out);
  ASSERT_FALSE(missing);
  EXPECT_THAT(missing.error().message(), HasSubstr("cannot run"));
}

}  // namespace
}  // namespace podiam::hostnet
