// Fuzzes identity::RolePolicy with hostile namespace annotations (kube2iam's
// iam.amazonaws.com/allowed-roles as a JSON list of globs or regular expressions, kiam's
// iam.amazonaws.com/permitted) and role annotations, and GlobMatch (base/glob) against a reference.
//
// Input layout (docs/fuzzing.md):
//   byte 0   bit 0 regexp format (else glob), bit 1 restrictions off, bits 2-3 base role ARN
//            (none, aws "/", aws "/k8s/", aws-cn "/"), bit 4 a default role, bit 5 allowed-roles
//            present, bit 6 permitted present, bit 7 the role is on the service account
//   line     iam.amazonaws.com/allowed-roles value
//   line     iam.amazonaws.com/permitted value
//   line     iam.amazonaws.com/role value
//   line     a glob pattern; rest: a text, for GlobMatch against the reference matcher
//
// Invariants: the outcome agrees with its fields (a role exactly for allowed/denied, the role is
// what ResolveRoleArn makes of the annotation); allowed/denied agree with NamespaceAllows; a
// namespace with neither annotation allows only the default role; an allowed-roles list of
// literal full ARNs (glob format) allows exactly the listed roles; deciding twice (cached
// patterns) gives the same decision; GlobMatch agrees with a dynamic-programming matcher.
#include <array>
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz/fuzz_input.hpp"
#include "podiam/aws/arn.hpp"
#include "podiam/base/glob.hpp"
#include "podiam/identity/policy.hpp"

