// ARNs: parsing and formatting, plus the IAM-role rules podiam needs:
//   - role ARNs with paths (arn:aws:iam::123456789012:role/division/team/Name),
//   - kube2iam's "bare role name + --base-role-arn" resolution
//   (docs/compatibility.md#role-annotation),
//   - assumed-role ARNs (arn:aws:sts::123456789012:assumed-role/Name/session; the path is dropped),
//   - the role *name* that IMDS listings show (the last path segment).
// Every malformed input is a kInvalidArgument error that says what is wrong.
//
// Thread-safety: plain values and pure functions.
//
//   auto base = aws::ParseBaseRoleArn("arn:aws:iam::123456789012:role/k8s/");
//   auto role = aws::ResolveRoleArn("team/app", *base);   // ...:role/k8s/team/app
//   role->name;                                            // "app"
//   aws::AssumedRoleArnFor(*role, "pod-web-1");            // ...:assumed-role/app/pod-web-1
#pragma once

#include <string>
#include <string_view>

#include "podiam/base/error.hpp"

namespace podiam::aws {

// arn:{partition}:{service}:{region}:{account}:{resource}
struct Arn {
  std::string partition;  // a known partition ("aws", "aws-cn", ...)
  std::string service;    // "iam", "sts", "s3", ...
  std::string region;     // empty for global services such as IAM and STS ARNs
  std::string account;    // 12 digits, "aws" for AWS-managed policies, or empty (S3)
  std::string resource;   // everything after the fifth ':' ("role/path/name")

  [[nodiscard]] std::string ToString() const;
  friend bool operator==(const Arn&, const Arn&) = default;
};

// Any well-formed ARN in a known partition.
Result<Arn> ParseArn(std::string_view text);

// An IAM role: arn:{partition}:iam::{account}:role{path}{name}.
struct RoleArn {
  std::string partition;
  std::string account;
  std::string path = "/";  // starts and ends with '/': "/" or "/division/team/"
  std::string name;        // [\w+=,.@-]{1,64}; what IMDS lists

  [[nodiscard]] std::string ToString() const;
  friend bool operator==(const RoleArn&, const RoleArn&) = default;
};

Result<RoleArn> ParseRoleArn(std::string_view text);

// The prefix that bare role names are appended to (kube2iam --base-role-arn): a role ARN ending
// in "role/" or "role/<path>/". A missing trailing '/' is added, so "...:role/k8s" means "/k8s/".
struct BaseRoleArn {
  std::string partition;
  std::string account;
  std::string path = "/";

  [[nodiscard]] std::string ToString() const;  // "arn:aws:iam::123456789012:role/k8s/"
  friend bool operator==(const BaseRoleArn&, const BaseRoleArn&) = default;
};

Result<BaseRoleArn> ParseBaseRoleArn(std::string_view text);

// A base prefix that is itself derived from a role ARN: same partition, account and path (what
// kube2iam's --auto-discover-base-arn does with the node's instance role).
BaseRoleArn BaseOf(const RoleArn& role);

// kube2iam/kiam semantics for a role annotation value:
//   - starts with "arn:" -> parsed as a full role ARN and used as is (any account, any partition);
//   - otherwise a role name, optionally with a path ("team/app"); one leading '/' is ignored; it is
//     appended to `base`, keeping the base's path.
Result<RoleArn> ResolveRoleArn(std::string_view value, const BaseRoleArn& base);

// Same, for callers without a base ARN: bare names are then an error that says a base is needed.
Result<RoleArn> ResolveRoleArn(std::string_view value);

// The role name shown by IMDS for a role ARN string (its last path segment).
Result<std::string> RoleName(std::string_view role_arn);

// arn:{partition}:sts::{account}:assumed-role/{name}/{session}
struct AssumedRoleArn {
  std::string partition;
  std::string account;
  std::string role_name;
  std::string session_name;

  [[nodiscard]] std::string ToString() const;
  friend bool operator==(const AssumedRoleArn&, const AssumedRoleArn&) = default;
};

Result<AssumedRoleArn> ParseAssumedRoleArn(std::string_view text);

// The ARN STS reports for a session of `role` (path dropped, as STS does).
AssumedRoleArn AssumedRoleArnFor(const RoleArn& role, std::string_view session_name);

// Exactly 12 ASCII digits.
bool IsValidAccountId(std::string_view account);

// [\w+=,.@-]{1,64}.
bool IsValidRoleName(std::string_view name);

}  // namespace podiam::aws
