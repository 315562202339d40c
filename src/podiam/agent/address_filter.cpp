#include "podiam/agent/address_filter.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <ifaddrs.h>
#include <netinet/in.h>

#include <array>
#include <charconv>
#include <optional>

namespace podiam::agent {
namespace {

// The address's bytes: 4 for IPv4, 16 for IPv6 (an IPv4-mapped IPv6 address counts as IPv4).
std::optional<std::vector<unsigned char>> Bytes(std::string_view text) {
  std::string s(text);
  std::array<unsigned char, 16> buf{};
  if (inet_pton(AF_INET, s.c_str(), buf.data()) == 1) {
    return std::vector<unsigned char>(buf.begin(), buf.begin() + 4);
  }
  if (inet_pton(AF_INET6, s.c_str(), buf.data()) == 1) {
    constexpr std::array<unsigned char, 12> kMapped = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::equal(kMapped.begin(), kMapped.end(), buf.begin())) {
      return std::vector<unsigned char>(buf.begin() + 12, buf.end());
    }
    return std::vector<unsigned char>(buf.begin(), buf.end());
  }
  return std::nullopt;
}

bool PrefixMatches(const std::vector<unsigned char>& a, const std::vector<unsigned char>& b,
                   unsigned prefix) {
  if (a.size() != b.size()) {
    return false;
  }
  unsigned full = prefix / 8;
  for (unsigned i = 0; i < full; ++i) {
    if (a[i] != b[i]) {
      return false;
    }
  }
  unsigned rest = prefix % 8;
  if (rest == 0) {
    return true;
  }
  auto mask = static_cast<unsigned char>(0xffU << (8 - rest));
  return (a[full] & mask) == (b[full] & mask);
}

}  // namespace

std::vector<std::string> LocalAddresses() {
  std::vector<std::string> out;
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) {
    return out;
  }
  for (ifaddrs* it = list; it != nullptr; it = it->ifa_next) {
    if (it->ifa_addr == nullptr) {
      continue;
    }
    std::array<char, INET6_ADDRSTRLEN> text{};
    const void* addr = nullptr;
    int family = it->ifa_addr->sa_family;
    // NOLINTBEGIN(cppcoreguidelines-pro-type-reinterpret-cast): the sockaddr family says which.
    if (family == AF_INET) {
      addr = &reinterpret_cast<const sockaddr_in*>(it->ifa_addr)->sin_addr;
    } else if (family == AF_INET6) {
      addr = &reinterpret_cast<const sockaddr_in6*>(it->ifa_addr)->sin6_addr;
    }
    // NOLINTEND(cppcoreguidelines-pro-type-reinterpret-cast)
    if (addr != nullptr && inet_ntop(family, addr, text.data(), text.size()) != nullptr) {
      out.emplace_back(text.data());
    }
  }
  freeifaddrs(list);
  return out;
}

Result<std::unique_ptr<AddressFilter>> AddressFilter::Create(
    const std::vector<std::string>& pod_cidrs, Lister list_node_addresses, const Clock& clock,
    std::chrono::seconds refresh) {
  std::vector<Range> ranges;
  for (const auto& cidr : pod_cidrs) {
    const std::string_view text = cidr;
    auto slash = text.find('/');
    auto bytes = Bytes(text.substr(0, slash));
    unsigned prefix = 0;
    bool ok = slash != std::string_view::npos && bytes.has_value();
    if (ok) {
      std::string_view p = text.substr(slash + 1);
      auto [ptr, ec] = std::from_chars(p.data(), p.data() + p.size(), prefix);
      ok = ec == std::errc() && ptr == p.data() + p.size() && !p.empty() &&
           prefix <= bytes->size() * 8;
    }
    if (!ok) {
      return MakeError(ErrorCode::kInvalidArgument,
                       fmt::format("--pod-cidr '{}' is not ADDRESS/PREFIX (10.244.1.0/24)", cidr));
    }
    ranges.push_back({std::move(*bytes), prefix});
  }
  return std::unique_ptr<AddressFilter>(
      new AddressFilter(std::move(ranges), std::move(list_node_addresses), clock, refresh));
}

AddressFilter::AddressFilter(std::vector<Range> ranges, Lister lister, const Clock& clock,
                             std::chrono::seconds refresh)
    : ranges_(std::move(ranges)), lister_(std::move(lister)), clock_(clock), refresh_(refresh) {}

bool AddressFilter::IsNodeAddress(std::string_view ip) {
  if (!lister_) {
    return false;
  }
  std::lock_guard lock(mu_);
  if (node_addresses_.contains(std::string(ip))) {
    return true;
  }
  auto now = clock_.SteadyNow();
  if (listed_ && now - listed_at_ < refresh_) {
    return false;
  }
  auto listed = lister_();
  node_addresses_ = {listed.begin(), listed.end()};
  listed_at_ = now;
  listed_ = true;
  return node_addresses_.contains(std::string(ip));
}

bool AddressFilter::MayBePod(std::string_view ip) const {
  if (ranges_.empty()) {
    return true;
  }
  auto bytes = Bytes(ip);
  if (!bytes) {
    return false;
  }
  for (const auto& r : ranges_) {
    if (PrefixMatches(*bytes, r.bytes, r.prefix)) {
      return true;
    }
  }
  return false;
}

}  // namespace podiam::agent
