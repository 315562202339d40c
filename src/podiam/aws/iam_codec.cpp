#include "podiam/aws/iam_codec.hpp"

#include <pugixml.hpp>

namespace podiam::aws {
namespace {

Error Bad(std::string_view action, const std::string& why) {
  return {ErrorCode::kUpstreamInvalid, "IAM " + std::string(action) + " reply " + why};
}

// The <{action}Result> element of <{action}Response>, or the error in an ErrorResponse.
Result<pugi::xml_node> ResultNode(pugi::xml_document& doc, std::string_view xml,
                                  std::string_view action, bool result_required = true) {
  if (!doc.load_buffer(xml.data(), xml.size())) {
    return tl::unexpected(Bad(action, "is not XML"));
  }
  pugi::xml_node root = doc.document_element();
  if (std::string_view(root.name()) == "ErrorResponse") {
    return tl::unexpected(IamErrorFromResponse(action, 200, xml));
  }
  std::string response = std::string(action) + "Response";
  if (response != root.name()) {
    return tl::unexpected(Bad(action, "has root <" + std::string(root.name()) + ">"));
  }
  pugi::xml_node result = root.child((std::string(action) + "Result").c_str());
  if (!result && result_required) {
    return tl::unexpected(Bad(action, "has no <" + std::string(action) + "Result>"));
  }
  return result;
}

std::string Text(pugi::xml_node parent, const char* name) {
  return parent.child(name).text().as_string();
}

std::vector<std::string> Members(pugi::xml_node list, const char* field = nullptr) {
  std::vector<std::string> out;
  for (pugi::xml_node m : list.children("member")) {
    out.emplace_back(field == nullptr ? m.text().as_string() : Text(m, field));
  }
  return out;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

}  // namespace

std::string EncodeIam(std::string_view action, const FormParams& params) {
  FormParams all{{"Action", std::string(action)}, {"Version", std::string(kIamApiVersion)}};
  all.insert(all.end(), params.begin(), params.end());
  return FormEncode(all);
}

void AppendMembers(FormParams& params, std::string_view name, const std::vector<std::string>& v) {
  for (std::size_t i = 0; i < v.size(); ++i) {
    params.emplace_back(std::string(name) + ".member." + std::to_string(i + 1), v[i]);
  }
}

std::string UrlDecode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() && HexValue(text[i + 1]) >= 0 &&
        HexValue(text[i + 2]) >= 0) {
      out += static_cast<char>(HexValue(text[i + 1]) * 16 + HexValue(text[i + 2]));
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

Result<std::string> ParseCreateOidcProvider(std::string_view xml) {
  pugi::xml_document doc;
  auto result = ResultNode(doc, xml, "CreateOpenIDConnectProvider");
  if (!result) {
    return tl::unexpected(result.error());
  }
  std::string arn = Text(*result, "OpenIDConnectProviderArn");
  if (arn.empty()) {
    return tl::unexpected(Bad("CreateOpenIDConnectProvider", "has no OpenIDConnectProviderArn"));
  }
  return arn;
}

Result<std::vector<std::string>> ParseListOidcProviders(std::string_view xml) {
  pugi::xml_document doc;
  auto result = ResultNode(doc, xml, "ListOpenIDConnectProviders");
  if (!result) {
    return tl::unexpected(result.error());
  }
  return Members(result->child("OpenIDConnectProviderList"), "Arn");
}

Result<IamOidcProvider> ParseGetOidcProvider(std::string_view xml) {
  pugi::xml_document doc;
  auto result = ResultNode(doc, xml, "GetOpenIDConnectProvider");
  if (!result) {
    return tl::unexpected(result.error());
  }
  return IamOidcProvider{.url = Text(*result, "Url"),
                         .client_ids = Members(result->child("ClientIDList")),
                         .thumbprints = Members(result->child("ThumbprintList"))};
}

Result<IamRole> ParseIamRole(std::string_view xml, std::string_view action) {
  pugi::xml_document doc;
  auto result = ResultNode(doc, xml, action);
  if (!result) {
    return tl::unexpected(result.error());
  }
  pugi::xml_node role = result->child("Role");
  IamRole out{.name = Text(role, "RoleName"),
              .arn = Text(role, "Arn"),
              .path = Text(role, "Path"),
              .assume_role_policy = UrlDecode(Text(role, "AssumeRolePolicyDocument"))};
  if (out.arn.empty() || out.name.empty()) {
    return tl::unexpected(Bad(action, "has no Role/Arn or Role/RoleName"));
  }
  return out;
}

Result<std::vector<std::string>> ParseListAttachedRolePolicies(std::string_view xml) {
  pugi::xml_document doc;
  auto result = ResultNode(doc, xml, "ListAttachedRolePolicies");
  if (!result) {
    return tl::unexpected(result.error());
  }
  if (std::string_view(result->child("IsTruncated").text().as_string()) == "true") {
    return tl::unexpected(Bad("ListAttachedRolePolicies", "is truncated (over 100 policies)"));
  }
  return Members(result->child("AttachedPolicies"), "PolicyArn");
}

Result<void> ParseIamEmpty(std::string_view xml, std::string_view action) {
  pugi::xml_document doc;
  auto result = ResultNode(doc, xml, action, /*result_required=*/false);
  if (!result) {
    return tl::unexpected(result.error());
  }
  return {};
}

Error IamErrorFromResponse(std::string_view action, int status, std::string_view body) {
  pugi::xml_document doc;
  pugi::xml_node error;
  if (doc.load_buffer(body.data(), body.size())) {
    pugi::xml_node root = doc.document_element();
    error = root.child("Error") ? root.child("Error") : root.child("Errors").child("Error");
  }
  std::string code = Text(error, "Code");
  std::string prefix = "IAM " + std::string(action) + ": ";
  bool server = status >= 500 || status == 429;
  if (code.empty()) {
    return {server ? ErrorCode::kUnavailable : ErrorCode::kUpstreamInvalid,
            prefix + "HTTP " + std::to_string(status) + " without an IAM error body", "", server};
  }
  std::string message = prefix + code + ": " + Text(error, "Message");
  ErrorCode ec = ErrorCode::kInvalidArgument;
  bool retryable = false;
  if (code == "NoSuchEntity") {
    ec = ErrorCode::kNotFound;
  } else if (code == "EntityAlreadyExists") {
    ec = ErrorCode::kConflict;
  } else if (code == "AccessDenied" || code == "AccessDeniedException") {
    ec = ErrorCode::kPermissionDenied;
  } else if (code == "InvalidClientTokenId" || code == "SignatureDoesNotMatch" ||
             code == "ExpiredToken" || code == "IncompleteSignature") {
    ec = ErrorCode::kUnauthenticated;
  } else if (code == "Throttling" || code == "LimitExceeded" || code == "ConcurrentModification") {
    ec = ErrorCode::kResourceExhausted;
    retryable = code != "LimitExceeded";
  } else if (server || code == "ServiceFailure" || code == "InternalFailure") {
    ec = ErrorCode::kUnavailable;
    retryable = true;
  }
  return {ec, message, code, retryable};
}

}  // namespace podiam::aws
