#include "podiam/aws/arn.hpp"

#include <fmt/format.h>

#include <array>

#include "podiam/aws/partition.hpp"
#include "podiam/aws/text.hpp"

namespace podiam::aws {
namespace {

constexpr std::size_t kMaxArnLength = 2048;  // STS RoleArn maximum
constexpr std::size_t kMaxPathLength = 512;  // IAM path maximum
constexpr std::size_t kMaxRoleNameLength = 64;

tl::unexpected<Error> Invalid(std::string message) {
  return MakeError(ErrorCode::kInvalidArgument, std::move(message));
}

std::string KnownPartitions() {
  std::string out;
  for (const auto& partition : Partitions()) {
    out += out.empty() ? "" : ", ";
    out += partition.id;
  }
  return out;
}

bool IsServiceChar(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; }

// An IAM path: "/" or "/a/b/", printable ASCII, no empty segments.
Result<void> ValidatePath(std::string_view path, std::string_view arn) {
  if (path.size() > kMaxPathLength) {
    return Invalid(fmt::format("role path in {} is {} bytes long; IAM allows at most {}",
                               Quote(arn), path.size(), kMaxPathLength));
  }
  if (path.find("//") != std::string_view::npos) {
    return Invalid(fmt::format("role path in {} has an empty segment ('//')", Quote(arn)));
  }
  for (char c : path) {
    if (c < 0x21 || c > 0x7e) {
      return Invalid(fmt::format(
          "role path in {} contains a character IAM does not allow (only printable ASCII)",
          Quote(arn)));
    }
  }
  return Ok();
}

Result<void> ValidateRoleName(std::string_view name, std::string_view arn) {
  if (name.empty()) {
    return Invalid(fmt::format("{} has no role name (it ends with '/')", Quote(arn)));
  }
  if (name.size() > kMaxRoleNameLength) {
    return Invalid(fmt::format("role name in {} is {} characters long; IAM allows at most {}",
                               Quote(arn), name.size(), kMaxRoleNameLength));
  }
  for (char c : name) {
    if (!IsSessionNameChar(c)) {
      return Invalid(
          fmt::format("role name in {} contains {}; IAM allows only letters, digits and _+=,.@-",
                      Quote(arn), Quote(std::string_view(&c, 1))));
    }
  }
  return Ok();
}

// Splits "/a/b/name" (a resource without its "role" prefix) into path "/a/b/" and name.
Result<RoleArn> SplitRole(std::string partition, std::string account, std::string_view rest,
                          std::string_view arn) {
  auto last = rest.rfind('/');
  RoleArn role{.partition = std::move(partition),
               .account = std::move(account),
               .path = std::string(rest.substr(0, last + 1)),
               .name = std::string(rest.substr(last + 1))};
  if (auto ok = ValidatePath(role.path, arn); !ok) {
    return tl::unexpected(ok.error());
  }
  if (auto ok = ValidateRoleName(role.name, arn); !ok) {
    return tl::unexpected(ok.error());
  }
  return role;
}

Result<Arn> ParseIamArn(std::string_view text, std::string_view service, std::string_view what) {
  auto arn = ParseArn(text);
  if (!arn) {
    return arn;
  }
  if (arn->service != service) {
    return Invalid(fmt::format("{} is not {}: its service is '{}', expected '{}'", Quote(text),
                               what, arn->service, service));
  }
  if (!arn->region.empty()) {
    return Invalid(fmt::format("{} is not {}: it names region '{}', {} ARNs have none", Quote(text),
                               what, arn->region, service));
  }
  if (!IsValidAccountId(arn->account)) {
    return Invalid(fmt::format("{} is not {}: account {} must be 12 digits", Quote(text), what,
                               Quote(arn->account)));
  }
  return arn;
}

}  // namespace

bool IsValidAccountId(std::string_view account) {
  return account.size() == 12 && IsAllDigits(account);
}

bool IsValidRoleName(std::string_view name) { return ValidateRoleName(name, name).has_value(); }

std::string Arn::ToString() const {
  return fmt::format("arn:{}:{}:{}:{}:{}", partition, service, region, account, resource);
}

Result<Arn> ParseArn(std::string_view text) {
  if (text.empty()) {
    return Invalid("ARN is empty");
  }
  if (text.size() > kMaxArnLength) {
    return Invalid(fmt::format("ARN {} is {} bytes long; the maximum is {}", Quote(text),
                               text.size(), kMaxArnLength));
  }
  if (!text.starts_with("arn:")) {
    return Invalid(fmt::format("{} is not an ARN: it must start with 'arn:'", Quote(text)));
  }
  std::array<std::string_view, 5> fields;  // arn, partition, service, region, account
  std::string_view rest = text;
  for (std::size_t i = 0; i < fields.size(); ++i) {
    auto colon = rest.find(':');
    if (colon == std::string_view::npos) {
      return Invalid(fmt::format(
          "ARN {} has {} of the 6 ':'-separated fields arn:partition:service:region:account:"
          "resource",
          Quote(text), i + 1));
    }
    fields[i] = rest.substr(0, colon);
    rest = rest.substr(colon + 1);
  }
  Arn arn{.partition = std::string(fields[1]),
          .service = std::string(fields[2]),
          .region = std::string(fields[3]),
          .account = std::string(fields[4]),
          .resource = std::string(rest)};
  if (FindPartition(arn.partition) == nullptr) {
    return Invalid(fmt::format("ARN {} has unknown partition {} (known: {})", Quote(text),
                               Quote(arn.partition), KnownPartitions()));
  }
  if (arn.service.empty()) {
    return Invalid(fmt::format("ARN {} has an empty service field", Quote(text)));
  }
  for (char c : arn.service) {
    if (!IsServiceChar(c)) {
      return Invalid(
          fmt::format("ARN {} has an invalid service {}", Quote(text), Quote(arn.service)));
    }
  }
  if (!arn.region.empty() && !LooksLikeRegion(arn.region)) {
    return Invalid(fmt::format("ARN {} has an invalid region {}", Quote(text), Quote(arn.region)));
  }
  if (!arn.account.empty() && arn.account != "aws" && !IsValidAccountId(arn.account)) {
    return Invalid(fmt::format("ARN {} has an invalid account {}: it must be 12 digits",
                               Quote(text), Quote(arn.account)));
  }
  if (arn.resource.empty()) {
    return Invalid(fmt::format("ARN {} has an empty resource", Quote(text)));
  }
  for (char c : arn.resource) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return Invalid(fmt::format("ARN {} contains a control character", Quote(text)));
    }
  }
  return arn;
}

