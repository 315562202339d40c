#include "podiam/explain/trust.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

#include "podiam/aws/arn.hpp"
#include "podiam/base/glob.hpp"
#include "podiam/oidc/discovery.hpp"
#include "podiam/oidc/trust_policy.hpp"

namespace podiam::explain {
namespace {

using Json = nlohmann::json;

Error Usage(const std::string& what) { return {ErrorCode::kInvalidArgument, what}; }

char Lower(char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); }

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                            [](char x, char y) { return Lower(x) == Lower(y); });
}

// IAM's policy wildcards: '*' any run, '?' one character (IAM User Guide, "IAM JSON policy
// elements: Action" and "Condition operators: StringLike").
bool Glob(std::string_view pattern, std::string_view text, bool ignore_case) {
  return GlobMatch(pattern, text, {.question_mark = true, .ignore_case = ignore_case});
}

// A policy element that is one string or a list of strings, as strings (others skipped).
std::vector<std::string> Strings(const Json& element) {
  std::vector<std::string> out;
  if (element.is_string()) {
    out.push_back(element.get<std::string>());
  } else if (element.is_array()) {
    for (const auto& v : element) {
      if (v.is_string()) {
        out.push_back(v.get<std::string>());
      }
    }
  }
  return out;
}

bool PrincipalMatches(const TrustRequirement& need, const Json& statement) {
  auto it = statement.find("Principal");
  if (it == statement.end()) {
    return false;
  }
  if (it->is_string()) {
    return it->get<std::string>() == "*";
  }
  if (!it->is_object() || !it->contains(need.principal_type)) {
    return false;
  }
  std::string account;
  std::string root;  // arn:PARTITION:iam::ACCOUNT:root
  if (auto arn = aws::ParseArn(need.principal); arn && need.principal_type == "AWS") {
    account = arn->account;
    root = fmt::format("arn:{}:iam::{}:root", arn->partition, arn->account);
  }
  for (const auto& p : Strings(it->at(need.principal_type))) {
    if (p == need.principal || p == "*" || (!account.empty() && (p == account || p == root))) {
      return true;
    }
  }
  return false;
}

bool ActionMatches(const Json& statement, std::string_view action) {
  auto it = statement.find("Action");
  if (it == statement.end()) {
    return false;
  }
  auto actions = Strings(*it);
  return std::any_of(actions.begin(), actions.end(),
                     [action](const std::string& a) { return Glob(a, action, true); });
}

bool IsAllow(const Json& statement) {
  if (!statement.is_object()) {
    return false;
  }
  auto effect = statement.find("Effect");
  return effect != statement.end() && effect->is_string() && *effect == "Allow";
}

// Why `statement`'s conditions do not require key = value ("" when one of its StringEquals /
// StringLike / StringEqualsIgnoreCase operators does).
std::string ConditionProblem(const Json& statement, const std::string& key,
                             const std::string& value) {
  static constexpr std::array<std::string_view, 3> kOperators = {"StringEquals", "StringLike",
                                                                 "StringEqualsIgnoreCase"};
  auto cond = statement.find("Condition");
  std::vector<std::string> seen;
  if (cond != statement.end() && cond->is_object()) {
    for (const auto& [op, block] : cond->items()) {
      if (std::find(kOperators.begin(), kOperators.end(), op) == kOperators.end() ||
          !block.is_object()) {
        continue;
      }
      for (const auto& [k, v] : block.items()) {
        if (!EqualsIgnoreCase(k, key)) {
          continue;
        }
        for (const auto& got : Strings(v)) {
          bool ok = op == "StringLike"               ? Glob(got, value, false)
                    : op == "StringEqualsIgnoreCase" ? EqualsIgnoreCase(got, value)
                                                     : got == value;
          if (ok) {
            return "";
          }
          seen.push_back(fmt::format("{} '{}'", op, got));
        }
      }
    }
  }
  if (seen.empty()) {
    return fmt::format("no condition on {} (needs StringEquals '{}')", key, value);
  }
  return fmt::format("condition {} is {}; needs '{}'", key, fmt::join(seen, ", "), value);
}

}  // namespace