namespace podiam::identity {
namespace {

// Reference glob: '*' matches any run, everything else itself; O(n*m) table.
bool ReferenceGlob(std::string_view pattern, std::string_view text) {
  std::vector<char> row(text.size() + 1, 0);
  row[0] = 1;
  for (char p : pattern) {
    std::vector<char> next(text.size() + 1, 0);
    if (p == '*') {
      char any = 0;
      for (std::size_t t = 0; t <= text.size(); ++t) {
        any = static_cast<char>(any | row[t]);
        next[t] = any;
      }
    } else {
      for (std::size_t t = 1; t <= text.size(); ++t) {
        next[t] = static_cast<char>(row[t - 1] != 0 && text[t - 1] == p);
      }
    }
    row = std::move(next);
  }
  return row[text.size()] != 0;
}

bool SameDecision(const Decision& a, const Decision& b) {
  return a.outcome == b.outcome && a.role == b.role && a.source == b.source &&
         a.external_id == b.external_id && a.reason == b.reason;
}

const std::array<std::optional<aws::BaseRoleArn>, 4>& Bases() {
  static const std::array<std::optional<aws::BaseRoleArn>, 4> kBases = {{
      std::nullopt,
      aws::BaseRoleArn{.partition = "aws", .account = "123456789012", .path = "/"},
      aws::BaseRoleArn{.partition = "aws", .account = "123456789012", .path = "/k8s/"},
      aws::BaseRoleArn{.partition = "aws-cn", .account = "210987654321", .path = "/"},
  }};
  return kBases;
}

// One policy per option combination, built once: the compiled-pattern cache is then exercised
// across inputs as it is across pods in the agent.
RolePolicy& PolicyFor(std::size_t index) {
  static std::array<std::unique_ptr<RolePolicy>, 32> policies;
  auto& p = policies[index];
  if (!p) {
    PolicyOptions options{
        .base = Bases()[(index >> 2U) & 3U],
        .default_role = (index & 16U) != 0 ? "arn:aws:iam::123456789012:role/default" : "",
        .namespace_restrictions = (index & 2U) == 0,
        .format = (index & 1U) != 0 ? RestrictionFormat::kRegexp : RestrictionFormat::kGlob};
    p = std::make_unique<RolePolicy>(std::move(options));
  }
  return *p;
}

// True when `value` is a JSON list of strings that are all full role ARNs without '*': then the
// glob dialect must allow exactly those roles.
std::optional<std::vector<std::string>> LiteralArnList(std::string_view value) {
  auto parsed = nlohmann::json::parse(value, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded() || !parsed.is_array() || parsed.empty() || parsed.size() > 256) {
    return std::nullopt;
  }
  std::vector<std::string> out;
  for (const auto& item : parsed) {
    if (!item.is_string()) {
      return std::nullopt;
    }
    auto s = item.get<std::string>();
    if (!s.starts_with("arn:") || s.find('*') != std::string::npos || s.size() > 2048) {
      return std::nullopt;
    }
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace
}  // namespace podiam::identity

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace podiam;            // NOLINT(google-build-using-namespace)
  using namespace podiam::identity;  // NOLINT(google-build-using-namespace)
  fuzz::Input in(data, size);
  std::uint8_t flags = in.Byte();
  std::string allowed(in.Line());
  std::string permitted(in.Line());
  std::string role_value(in.Line());
  std::string_view pattern = in.Line();
  std::string_view text = in.Rest();

  // GlobMatch against the reference (bounded so the O(n*m) reference stays cheap).
  if (pattern.size() <= 512 && text.size() <= 512) {
    FUZZ_CHECK(GlobMatch(pattern, text) == ReferenceGlob(pattern, text),
               "GlobMatch disagrees with the reference matcher");
  }

  RolePolicy& policy = PolicyFor(flags & 31U);
  const PolicyOptions& options = policy.options();
  Annotations ns;
  if ((flags & 32U) != 0) {
    ns[options.keys.allowed_roles] = allowed;
  }
  if ((flags & 64U) != 0) {
    ns[options.keys.permitted] = permitted;
  }
  Annotations pod{{options.keys.external_id, "ext-1"}};
  Annotations sa;
  bool on_sa = (flags & 128U) != 0;
  (on_sa ? sa : pod)[options.keys.role] = role_value;
  Subject subject{.namespace_name = "team-a",
                  .pod_name = "web-1",
                  .service_account = "app",
                  .pod_annotations = &pod,
                  .service_account_annotations = &sa,
                  .namespace_annotations = &ns};

  Decision d = policy.Decide(subject);
  FUZZ_CHECK(SameDecision(d, policy.Decide(subject)), "a second Decide() differs (cache)");
  FUZZ_CHECK(d.external_id == "ext-1", "external id lost");
  FUZZ_CHECK(!d.reason.empty(), "a decision without a reason");

  bool has_role = d.outcome == Outcome::kAllowed || d.outcome == Outcome::kDenied;
  FUZZ_CHECK(d.role.has_value() == has_role, "role set for the wrong outcome");
  if (role_value.empty()) {
    FUZZ_CHECK(
        d.source == (options.default_role.empty() ? RoleSource::kNone : RoleSource::kDefault),
        "empty annotation but not the default/no role");
    FUZZ_CHECK(d.outcome == (options.default_role.empty() ? Outcome::kNoRole : Outcome::kAllowed),
               "empty annotation but not no-role/default");
    return 0;
  }
  FUZZ_CHECK(d.source == (on_sa ? RoleSource::kServiceAccount : RoleSource::kPod), "wrong source");
  auto resolved = options.base ? aws::ResolveRoleArn(role_value, *options.base)
                               : aws::ResolveRoleArn(role_value);
  FUZZ_CHECK(resolved.has_value() == (d.outcome != Outcome::kInvalid),
             "invalid iff the annotation does not resolve");
  if (!resolved) {
    return 0;
  }
  FUZZ_CHECK(*d.role == *resolved, "decided role is not the resolved annotation");
  std::string why;
  bool allows = policy.NamespaceAllows(*resolved, &ns, &why);
  FUZZ_CHECK(allows == (d.outcome == Outcome::kAllowed), "Decide and NamespaceAllows disagree");
  FUZZ_CHECK(!why.empty(), "NamespaceAllows without a reason");

  bool is_default = resolved->ToString() == "arn:aws:iam::123456789012:role/default" &&
                    !options.default_role.empty();
  if (options.namespace_restrictions && !is_default) {
    if (ns.empty()) {
      FUZZ_CHECK(!allows, "a namespace without annotations allowed a role");
    }
    // kube2iam glob list of literal full ARNs, no permitted: allowed exactly when listed.
    if (options.format == RestrictionFormat::kGlob && ns.size() == 1 && (flags & 32U) != 0) {
      if (auto list = LiteralArnList(allowed)) {
        bool listed = false;
        for (const auto& arn : *list) {
          listed = listed || arn == resolved->ToString();
        }
        FUZZ_CHECK(allows == listed, "literal ARN list does not allow exactly its entries");
      }
    }
  }
  return 0;
}