std::string RoleArn::ToString() const {
  return fmt::format("arn:{}:iam::{}:role{}{}", partition, account, path, name);
}

Result<RoleArn> ParseRoleArn(std::string_view text) {
  auto arn = ParseIamArn(text, "iam", "an IAM role ARN");
  if (!arn) {
    if (text.find(":sts:") != std::string_view::npos &&
        text.find(":assumed-role/") != std::string_view::npos) {
      return Invalid(
          fmt::format("{} is an assumed-role (session) ARN; a role ARN looks like "
                      "arn:aws:iam::123456789012:role/name",
                      Quote(text)));
    }
    return tl::unexpected(arn.error());
  }
  std::string_view resource = arn->resource;
  if (!resource.starts_with("role/")) {
    return Invalid(fmt::format("{} is not an IAM role ARN: its resource must start with 'role/'",
                               Quote(text)));
  }
  return SplitRole(std::move(arn->partition), std::move(arn->account), resource.substr(4), text);
}

std::string BaseRoleArn::ToString() const {
  return fmt::format("arn:{}:iam::{}:role{}", partition, account, path);
}

Result<BaseRoleArn> ParseBaseRoleArn(std::string_view text) {
  auto arn = ParseIamArn(text, "iam", "a base role ARN");
  if (!arn) {
    return tl::unexpected(arn.error());
  }
  std::string_view resource = arn->resource;
  if (resource != "role" && !resource.starts_with("role/")) {
    return Invalid(
        fmt::format("base role ARN {} must end with 'role/' or 'role/<path>/' (for example "
                    "arn:aws:iam::123456789012:role/)",
                    Quote(text)));
  }
  BaseRoleArn base{.partition = std::move(arn->partition),
                   .account = std::move(arn->account),
                   .path = std::string(resource.substr(4))};
  if (base.path.empty() || base.path.back() != '/') {
    base.path += '/';  // kube2iam adds the missing trailing slash
  }
  if (auto ok = ValidatePath(base.path, text); !ok) {
    return tl::unexpected(ok.error());
  }
  return base;
}

