#include "podiam/serverclient/protocol.hpp"

#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <optional>

#include "podiam/aws/credentials.hpp"

namespace podiam::serverclient {
namespace {

using nlohmann::json;

// Server-supplied text that goes into messages and logs: bounded, printable.
constexpr std::size_t kMaxEchoed = 200;

std::string Printable(std::string_view text) {
  std::string out;
  for (char c : text.substr(0, kMaxEchoed)) {
    const auto u = static_cast<unsigned char>(c);
    out += (u < 0x20 || u == 0x7f) ? '?' : c;
  }
  if (text.size() > kMaxEchoed) {
    out += "...";
  }
  return out;
}

// A required non-empty string member of `object`.
std::optional<std::string> Member(const json& object, const char* name) {
  auto it = object.find(name);
  if (it == object.end() || !it->is_string() || it->get_ref<const std::string&>().empty()) {
    return std::nullopt;
  }
  return it->get<std::string>();
}

std::string OptionalMember(const json& object, const char* name) {
  auto it = object.find(name);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

tl::unexpected<Error> Invalid(std::string_view why) {
  return MakeError(ErrorCode::kUpstreamInvalid,
                   fmt::format("podiam server answered 200 with an invalid body: {}", why), {},
                   /*retryable=*/true);
}

}  // namespace

std::string EncodeRequest(const creds::PodRef& pod, std::string_view role_arn) {
  json body = {{"namespace", pod.namespace_name},
               {"name", pod.name},
               {"uid", pod.uid},
               {"roleArn", std::string(role_arn)}};
  return body.dump(-1, ' ', false, json::error_handler_t::replace);
}

Result<ServerCredentials> ParseSuccess(std::string_view body) {
  json doc = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object()) {
    return Invalid("not a JSON object");
  }
  ServerCredentials out;
  auto role = Member(doc, "roleArn");
  auto session = Member(doc, "sessionName");
  if (!role || !session) {
    return Invalid("roleArn or sessionName missing");
  }
  out.role_arn = std::move(*role);
  out.session_name = std::move(*session);
  auto user = doc.find("assumedRoleUser");
  if (user == doc.end() || !user->is_object()) {
    return Invalid("assumedRoleUser missing");
  }
  auto user_arn = Member(*user, "arn");
  if (!user_arn) {
    return Invalid("assumedRoleUser.arn missing");
  }
  // The server does not keep STS's AROA… id in its cache and sends "" (docs/server.md, "Agent
  // protocol"); nothing the agent serves to pods uses it.
  out.result.assumed_role_user = {.assumed_role_id = OptionalMember(*user, "assumedRoleId"),
                                  .arn = std::move(*user_arn)};
  auto c = doc.find("credentials");
  if (c == doc.end() || !c->is_object()) {
    return Invalid("credentials missing");
  }
  auto key = Member(*c, "AccessKeyId");
  auto secret = Member(*c, "SecretAccessKey");
  auto token = Member(*c, "SessionToken");
  auto expiration = Member(*c, "Expiration");
  if (!key || !secret || !token || !expiration) {
    return Invalid("a credentials member is missing or empty");
  }
  auto when = aws::ParseTimestamp(*expiration);
  if (!when) {
    return Invalid("credentials.Expiration is not an RFC 3339 time");
  }
  out.result.credentials = {.access_key_id = std::move(*key),
                            .secret_access_key = std::move(*secret),
                            .session_token = std::move(*token),
                            .expiration = *when,
                            .source = "podiam-server"};
  return out;
}

bool FailsOver(int status) { return status == 429 || status >= 500 || status < 400; }

Error ErrorFromResponse(int status, std::string_view body) {
  std::string code;
  std::string message;
  std::string upstream;
  json doc = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (doc.is_object()) {
    code = Printable(OptionalMember(doc, "code"));
    message = Printable(OptionalMember(doc, "message"));
    upstream = Printable(OptionalMember(doc, "upstreamCode"));
  }
  std::string text = fmt::format("podiam server answered {}", status);
  if (!code.empty()) {
    text += " " + code;
  }
  if (!message.empty()) {
    text += ": " + message;
  }
  if (!upstream.empty()) {
    text += " (STS " + upstream + ")";
  }
  std::string reported = !upstream.empty() ? upstream : code;
  ErrorCode kind = ErrorCode::kInvalidArgument;
  bool retryable = false;
  if (status == 401) {
    kind = ErrorCode::kUnauthenticated;
  } else if (status == 403) {
    kind = ErrorCode::kPermissionDenied;
  } else if (status == 404) {
    kind = ErrorCode::kNotFound;
  } else if (status == 409) {
    kind = ErrorCode::kConflict;
    retryable = true;
  } else if (status == 429 || status >= 500) {
    kind = ErrorCode::kUnavailable;
    retryable = true;
  } else if (status < 400) {
    kind = ErrorCode::kUpstreamInvalid;
    retryable = true;
  }
  return {kind, std::move(text), std::move(reported), retryable};
}

}  // namespace podiam::serverclient
