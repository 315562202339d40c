// `podiam explain trust`: the trust policy a role needs for one podiam path, and what an actual
// trust policy (IAM GetRole's AssumeRolePolicyDocument) lacks (docs/explain.md §trust):
//   - imds / container-credentials: the agent's identity (--principal-arn) may sts:AssumeRole,
//     and sts:TagSession where podiam tags sessions (container credentials always; IMDS with the
//     agent's --session-tags) — the policy of `podiam iam trust-policy --principal`;
//   - irsa: the cluster's OIDC provider may sts:AssumeRoleWithWebIdentity with StringEquals on
//     "<issuer host/path>:sub" and ":aud" — the policy of `podiam iam trust-policy --issuer`;
//   - controller: the controller's identity may sts:AssumeRole with StringEquals sts:ExternalId.
// Only Allow statements are read; Deny statements, NotPrincipal/NotAction and conditions other
// than those named are not evaluated (docs/explain.md lists what is not checked).
//
// Thread-safety: pure functions.
//
//   auto need = explain::TrustRequirementFor({.path = "irsa", .role_arn = arn, .issuer = url,
//                                             .namespace_name = "ns", .service_account = "app"});
//   auto findings = explain::CheckTrust(*need, role.assume_role_policy);
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "podiam/base/error.hpp"

namespace podiam::explain {

struct TrustInputs {
  std::string path;  // imds | irsa | container-credentials | controller
  std::string role_arn;
  std::string principal_arn;  // imds, container-credentials, controller: who calls AssumeRole
  std::string issuer;         // irsa: https://HOST[/PATH]
  std::string namespace_name;
  std::string service_account;
  std::string audience = "sts.amazonaws.com";  // irsa
  std::string external_id;                     // controller
  bool session_tags = false;  // imds / controller: the agent / controller runs with --session-tags
};

// What the role's trust must allow: one principal, its actions, and StringEquals conditions.
struct TrustRequirement {
  std::string path;
  std::string role_arn;
  std::string principal_type;  // "AWS" or "Federated"
  std::string principal;
  std::string action;        // sts:AssumeRole or sts:AssumeRoleWithWebIdentity
  bool tag_session = false;  // sts:TagSession needed too
  std::vector<std::pair<std::string, std::string>> conditions;  // condition key -> value
  nlohmann::ordered_json policy;                                // the policy to paste
};

// A usage error (kInvalidArgument, one line) when an input the path needs is missing or bad.
Result<TrustRequirement> TrustRequirementFor(const TrustInputs& inputs);

struct TrustFinding {
  std::string check;  // policy | principal | tag-session | condition
  std::string detail;
};

// Findings of `actual` (a policy document as JSON text) against `need`; empty when it allows
// everything needed. Never fails: unparsable input is a finding.
std::vector<TrustFinding> CheckTrust(const TrustRequirement& need, std::string_view actual);

struct TrustReport {
  TrustRequirement need;
  bool checked = false;  // --check: `actual` and `findings` are meaningful
  std::string actual;    // the role's AssumeRolePolicyDocument
  std::vector<TrustFinding> findings;
};

// 0 without findings, 1 with.
int TrustExitCode(const TrustReport& report);
std::string RenderTrustJson(const TrustReport& report);
std::string RenderTrustText(const TrustReport& report);

}  // namespace podiam::explain
