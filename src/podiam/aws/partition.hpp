// AWS partitions: the table that ties a region to its partition ("aws", "aws-cn", ...) and the DNS
// suffix its endpoints use. ARN parsing and STS endpoint resolution both read it.
//
// The table follows botocore's partitions.json (regionRegex and dnsSuffix of each partition).
//
// Thread-safety: pure functions over constant data.
//
//   std::string_view p = aws::PartitionForRegion("cn-north-1");     // "aws-cn"
//   const aws::Partition* info = aws::FindPartition(p);              // info->dns_suffix
#pragma once

#include <span>
#include <string_view>

namespace podiam::aws {

struct Partition {
  std::string_view id;             // "aws-us-gov"; also the ARN's partition field
  std::string_view dns_suffix;     // "amazonaws.com"
  std::string_view region_prefix;  // "us-gov-"; empty for the default partition "aws"
};

// Every partition podiam knows, "aws" first.
std::span<const Partition> Partitions();

// nullptr when `id` is not a known partition.
const Partition* FindPartition(std::string_view id);

// The partition a region belongs to, decided by its prefix (cn-, us-gov-, us-iso-, us-isob-,
// eu-isoe-, us-isof-, eusc-); any other region is in "aws".
std::string_view PartitionForRegion(std::string_view region);

// True for names shaped like a region: lowercase letters, digits and inner '-', at most 63 bytes.
// (Only the shape: a new region works without a podiam release.)
bool LooksLikeRegion(std::string_view region);

}  // namespace podiam::aws
