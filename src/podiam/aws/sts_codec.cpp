#include "podiam/aws/sts_codec.hpp"

#include <fmt/format.h>

#include <array>
#include <charconv>
#include <pugixml.hpp>

#include "podiam/aws/arn.hpp"
#include "podiam/aws/sigv4.hpp"
#include "podiam/aws/text.hpp"

namespace podiam::aws {
namespace {

tl::unexpected<Error> Invalid(std::string message) {
  return MakeError(ErrorCode::kInvalidArgument, std::move(message));
}

// Length in code points between min and max, or an error naming the member.
Result<std::size_t> CheckLength(std::string_view member, std::string_view value, std::size_t min,
                                std::size_t max) {
  auto length = Utf8Length(value);
  if (!length) {
    return Invalid(fmt::format("{} is not valid UTF-8", member));
  }
  if (*length < min || *length > max) {
    return Invalid(
        fmt::format("{} must be {} to {} characters long, got {}", member, min, max, *length));
  }
  return *length;
}

// Checks every byte against an ASCII character class.
template <typename Pred>
Result<void> CheckChars(std::string_view member, std::string_view value, Pred allowed,
                        std::string_view allowed_text) {
  for (char c : value) {
    if (!allowed(c)) {
      return Invalid(fmt::format("{} contains {}; allowed: {}", member,
                                 Quote(std::string_view(&c, 1)), allowed_text));
    }
  }
  return Ok();
}

Result<void> CheckRoleArn(std::string_view role_arn) {
  if (role_arn.empty()) {
    return Invalid("RoleArn is required");
  }
  if (auto ok = CheckLength("RoleArn", role_arn, 20, 2048); !ok) {
    return tl::unexpected(ok.error());
  }
  if (auto role = ParseRoleArn(role_arn); !role) {
    return tl::unexpected(role.error().Wrap("RoleArn"));
  }
  return Ok();
}

Result<void> CheckDuration(const std::optional<int>& duration) {
  if (duration && (*duration < 900 || *duration > 43200)) {
    return Invalid(fmt::format(
        "DurationSeconds must be 900 to 43200 (and at most the role's MaxSessionDuration), got {}",
        *duration));
  }
  return Ok();
}

// \u0009 \u000A \u000D \u0020-\u00FF, 1-2048 characters.
Result<void> CheckPolicy(std::string_view policy) {
  if (policy.empty()) {
    return Ok();
  }
  if (auto ok = CheckLength("Policy", policy, 1, 2048); !ok) {
    return tl::unexpected(ok.error());
  }
  auto decoded = DecodeUtf8(policy);  // valid: CheckLength passed
  for (char32_t c : *decoded) {
    if (!(c == 0x09 || c == 0x0a || c == 0x0d || (c >= 0x20 && c <= 0xff))) {
      return Invalid(
          fmt::format("Policy contains U+{:04X}; STS allows only tab, newline, carriage return and "
                      "U+0020-U+00FF",
                      static_cast<std::uint32_t>(c)));
    }
  }
  return Ok();
}

Result<void> CheckPolicyArns(const std::vector<std::string>& arns) {
  if (arns.size() > 10) {
    return Invalid(fmt::format("PolicyArns may hold at most 10 ARNs, got {}", arns.size()));
  }
  for (std::size_t i = 0; i < arns.size(); ++i) {
    std::string member = fmt::format("PolicyArns[{}]", i);
    if (auto ok = CheckLength(member, arns[i], 20, 2048); !ok) {
      return tl::unexpected(ok.error());
    }
    if (auto arn = ParseArn(arns[i]); !arn) {
      return tl::unexpected(arn.error().Wrap(member));
    }
  }
  return Ok();
}

// [\p{L}\p{Z}\p{N}_.:/=+\-@]: ASCII is checked exactly; non-ASCII code points are accepted as
// letters (checking Unicode categories would need ICU; STS rejects the rare symbol itself).
Result<void> CheckTagText(std::string_view member, std::string_view text) {
  auto decoded = DecodeUtf8(text);
  for (char32_t c : *decoded) {
    bool ok = c >= 0x80 || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == ' ' || c == '_' || c == '.' || c == ':' || c == '/' ||
              c == '=' || c == '+' || c == '-' || c == '@';
    if (!ok) {
      return Invalid(
          fmt::format("{} contains U+{:04X}; allowed: letters, digits, spaces and _.:/=+-@", member,
                      static_cast<std::uint32_t>(c)));
    }
  }
  return Ok();
}

Result<void> CheckTags(const std::vector<Tag>& tags,
                       const std::vector<std::string>& transitive_keys) {
  if (tags.size() > 50) {
    return Invalid(fmt::format("Tags may hold at most 50 tags, got {}", tags.size()));
  }
  for (std::size_t i = 0; i < tags.size(); ++i) {
    std::string key_member = fmt::format("Tags[{}].Key", i);
    std::string value_member = fmt::format("Tags[{}].Value", i);
    if (auto ok = CheckLength(key_member, tags[i].key, 1, 128); !ok) {
      return tl::unexpected(ok.error());
    }
    if (auto ok = CheckTagText(key_member, tags[i].key); !ok) {
      return ok;
    }
    if (auto ok = CheckLength(value_member, tags[i].value, 0, 256); !ok) {
      return tl::unexpected(ok.error());
    }
    if (auto ok = CheckTagText(value_member, tags[i].value); !ok) {
      return ok;
    }
  }
  if (transitive_keys.size() > 50) {
    return Invalid(
        fmt::format("TransitiveTagKeys may hold at most 50 keys, got {}", transitive_keys.size()));
  }
  for (std::size_t i = 0; i < transitive_keys.size(); ++i) {
    std::string member = fmt::format("TransitiveTagKeys[{}]", i);
    if (auto ok = CheckLength(member, transitive_keys[i], 1, 128); !ok) {
      return tl::unexpected(ok.error());
    }
    if (auto ok = CheckTagText(member, transitive_keys[i]); !ok) {
      return ok;
    }
  }
  return Ok();
}

void AddPolicyArns(FormParams& params, const std::vector<std::string>& arns) {
  for (std::size_t i = 0; i < arns.size(); ++i) {
    params.emplace_back(fmt::format("PolicyArns.member.{}.arn", i + 1), arns[i]);
  }
}

// --- XML ---------------------------------------------------------------------------------

tl::unexpected<Error> BadResponse(std::string message) {
  return MakeError(ErrorCode::kUpstreamInvalid, std::move(message));
}

// Parses the body and returns the <{action}Result> element of <{action}Response>.
Result<pugi::xml_node> ResultNode(pugi::xml_document& doc, std::string_view xml,
                                  std::string_view action) {
  pugi::xml_parse_result parsed = doc.load_buffer(xml.data(), xml.size());
  if (!parsed) {
    return BadResponse(fmt::format("STS {} response is not XML ({} at offset {}): {}", action,
                                   parsed.description(), parsed.offset, Quote(xml, 80)));
  }
  pugi::xml_node root = doc.document_element();
  if (std::string_view(root.name()) == "ErrorResponse") {
    return tl::unexpected(StsErrorFromResponse(200, xml));
  }
  std::string response_name = fmt::format("{}Response", action);
  std::string result_name = fmt::format("{}Result", action);
  if (response_name != root.name()) {
    return BadResponse(fmt::format("STS {} response has root element <{}>, expected <{}>", action,
                                   root.name(), response_name));
  }
  pugi::xml_node result = root.child(result_name.c_str());
  if (!result) {
    return BadResponse(fmt::format("STS {} response has no <{}>", action, result_name));
  }
  return result;
}

std::string Text(pugi::xml_node parent, const char* name) {
  return parent.child(name).text().as_string();
}

std::string RequestId(pugi::xml_node root) {
  return Text(root.child("ResponseMetadata"), "RequestId");
}

Result<Credentials> ParseCredentials(pugi::xml_node result, std::string_view action) {
  pugi::xml_node node = result.child("Credentials");
  if (!node) {
    return BadResponse(fmt::format("STS {} response has no <Credentials>", action));
  }
  Credentials creds{.access_key_id = Text(node, "AccessKeyId"),
                    .secret_access_key = Text(node, "SecretAccessKey"),
                    .session_token = Text(node, "SessionToken"),
                    .source = fmt::format("sts {}", action)};
  for (const auto& [name, value] : {std::pair{"AccessKeyId", &creds.access_key_id},
                                    std::pair{"SecretAccessKey", &creds.secret_access_key},
                                    std::pair{"SessionToken", &creds.session_token}}) {
    if (value->empty()) {
      return BadResponse(fmt::format("STS {} response has no <Credentials><{}>", action, name));
    }
  }
  std::string expiration = Text(node, "Expiration");
  if (expiration.empty()) {
    return BadResponse(fmt::format("STS {} response has no <Credentials><Expiration>", action));
  }
  auto when = ParseTimestamp(expiration);
  if (!when) {
    return tl::unexpected(when.error().Wrap(fmt::format("STS {} Expiration", action)));
  }
  creds.expiration = *when;
  return creds;
}

AssumedRoleUser ParseAssumedRoleUser(pugi::xml_node result) {
  pugi::xml_node node = result.child("AssumedRoleUser");
  return {.assumed_role_id = Text(node, "AssumedRoleId"), .arn = Text(node, "Arn")};
}

std::optional<int> OptionalInt(pugi::xml_node parent, const char* name) {
  std::string text = Text(parent, name);
  int value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size()) {
    return std::nullopt;
  }
  return value;
}

struct CodeMapping {
  std::string_view code;
  ErrorCode error_code;
  bool retryable;
};

// STS error codes (docs/protocols.md#sts-errors) and the generic AWS ones that STS can also send.
constexpr std::array<CodeMapping, 26> kCodeMappings = {{
    {"AccessDenied", ErrorCode::kPermissionDenied, false},
    {"AccessDeniedException", ErrorCode::kPermissionDenied, false},
    {"RegionDisabledException", ErrorCode::kPermissionDenied, false},
    {"IDPRejectedClaim", ErrorCode::kPermissionDenied, false},
    {"InvalidClientTokenId", ErrorCode::kUnauthenticated, false},
    {"SignatureDoesNotMatch", ErrorCode::kUnauthenticated, false},
    {"IncompleteSignature", ErrorCode::kUnauthenticated, false},
    {"MissingAuthenticationToken", ErrorCode::kUnauthenticated, false},
    {"ExpiredToken", ErrorCode::kUnauthenticated, false},
    {"ExpiredTokenException", ErrorCode::kUnauthenticated, false},
    {"InvalidIdentityToken", ErrorCode::kUnauthenticated, false},
    {"ValidationError", ErrorCode::kInvalidArgument, false},
    {"MalformedPolicyDocument", ErrorCode::kInvalidArgument, false},
    {"PackedPolicyTooLarge", ErrorCode::kInvalidArgument, false},
    {"InvalidParameterValue", ErrorCode::kInvalidArgument, false},
    {"InvalidParameterCombination", ErrorCode::kInvalidArgument, false},
    {"MissingParameter", ErrorCode::kInvalidArgument, false},
    {"InvalidAction", ErrorCode::kInvalidArgument, false},
    {"IDPCommunicationError", ErrorCode::kUnavailable, true},
    {"Throttling", ErrorCode::kResourceExhausted, true},
    {"ThrottlingException", ErrorCode::kResourceExhausted, true},
    {"RequestLimitExceeded", ErrorCode::kResourceExhausted, true},
    {"TooManyRequestsException", ErrorCode::kResourceExhausted, true},
    {"InternalFailure", ErrorCode::kUnavailable, true},
    {"InternalError", ErrorCode::kUnavailable, true},
    {"ServiceUnavailable", ErrorCode::kUnavailable, true},
}};

// Without a known code, the HTTP status decides.
std::pair<ErrorCode, bool> FromStatus(int status) {
  if (status >= 500) {
    return {ErrorCode::kUnavailable, true};
  }
  switch (status) {
    case 429:
      return {ErrorCode::kResourceExhausted, true};
    case 401:
      return {ErrorCode::kUnauthenticated, false};
    case 403:
      return {ErrorCode::kPermissionDenied, false};
    default:
      return {ErrorCode::kInvalidArgument, false};
  }
}

}  // namespace