BaseRoleArn BaseOf(const RoleArn& role) {
  return {.partition = role.partition, .account = role.account, .path = role.path};
}

Result<RoleArn> ResolveRoleArn(std::string_view value, const BaseRoleArn& base) {
  if (value.empty()) {
    return Invalid("role is empty");
  }
  if (value.starts_with("arn:")) {
    return ParseRoleArn(value);
  }
  std::string_view relative = value;
  if (relative.front() == '/') {
    relative.remove_prefix(1);  // kiam ignores one leading '/'
  }
  if (relative.empty()) {
    return Invalid(fmt::format("role {} has no name", Quote(value)));
  }
  std::string full = base.ToString() + std::string(relative);
  auto last = relative.rfind('/');
  std::string sub_path =
      last == std::string_view::npos ? std::string() : std::string(relative.substr(0, last + 1));
  RoleArn role{.partition = base.partition,
               .account = base.account,
               .path = base.path + sub_path,
               .name = std::string(relative.substr(last + 1))};
  if (auto ok = ValidatePath(role.path, full); !ok) {
    return tl::unexpected(ok.error());
  }
  if (auto ok = ValidateRoleName(role.name, full); !ok) {
    return tl::unexpected(ok.error());
  }
  return role;
}

Result<RoleArn> ResolveRoleArn(std::string_view value) {
  if (!value.starts_with("arn:")) {
    return Invalid(fmt::format(
        "role {} is not an ARN, and no base role ARN is configured to resolve a bare name against",
        Quote(value)));
  }
  return ParseRoleArn(value);
}

Result<std::string> RoleName(std::string_view role_arn) {
  auto role = ParseRoleArn(role_arn);
  if (!role) {
    return tl::unexpected(role.error());
  }
  return std::move(role->name);
}

std::string AssumedRoleArn::ToString() const {
  return fmt::format("arn:{}:sts::{}:assumed-role/{}/{}", partition, account, role_name,
                     session_name);
}

Result<AssumedRoleArn> ParseAssumedRoleArn(std::string_view text) {
  auto arn = ParseIamArn(text, "sts", "an assumed-role ARN");
  if (!arn) {
    return tl::unexpected(arn.error());
  }
  std::string_view resource = arn->resource;
  constexpr std::string_view kPrefix = "assumed-role/";
  auto slash = resource.find('/', kPrefix.size());
  if (!resource.starts_with(kPrefix) || slash == std::string_view::npos) {
    return Invalid(fmt::format(
        "{} is not an assumed-role ARN: expected assumed-role/<role>/<session>", Quote(text)));
  }
  AssumedRoleArn out{
      .partition = std::move(arn->partition),
      .account = std::move(arn->account),
      .role_name = std::string(resource.substr(kPrefix.size(), slash - kPrefix.size())),
      .session_name = std::string(resource.substr(slash + 1))};
  if (auto ok = ValidateRoleName(out.role_name, text); !ok) {
    return tl::unexpected(ok.error());
  }
  if (out.session_name.empty() || out.session_name.size() > 64) {
    return Invalid(fmt::format("session name in {} must be 1 to 64 characters", Quote(text)));
  }
  for (char c : out.session_name) {
    if (!IsSessionNameChar(c)) {
      return Invalid(fmt::format("session name in {} contains {}, which STS does not allow",
                                 Quote(text), Quote(std::string_view(&c, 1))));
    }
  }
  return out;
}

AssumedRoleArn AssumedRoleArnFor(const RoleArn& role, std::string_view session_name) {
  return {.partition = role.partition,
          .account = role.account,
          .role_name = role.name,
          .session_name = std::string(session_name)};
}

}  // namespace podiam::aws
