#include "podiam/identity/policy.hpp"

#include <fmt/format.h>
#include <re2/re2.h>

#include <nlohmann/json.hpp>

#include "podiam/base/glob.hpp"

namespace podiam::identity {
namespace {

// Bounds that keep a hostile namespace annotation cheap: at most this many entries, each pattern
// at most this long, and RE2's own memory budget per pattern.
constexpr std::size_t kMaxEntries = 256;
constexpr std::size_t kMaxPatternBytes = 2048;
constexpr std::int64_t kRe2MaxMem = 1 << 20;
constexpr std::size_t kMaxCacheEntries = 1024;

std::unique_ptr<re2::RE2> CompileAnchored(std::string_view pattern, std::string* error) {
  re2::RE2::Options opts;
  opts.set_log_errors(false);
  opts.set_max_mem(kRe2MaxMem);
  auto re = std::make_unique<re2::RE2>(fmt::format("^(?:{})$", pattern), opts);
  if (!re->ok()) {
    *error = re->error();
    return nullptr;
  }
  return re;
}

}  // namespace

struct RolePolicy::Compiled {
  // For kube2iam's list: the entries as written (for explanations) and their matchers.
  std::vector<std::string> entries;
  std::vector<std::string> globs;                   // glob format: full-ARN globs
  std::vector<std::unique_ptr<re2::RE2>> patterns;  // regexp format, or kiam's single pattern
  std::string error;                                // non-empty: misconfigured, allows nothing
};

std::optional<RestrictionFormat> ParseRestrictionFormat(std::string_view text) {
  if (text == "glob") {
    return RestrictionFormat::kGlob;
  }
  if (text == "regexp") {
    return RestrictionFormat::kRegexp;
  }
  return std::nullopt;
}

std::string_view OutcomeName(Outcome outcome) {
  switch (outcome) {
    case Outcome::kAllowed:
      return "allowed";
    case Outcome::kNoRole:
      return "no_role";
    case Outcome::kDenied:
      return "denied";
    case Outcome::kInvalid:
      return "invalid";
    case Outcome::kPending:
      return "pending";
  }
  return "unknown";
}

std::string_view RoleSourceName(RoleSource source) {
  switch (source) {
    case RoleSource::kNone:
      return "none";
    case RoleSource::kPod:
      return "pod";
    case RoleSource::kServiceAccount:
      return "serviceaccount";
    case RoleSource::kDefault:
      return "default";
  }
  return "unknown";
}

RolePolicy::RolePolicy(PolicyOptions options) : options_(std::move(options)) {
  if (!options_.default_role.empty()) {
    auto role = options_.base ? aws::ResolveRoleArn(options_.default_role, *options_.base)
                              : aws::ResolveRoleArn(options_.default_role);
    if (role) {
      default_role_ = *role;
    } else {
      default_role_error_ = role.error().message();
    }
  }
}

RolePolicy::~RolePolicy() = default;

std::shared_ptr<const RolePolicy::Compiled> RolePolicy::CompileAllowedRoles(
    const std::string& value) const {
  std::string key = (options_.format == RestrictionFormat::kGlob ? "g:" : "r:") + value;
  {
    std::lock_guard lock(mu_);
    if (auto it = cache_.find(key); it != cache_.end()) {
      return it->second;
    }
  }
  auto compiled = std::make_shared<Compiled>();
  auto parsed = nlohmann::json::parse(value, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded() || !parsed.is_array()) {
    compiled->error = "is not a JSON list of strings";
  } else if (parsed.empty()) {
    compiled->error = "is an empty list";
  } else if (parsed.size() > kMaxEntries) {
    compiled->error = fmt::format("has more than {} entries", kMaxEntries);
  }
  std::string base = options_.base ? options_.base->ToString() : std::string();
  for (const auto& item : compiled->error.empty() ? parsed : nlohmann::json::array()) {
    if (!item.is_string()) {
      compiled->error = "has an entry that is not a string";
      break;
    }
    auto entry = item.get<std::string>();
    if (entry.size() > kMaxPatternBytes) {
      compiled->error = fmt::format("has an entry longer than {} bytes", kMaxPatternBytes);
      break;
    }
    // Entries that are not ARNs are relative to the base role ARN (kube2iam).
    std::string full = entry.starts_with("arn:") ? entry : base + entry;
    if (options_.format == RestrictionFormat::kGlob) {
      compiled->globs.push_back(full);
    } else {
      std::string error;
      auto re = CompileAnchored(full, &error);
      if (!re) {
        compiled->error = fmt::format("has an invalid regular expression '{}': {}", entry, error);
        break;
      }
      compiled->patterns.push_back(std::move(re));
    }
    compiled->entries.push_back(std::move(entry));
  }
  if (!compiled->error.empty()) {
    compiled->globs.clear();
    compiled->patterns.clear();
  }
  std::lock_guard lock(mu_);
  if (cache_.size() >= kMaxCacheEntries) {
    cache_.clear();
  }
  cache_.emplace(std::move(key), compiled);
  return compiled;
}

std::shared_ptr<const RolePolicy::Compiled> RolePolicy::CompilePermitted(
    const std::string& value) const {
  std::string key = "k:" + value;
  {
    std::lock_guard lock(mu_);
    if (auto it = cache_.find(key); it != cache_.end()) {
      return it->second;
    }
  }
  auto compiled = std::make_shared<Compiled>();
  if (value.empty()) {
    compiled->error = "is empty";
  } else if (value.size() > kMaxPatternBytes) {
    compiled->error = fmt::format("is longer than {} bytes", kMaxPatternBytes);
  } else {
    std::string error;
    auto re = CompileAnchored(value, &error);
    if (re) {
      compiled->patterns.push_back(std::move(re));
      compiled->entries.push_back(value);
    } else {
      compiled->error = "is an invalid regular expression: " + error;
    }
  }
  std::lock_guard lock(mu_);
  if (cache_.size() >= kMaxCacheEntries) {
    cache_.clear();
  }
  cache_.emplace(std::move(key), compiled);
  return compiled;
}

bool RolePolicy::NamespaceAllows(const aws::RoleArn& role, const Annotations* ns,
                                 std::string* reason) const {
  std::string explanation;
  auto say = [&](std::string text) {
    if (reason != nullptr) {
      *reason = std::move(text);
    }
  };
  if (!options_.namespace_restrictions) {
    say("namespace restrictions are off (--namespace-restrictions=false)");
    return true;
  }
  if (default_role_ && role == *default_role_) {
    say("it is the default role (--default-role), which every namespace may use");
    return true;
  }
  std::string arn = role.ToString();
  const std::string* allowed = nullptr;
  const std::string* permitted = nullptr;
  if (ns != nullptr) {
    if (auto it = ns->find(options_.keys.allowed_roles); it != ns->end()) {
      allowed = &it->second;
    }
    if (auto it = ns->find(options_.keys.permitted); it != ns->end()) {
      permitted = &it->second;
    }
  }
  if (allowed == nullptr && permitted == nullptr) {
    say(fmt::format("the namespace has neither {} nor {}, so it allows no role",
                    options_.keys.allowed_roles, options_.keys.permitted));
    return false;
  }
  std::vector<std::string> refusals;
  if (allowed != nullptr) {
    auto compiled = CompileAllowedRoles(*allowed);
    if (!compiled->error.empty()) {
      refusals.push_back(fmt::format("{} {} (misconfigured; allows nothing)",
                                     options_.keys.allowed_roles, compiled->error));
    } else {
      for (std::size_t i = 0; i < compiled->entries.size(); ++i) {
        bool match = options_.format == RestrictionFormat::kGlob
                         ? GlobMatch(compiled->globs[i], arn)
                         : re2::RE2::FullMatch(arn, *compiled->patterns[i]);
        if (match) {
          say(fmt::format("{} entry '{}' matches", options_.keys.allowed_roles,
                          compiled->entries[i]));
          return true;
        }
      }
      refusals.push_back(fmt::format("no entry of {} matches", options_.keys.allowed_roles));
    }
  }
  if (permitted != nullptr) {
    auto compiled = CompilePermitted(*permitted);
    if (!compiled->error.empty()) {
      refusals.push_back(fmt::format("{} {} (misconfigured; allows nothing)",
                                     options_.keys.permitted, compiled->error));
    } else if (re2::RE2::FullMatch(arn, *compiled->patterns.front())) {
      say(fmt::format("{} '{}' matches", options_.keys.permitted, *permitted));
      return true;
    } else {
      refusals.push_back(
          fmt::format("{} '{}' does not match", options_.keys.permitted, *permitted));
    }
  }
  std::string text = "namespace policy refuses " + arn + ": ";
  for (std::size_t i = 0; i < refusals.size(); ++i) {
    text += (i > 0 ? "; " : "") + refusals[i];
  }
  say(std::move(text));
  return false;
}

Decision RolePolicy::Decide(const Subject& subject) const {
  Decision d;
  auto find = [](const Annotations* a, const std::string& key) -> const std::string* {
    if (a == nullptr) {
      return nullptr;
    }
    auto it = a->find(key);
    return it == a->end() ? nullptr : &it->second;
  };
  if (const auto* ext = find(subject.pod_annotations, options_.keys.external_id)) {
    d.external_id = *ext;
  }

  const std::string* value = find(subject.pod_annotations, options_.keys.role);
  d.source = RoleSource::kPod;
  if (value == nullptr || value->empty()) {
    value = find(subject.service_account_annotations, options_.keys.role);
    d.source = RoleSource::kServiceAccount;
  }
  if (value == nullptr || value->empty()) {
    if (!options_.default_role.empty()) {
      d.source = RoleSource::kDefault;
      if (!default_role_) {
        d.outcome = Outcome::kInvalid;
        d.reason = "the default role is invalid: " + default_role_error_;
        return d;
      }
      d.role = default_role_;
      d.outcome = Outcome::kAllowed;
      d.reason = "no role annotation on the pod or its service account; using the default role";
      return d;
    }
    d.source = RoleSource::kNone;
    d.outcome = Outcome::kNoRole;
    d.reason = fmt::format(
        "neither the pod nor its service account has {}, and there is no "
        "default role",
        options_.keys.role);
    return d;
  }

  std::string where = d.source == RoleSource::kPod ? "pod annotation " + options_.keys.role
                                                   : "service account " + subject.service_account +
                                                         " annotation " + options_.keys.role;
  auto role =
      options_.base ? aws::ResolveRoleArn(*value, *options_.base) : aws::ResolveRoleArn(*value);
  if (!role) {
    d.outcome = Outcome::kInvalid;
    d.reason = where + " is invalid: " + role.error().message();
    return d;
  }
  d.role = *role;
  std::string why;
  if (NamespaceAllows(*role, subject.namespace_annotations, &why)) {
    d.outcome = Outcome::kAllowed;
    d.reason = fmt::format("{} asks for {}; namespace {} allows it: {}", where, role->ToString(),
                           subject.namespace_name, why);
  } else {
    d.outcome = Outcome::kDenied;
    d.reason = fmt::format("{} asks for {}; {}", where, role->ToString(), why);
  }
  return d;
}

}  // namespace podiam::identity