std::string FormEncode(const FormParams& params) {
  std::string out;
  for (const auto& [key, value] : params) {
    out += out.empty() ? "" : "&";
    out += UriEncode(key);
    out += '=';
    out += UriEncode(value);
  }
  return out;
}

Result<void> ValidateSessionName(std::string_view name) {
  if (auto ok = CheckLength("RoleSessionName", name, 2, 64); !ok) {
    return tl::unexpected(ok.error());
  }
  return CheckChars("RoleSessionName", name, IsSessionNameChar, "letters, digits and _+=,.@-");
}

std::string SanitizeSessionName(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (out.size() == 64) {
      break;
    }
    out += IsSessionNameChar(c) ? c : '-';
  }
  while (out.size() < 2) {
    out += '-';
  }
  return out;
}

Result<void> ValidateAssumeRole(const AssumeRoleRequest& r) {
  if (auto ok = CheckRoleArn(r.role_arn); !ok) {
    return ok;
  }
  if (auto ok = ValidateSessionName(r.role_session_name); !ok) {
    return ok;
  }
  if (auto ok = CheckDuration(r.duration_seconds); !ok) {
    return ok;
  }
  if (!r.external_id.empty()) {
    if (auto ok = CheckLength("ExternalId", r.external_id, 2, 1224); !ok) {
      return tl::unexpected(ok.error());
    }
    auto allowed = [](char c) { return IsSessionNameChar(c) || c == ':' || c == '/'; };
    if (auto ok = CheckChars("ExternalId", r.external_id, allowed, "letters, digits and _+=,.@:/-");
        !ok) {
      return ok;
    }
  }
  if (auto ok = CheckPolicy(r.policy); !ok) {
    return ok;
  }
  if (auto ok = CheckPolicyArns(r.policy_arns); !ok) {
    return ok;
  }
  if (auto ok = CheckTags(r.tags, r.transitive_tag_keys); !ok) {
    return ok;
  }
  if (!r.source_identity.empty()) {
    if (auto ok = CheckLength("SourceIdentity", r.source_identity, 2, 64); !ok) {
      return tl::unexpected(ok.error());
    }
    if (auto ok = CheckChars("SourceIdentity", r.source_identity, IsSessionNameChar,
                             "letters, digits and _+=,.@-");
        !ok) {
      return ok;
    }
  }
  return Ok();
}

