#include "podiam/aws/partition.hpp"

#include <array>

namespace podiam::aws {
namespace {

// Longer prefixes of the same stem are listed first: "us-isob-" must win over "us-iso-"; both
// end in '-', so neither can match the other anyway, but the order keeps that obvious.
constexpr std::array<Partition, 8> kPartitions = {{
    {"aws", "amazonaws.com", ""},
    {"aws-cn", "amazonaws.com.cn", "cn-"},
    {"aws-us-gov", "amazonaws.com", "us-gov-"},
    {"aws-iso-b", "sc2s.sgov.gov", "us-isob-"},
    {"aws-iso", "c2s.ic.gov", "us-iso-"},
    {"aws-iso-e", "cloud.adc-e.uk", "eu-isoe-"},
    {"aws-iso-f", "csp.hci.ic.gov", "us-isof-"},
    {"aws-eusc", "amazonaws.eu", "eusc-"},
}};

}  // namespace

std::span<const Partition> Partitions() { return kPartitions; }

const Partition* FindPartition(std::string_view id) {
  for (const auto& partition : kPartitions) {
    if (partition.id == id) {
      return &partition;
    }
  }
  return nullptr;
}

std::string_view PartitionForRegion(std::string_view region) {
  for (const auto& partition : kPartitions) {
    if (!partition.region_prefix.empty() && region.starts_with(partition.region_prefix)) {
      return partition.id;
    }
  }
  return kPartitions[0].id;
}

bool LooksLikeRegion(std::string_view region) {
  if (region.empty() || region.size() > 63 || region.front() == '-' || region.back() == '-') {
    return false;
  }
  for (char c : region) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
      return false;
    }
  }
  return true;
}

}  // namespace podiam::aws