Result<TrustRequirement> TrustRequirementFor(const TrustInputs& in) {
  auto role = aws::ParseRoleArn(in.role_arn);
  if (!role) {
    return tl::unexpected(Usage("--role: " + role.error().message()));
  }
  TrustRequirement need{.path = in.path, .role_arn = in.role_arn};
  if (in.path == "irsa") {
    if (in.issuer.empty() || in.namespace_name.empty() || in.service_account.empty()) {
      return tl::unexpected(Usage("--path irsa needs --issuer, --namespace and --service-account"));
    }
    auto issuer = oidc::ParseIssuer(in.issuer);
    if (!issuer) {
      return tl::unexpected(Usage("--issuer: " + issuer.error().message()));
    }
    // The provider is in the role's own account and partition (docs/oidc.md §Trust policies).
    need.principal_type = "Federated";
    need.principal = oidc::OidcProviderArn(role->partition, role->account, issuer->host_path);
    need.action = "sts:AssumeRoleWithWebIdentity";
    need.conditions = {{issuer->host_path + ":sub",
                        "system:serviceaccount:" + in.namespace_name + ":" + in.service_account},
                       {issuer->host_path + ":aud", in.audience}};
    need.policy = oidc::ServiceAccountTrustPolicy(need.principal, *issuer, in.namespace_name,
                                                  in.service_account, in.audience);
    return need;
  }
  if (in.path != "imds" && in.path != "container-credentials" && in.path != "controller") {
    return tl::unexpected(Usage("--path must be imds, irsa, container-credentials or controller"));
  }
  if (in.principal_arn.empty()) {
    return tl::unexpected(Usage("--path " + in.path +
                                " needs --principal-arn (the role or user podiam's " +
                                (in.path == "controller" ? "controller" : "agent") + " runs as)"));
  }
  if (auto p = aws::ParseArn(in.principal_arn); !p) {
    return tl::unexpected(Usage("--principal-arn: " + p.error().message()));
  }
  need.principal_type = "AWS";
  need.principal = in.principal_arn;
  need.action = "sts:AssumeRole";
  if (in.path == "controller") {
    if (in.external_id.empty()) {
      return tl::unexpected(Usage(
          "--path controller needs --external-id (the namespace, or NAMESPACE/--cluster-name)"));
    }
    need.conditions = {{"sts:ExternalId", in.external_id}};
    // With --session-tags the controller tags its sessions (docs/controller.md).
    need.tag_session = in.session_tags;
    Json action = in.session_tags ? Json::array({"sts:AssumeRole", "sts:TagSession"})
                                  : Json("sts:AssumeRole");
    need.policy = {{"Version", "2012-10-17"},
                   {"Statement",
                    {{{"Effect", "Allow"},
                      {"Principal", {{"AWS", in.principal_arn}}},
                      {"Action", action},
                      {"Condition", {{"StringEquals", {{"sts:ExternalId", in.external_id}}}}}}}}};
    return need;
  }
  // Container credentials always pass session tags (docs/container-credentials.md); IMDS only
  // with --session-tags (docs/agent.md).
  need.tag_session = in.path == "container-credentials" || in.session_tags;
  need.policy = oidc::PrincipalTrustPolicy(in.principal_arn);
  return need;
}

std::vector<TrustFinding> CheckTrust(const TrustRequirement& need, std::string_view actual) {
  Json doc = Json::parse(actual, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    return {{"policy", "the trust policy is not a JSON object"}};
  }
  std::vector<Json> statements;
  if (auto it = doc.find("Statement"); it != doc.end() && it->is_array()) {
    statements.assign(it->begin(), it->end());
  } else if (it != doc.end() && it->is_object()) {
    statements.push_back(*it);
  }
  std::vector<TrustFinding> findings;
  std::vector<std::string> best;
  bool principal_found = false;
  bool tag_found = false;
  for (const auto& s : statements) {
    if (!IsAllow(s) || !PrincipalMatches(need, s)) {
      continue;
    }
    tag_found = tag_found || ActionMatches(s, "sts:TagSession");
    if (!ActionMatches(s, need.action)) {
      continue;
    }
    std::vector<std::string> problems;
    for (const auto& [key, value] : need.conditions) {
      if (auto p = ConditionProblem(s, key, value); !p.empty()) {
        problems.push_back(std::move(p));
      }
    }
    if (!principal_found || problems.size() < best.size()) {
      best = std::move(problems);
    }
    principal_found = true;
  }
  if (!principal_found) {
    findings.push_back(
        {"principal", fmt::format("no Allow statement lets {} {} call {}", need.principal_type,
                                  need.principal, need.action)});
  }
  for (auto& p : best) {
    findings.push_back({"condition", std::move(p)});
  }
  if (need.tag_session && !tag_found) {
    findings.push_back(
        {"tag-session", fmt::format("no Allow statement lets {} call sts:TagSession (podiam "
                                    "passes session tags on the {} path; AssumeRole fails)",
                                    need.principal, need.path)});
  }
  return findings;
}

int TrustExitCode(const TrustReport& report) { return report.findings.empty() ? 0 : 1; }

std::string RenderTrustJson(const TrustReport& r) {
  nlohmann::ordered_json out = {
      {"kind", "trust"},      {"role", r.need.role_arn},
      {"path", r.need.path},  {"required_policy", r.need.policy},
      {"checked", r.checked}, {"findings", nlohmann::ordered_json::array()}};
  for (const auto& f : r.findings) {
    out["findings"].push_back({{"check", f.check}, {"detail", f.detail}});
  }
  return out.dump(2, ' ', false, Json::error_handler_t::replace) + "\n";
}

std::string RenderTrustText(const TrustReport& r) {
  std::string out = fmt::format("trust policy {} needs for the {} path:\n{}\n", r.need.role_arn,
                                r.need.path, r.need.policy.dump(2));
  if (!r.checked) {
    return out;
  }
  out += "\nits trust policy (IAM GetRole):\n";
  for (const auto& f : r.findings) {
    std::string detail = f.detail;
    for (auto& c : detail) {
      if (std::iscntrl(static_cast<unsigned char>(c)) != 0) {
        c = '?';
      }
    }
    out += fmt::format("  NO  {:<12} {}\n", f.check, detail);
  }
  out += r.findings.empty() ? "verdict trust: OK (allows everything the path needs)\n"
                            : fmt::format("verdict trust: {} finding(s)\n", r.findings.size());
  return out;
}

}  // namespace podiam::explain
