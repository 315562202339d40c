#include "podiam/hostnet/link.hpp"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace podiam::hostnet {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

class ScriptedRunner final : public CommandRunner {
 public:
  Result<int> Run(const std::vector<std::string>& argv, std::string* output) override {
    std::string line = fmt::format("{}", fmt::join(argv, " "));
    calls.push_back(line);
    for (const auto& [prefix, code] : fail) {
      if (line.starts_with(prefix)) {
        *output = "Error: " + prefix;
        return code;
      }
    }
    return 0;
  }
  std::vector<std::string> calls;
  std::vector<std::pair<std::string, int>> fail;
};

TEST(LinkAddressesTest, MakesTheDummyLinkWhenMissing) {
  ScriptedRunner runner;
  runner.fail = {{"ip link show dev podiam-link0", 1}};
  auto placed = LinkAddresses(runner, {}).Ensure();
  ASSERT_TRUE(placed) << placed.error().ToString();
  EXPECT_EQ(placed->link, "podiam-link0");
  EXPECT_THAT(placed->addresses, ElementsAre("169.254.170.23", "fd00:ec2::23"));
  EXPECT_THAT(runner.calls,
              ElementsAre("ip link show dev podiam-link0", "ip link add podiam-link0 type dummy",
                          "ip link set podiam-link0 up",
                          "ip addr replace 169.254.170.23/32 dev podiam-link0",
                          "ip -6 addr replace fd00:ec2::23/128 dev podiam-link0 nodad"));
}

TEST(LinkAddressesTest, ReusesAnExistingDummyLink) {
  ScriptedRunner runner;
  ASSERT_TRUE(LinkAddresses(runner, {}).Ensure());
  EXPECT_EQ(runner.calls.size(), 4U);  // no `link add`
}

TEST(LinkAddressesTest, NoDummyModuleSaysWhatToDo) {
  ScriptedRunner runner;
  runner.fail = {{"ip link show", 1}, {"ip link add", 2}};
  auto placed = LinkAddresses(runner, {}).Ensure();
  ASSERT_FALSE(placed);
  EXPECT_THAT(placed.error().message(), HasSubstr("--container-credentials-link"));
  EXPECT_THAT(placed.error().message(), HasSubstr("--container-credentials=false"));
}

TEST(LinkAddressesTest, ExistingLinkAndIpv6OffIsAWarning) {
  ScriptedRunner runner;
  runner.fail = {{"ip -6", 2}};
  auto placed = LinkAddresses(runner, {.link = "lo"}).Ensure();
  ASSERT_TRUE(placed);
  EXPECT_EQ(placed->link, "lo");
  EXPECT_THAT(placed->addresses, ElementsAre("169.254.170.23"));
  ASSERT_EQ(placed->warnings.size(), 1U);
  EXPECT_THAT(placed->warnings[0], HasSubstr("fd00:ec2::23"));
}

TEST(LinkAddressesTest, MissingNamedLinkIsAnError) {
  ScriptedRunner runner;
  runner.fail = {{"ip link show dev eth9", 1}};
  auto placed = LinkAddresses(runner, {.link = "eth9"}).Ensure();
  ASSERT_FALSE(placed);
  EXPECT_THAT(placed.error().message(), HasSubstr("no such link"));
}

}  // namespace
}  // namespace podiam::hostnet