Result<void> ValidateAssumeRoleWithWebIdentity(const AssumeRoleWithWebIdentityRequest& r) {
  if (auto ok = CheckRoleArn(r.role_arn); !ok) {
    return ok;
  }
  if (auto ok = ValidateSessionName(r.role_session_name); !ok) {
    return ok;
  }
  if (r.web_identity_token.empty()) {
    return Invalid("WebIdentityToken is required");
  }
  // Only lengths: the token is a secret, so no message quotes any part of it.
  if (r.web_identity_token.size() < 4 || r.web_identity_token.size() > 20000) {
    return Invalid(fmt::format("WebIdentityToken must be 4 to 20000 characters long, got {}",
                               r.web_identity_token.size()));
  }
  if (!r.provider_id.empty()) {
    if (auto ok = CheckLength("ProviderId", r.provider_id, 4, 2048); !ok) {
      return tl::unexpected(ok.error());
    }
  }
  if (auto ok = CheckDuration(r.duration_seconds); !ok) {
    return ok;
  }
  if (auto ok = CheckPolicy(r.policy); !ok) {
    return ok;
  }
  return CheckPolicyArns(r.policy_arns);
}

Result<std::string> EncodeAssumeRole(const AssumeRoleRequest& r) {
  if (auto ok = ValidateAssumeRole(r); !ok) {
    return tl::unexpected(ok.error());
  }
  FormParams params = {{"Action", "AssumeRole"},
                       {"Version", std::string(kStsApiVersion)},
                       {"RoleArn", r.role_arn},
                       {"RoleSessionName", r.role_session_name}};
  if (r.duration_seconds) {
    params.emplace_back("DurationSeconds", std::to_string(*r.duration_seconds));
  }
  if (!r.external_id.empty()) {
    params.emplace_back("ExternalId", r.external_id);
  }
  if (!r.policy.empty()) {
    params.emplace_back("Policy", r.policy);
  }
  AddPolicyArns(params, r.policy_arns);
  for (std::size_t i = 0; i < r.tags.size(); ++i) {
    params.emplace_back(fmt::format("Tags.member.{}.Key", i + 1), r.tags[i].key);
    params.emplace_back(fmt::format("Tags.member.{}.Value", i + 1), r.tags[i].value);
  }
  for (std::size_t i = 0; i < r.transitive_tag_keys.size(); ++i) {
    params.emplace_back(fmt::format("TransitiveTagKeys.member.{}", i + 1),
                        r.transitive_tag_keys[i]);
  }
  if (!r.source_identity.empty()) {
    params.emplace_back("SourceIdentity", r.source_identity);
  }
  return FormEncode(params);
}

