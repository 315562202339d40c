#include "podiam/server/protocol.hpp"

#include <fmt/format.h>

#include <array>
#include <nlohmann/json.hpp>
#include <tuple>

#include "podiam/aws/arn.hpp"

namespace podiam::server {
namespace {

// The longest namespace/name/uid a Kubernetes object has (DNS subdomain), and a generous bound for
// an ARN (IAM allows 2048 for a role path + name; podiam's roles are far shorter).
constexpr std::size_t kMaxNameBytes = 253;
constexpr std::size_t kMaxArnBytes = 2048;

struct RefusalInfo {
  Refusal refusal;
  int status;
  std::string_view code;
};

constexpr std::array<RefusalInfo, 16> kRefusals = {{
    {Refusal::kUnauthorized, 401, "Unauthorized"},
    {Refusal::kNotAnAgent, 403, "NotAnAgent"},
    {Refusal::kNoNodeBinding, 403, "NoNodeBinding"},
    {Refusal::kBadRequest, 400, "BadRequest"},
    {Refusal::kPodNotFound, 404, "PodNotFound"},
    {Refusal::kPodNotOnNode, 403, "PodNotOnNode"},
    {Refusal::kRoleDenied, 403, "RoleDenied"},
    {Refusal::kNoRole, 404, "NoRole"},
    {Refusal::kRoleMismatch, 409, "RoleMismatch"},
    {Refusal::kCredentialsDenied, 403, "CredentialsDenied"},
    {Refusal::kCredentialsUnavailable, 503, "CredentialsUnavailable"},
    {Refusal::kUnavailable, 503, "Unavailable"},
    {Refusal::kNotFound, 404, "NotFound"},
    {Refusal::kMethodNotAllowed, 405, "MethodNotAllowed"},
    {Refusal::kNotAPeer, 403, "NotAPeer"},
    {Refusal::kNotOwner, 503, "NotOwner"},
}};

const RefusalInfo& Info(Refusal refusal) {
  for (const auto& info : kRefusals) {
    if (info.refusal == refusal) {
      return info;
    }
  }
  return kRefusals[11];  // unreachable: every Refusal is in the table
}

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

Result<std::string> Field(const nlohmann::json& body, const char* name, std::size_t max_bytes) {
  auto it = body.find(name);
  if (it == body.end() || !it->is_string()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     fmt::format("the body has no string member \"{}\"", name));
  }
  const auto& value = it->get_ref<const std::string&>();
  if (value.empty() || value.size() > max_bytes) {
    return MakeError(ErrorCode::kInvalidArgument,
                     fmt::format("\"{}\" is empty or longer than {} bytes", name, max_bytes));
  }
  return value;
}

}  // namespace

std::optional<std::string_view> BearerToken(std::string_view header) {
  constexpr std::string_view kScheme = "bearer";
  if (header.size() <= kScheme.size()) {
    return std::nullopt;
  }
  for (std::size_t i = 0; i < kScheme.size(); ++i) {
    if (Lower(header[i]) != kScheme[i]) {
      return std::nullopt;
    }
  }
  std::string_view rest = header.substr(kScheme.size());
  if (rest.front() != ' ') {
    return std::nullopt;
  }
  while (!rest.empty() && rest.front() == ' ') {
    rest.remove_prefix(1);
  }
  while (!rest.empty() && rest.back() == ' ') {
    rest.remove_suffix(1);
  }
  if (rest.empty() || rest.size() > kMaxTokenBytes) {
    return std::nullopt;
  }
  for (char c : rest) {
    if (c <= ' ' || c > '~') {
      return std::nullopt;
    }
  }
  return rest;
}

Result<CredentialsRequest> ParseRequest(std::string_view body) {
  if (body.size() > kMaxBodyBytes) {
    return MakeError(ErrorCode::kInvalidArgument,
                     fmt::format("the body is larger than {} bytes", kMaxBodyBytes));
  }
  auto json = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object()) {
    return MakeError(ErrorCode::kInvalidArgument, "the body is not a JSON object");
  }
  CredentialsRequest out;
  for (auto [name, target, max] :
       {std::tuple{"namespace", &out.namespace_name, kMaxNameBytes},
        std::tuple{"name", &out.name, kMaxNameBytes}, std::tuple{"uid", &out.uid, kMaxNameBytes},
        std::tuple{"roleArn", &out.role_arn, kMaxArnBytes}}) {
    auto value = Field(json, name, max);
    if (!value) {
      return tl::unexpected(value.error());
    }
    *target = std::move(*value);
  }
  return out;
}

int RefusalStatus(Refusal refusal) { return Info(refusal).status; }

std::string_view RefusalCode(Refusal refusal) { return Info(refusal).code; }

bool RefusalRetryable(Refusal refusal) {
  int status = RefusalStatus(refusal);
  return status == 409 || status >= 500;
}

http::Response RefusalResponse(Refusal refusal, std::string_view message,
                               std::string_view upstream_code) {
  nlohmann::json body = {{"code", RefusalCode(refusal)},
                         {"message", message},
                         {"retryable", RefusalRetryable(refusal)}};
  if (!upstream_code.empty()) {
    body["upstreamCode"] = upstream_code;
  }
  return http::Response::Json(RefusalStatus(refusal),
                              body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

std::string AssumedRoleArn(const creds::CredentialSpec& spec) {
  const std::string& text =
      spec.key.target_role_arn.empty() ? spec.key.role_arn : spec.key.target_role_arn;
  auto role = aws::ParseRoleArn(text);
  if (!role) {
    return "";
  }
  return fmt::format("arn:{}:sts::{}:assumed-role/{}/{}", role->partition, role->account,
                     role->name, spec.key.session_name);
}

http::Response CredentialsResponse(const creds::CredentialSpec& spec,
                                   const aws::Credentials& credentials) {
  nlohmann::json creds = {{"AccessKeyId", credentials.access_key_id},
                          {"SecretAccessKey", credentials.secret_access_key},
                          {"SessionToken", credentials.session_token}};
  if (credentials.expiration) {
    creds["Expiration"] = aws::FormatTimestamp(*credentials.expiration);
  }
  nlohmann::json body = {
      {"roleArn", spec.key.target_role_arn.empty() ? spec.key.role_arn : spec.key.target_role_arn},
      {"sessionName", spec.key.session_name},
      {"assumedRoleUser", {{"arn", AssumedRoleArn(spec)}, {"assumedRoleId", ""}}},
      {"credentials", std::move(creds)}};
  return http::Response::Json(200,
                              body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

}  // namespace podiam::server
