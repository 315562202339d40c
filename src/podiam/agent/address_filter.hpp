// Which source addresses can be a pod with a role of its own. Two kinds are answered at once,
// without waiting for the watch or asking the apiserver:
//   - the node's own addresses: the node itself, hostNetwork pods, the kubelet's probes
//     (read from the kernel's interface list, refreshed at most every `refresh` when an address
//     is not in it, so a new node address is noticed);
//   - with --pod-cidr, any address outside the node's pod ranges. Off by default: some CNIs
//     (the AWS VPC CNI among them) give pods addresses outside the Node's spec.podCIDRs.
//
// Thread-safety: all methods from any thread.
//
//   auto filter = agent::AddressFilter::Create({"10.244.1.0/24"}, agent::LocalAddresses, clock);
//   filter->IsNodeAddress("10.0.0.5");   filter->MayBePod("192.168.9.9");
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "podiam/base/clock.hpp"
#include "podiam/base/error.hpp"

namespace podiam::agent {

// The addresses of this network namespace's interfaces, in canonical text form.
std::vector<std::string> LocalAddresses();

class AddressFilter {
 public:
  using Lister = std::function<std::vector<std::string>()>;
  // Fails on a range that is not ADDRESS/PREFIX.
  static Result<std::unique_ptr<AddressFilter>> Create(
      const std::vector<std::string>& pod_cidrs, Lister list_node_addresses, const Clock& clock,
      std::chrono::seconds refresh = std::chrono::seconds(10));

  bool IsNodeAddress(std::string_view ip);
  // True when no ranges are configured or `ip` is in one of them.
  [[nodiscard]] bool MayBePod(std::string_view ip) const;

 private:
  struct Range {
    std::vector<unsigned char> bytes;  // network address
    unsigned prefix = 0;
  };
  AddressFilter(std::vector<Range> ranges, Lister lister, const Clock& clock,
                std::chrono::seconds refresh);

  std::vector<Range> ranges_;
  Lister lister_;
  const Clock& clock_;
  std::chrono::seconds refresh_;
  std::mutex mu_;
  std::unordered_set<std::string> node_addresses_;  // guarded by mu_
  Clock::SteadyTime listed_at_{};                   // guarded by mu_
  bool listed_ = false;                             // guarded by mu_
};

}  // namespace podiam::agent