Result<std::string> EncodeAssumeRoleWithWebIdentity(const AssumeRoleWithWebIdentityRequest& r) {
  if (auto ok = ValidateAssumeRoleWithWebIdentity(r); !ok) {
    return tl::unexpected(ok.error());
  }
  FormParams params = {{"Action", "AssumeRoleWithWebIdentity"},
                       {"Version", std::string(kStsApiVersion)},
                       {"RoleArn", r.role_arn},
                       {"RoleSessionName", r.role_session_name},
                       {"WebIdentityToken", r.web_identity_token}};
  if (!r.provider_id.empty()) {
    params.emplace_back("ProviderId", r.provider_id);
  }
  if (r.duration_seconds) {
    params.emplace_back("DurationSeconds", std::to_string(*r.duration_seconds));
  }
  if (!r.policy.empty()) {
    params.emplace_back("Policy", r.policy);
  }
  AddPolicyArns(params, r.policy_arns);
  return FormEncode(params);
}

std::string EncodeGetCallerIdentity() {
  return FormEncode({{"Action", "GetCallerIdentity"}, {"Version", std::string(kStsApiVersion)}});
}

Result<AssumeRoleResult> ParseAssumeRoleResponse(std::string_view xml) {
  pugi::xml_document doc;
  auto result = ResultNode(doc, xml, "AssumeRole");
  if (!result) {
    return tl::unexpected(result.error());
  }
  auto creds = ParseCredentials(*result, "AssumeRole");
  if (!creds) {
    return tl::unexpected(creds.error());
  }
  return AssumeRoleResult{.credentials = std::move(*creds),
                          .assumed_role_user = ParseAssumedRoleUser(*result),
                          .packed_policy_size = OptionalInt(*result, "PackedPolicySize"),
                          .source_identity = Text(*result, "SourceIdentity"),
                          .request_id = RequestId(doc.document_element())};
}

