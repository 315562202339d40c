#include "podiam/hostnet/iptables.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace podiam::hostnet {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Records commands; `-C` answers from `present`.
class FakeRunner final : public CommandRunner {
 public:
  Result<int> Run(const std::vector<std::string>& argv, std::string* output) override {
    calls.push_back(argv);
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