Result<AssumeRoleWithWebIdentityResult> ParseAssumeRoleWithWebIdentityResponse(
    std::string_view xml) {
  pugi::xml_document doc;
  auto result = ResultNode(doc, xml, "AssumeRoleWithWebIdentity");
  if (!result) {
    return tl::unexpected(result.error());
  }
  auto creds = ParseCredentials(*result, "AssumeRoleWithWebIdentity");
  if (!creds) {
    return tl::unexpected(creds.error());
  }
  return AssumeRoleWithWebIdentityResult{
      .credentials = std::move(*creds),
      .assumed_role_user = ParseAssumedRoleUser(*result),
      .packed_policy_size = OptionalInt(*result, "PackedPolicySize"),
      .subject_from_web_identity_token = Text(*result, "SubjectFromWebIdentityToken"),
      .provider = Text(*result, "Provider"),
      .audience = Text(*result, "Audience"),
      .source_identity = Text(*result, "SourceIdentity"),
      .request_id = RequestId(doc.document_element())};
}

Result<CallerIdentity> ParseGetCallerIdentityResponse(std::string_view xml) {
  pugi::xml_document doc;
  auto result = ResultNode(doc, xml, "GetCallerIdentity");
  if (!result) {
    return tl::unexpected(result.error());
  }
  CallerIdentity identity{.user_id = Text(*result, "UserId"),
                          .account = Text(*result, "Account"),
                          .arn = Text(*result, "Arn"),
                          .request_id = RequestId(doc.document_element())};
  if (identity.arn.empty()) {
    return BadResponse("STS GetCallerIdentity response has no <Arn>");
  }
  return identity;
}

Error StsErrorFromCode(std::string_view code, std::string_view message, int status) {
  for (const auto& mapping : kCodeMappings) {
    if (mapping.code == code) {
      return {mapping.error_code, std::string(message), std::string(code), mapping.retryable};
    }
  }
  auto [error_code, retryable] = FromStatus(status);
  return {error_code, std::string(message), std::string(code), retryable};
}

Error StsErrorFromResponse(int status, std::string_view body) {
  pugi::xml_document doc;
  pugi::xml_node error;
  std::string request_id;
  if (doc.load_buffer(body.data(), body.size())) {
    pugi::xml_node root = doc.document_element();
    // STS: <ErrorResponse><Error>...</Error><RequestId/>; EC2-style: <Response><Errors><Error>.
    error = root.child("Error") ? root.child("Error") : root.child("Errors").child("Error");
    request_id = root.child("RequestId") ? Text(root, "RequestId") : Text(root, "RequestID");
  }
  std::string code = Text(error, "Code");
  if (code.empty()) {
    auto [error_code, retryable] = FromStatus(status);
    if (!retryable) {
      error_code = ErrorCode::kUpstreamInvalid;
    }
    return {
        error_code,
        fmt::format("STS answered HTTP {} without an STS error body: {}", status, Quote(body, 200)),
        "", retryable};
  }
  std::string message = Text(error, "Message");
  if (message.empty()) {
    message = fmt::format("STS answered HTTP {} {}", status, code);
  }
  if (!request_id.empty()) {
    message += fmt::format(" (request id {})", request_id);
  }
  return StsErrorFromCode(code, message, status);
}

}  // namespace podiam::aws
