#include "podiam/aws/sigv4.hpp"

#include <fmt/format.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <array>
#include <map>
#include <vector>

namespace podiam::aws {
namespace {

constexpr std::string_view kAlgorithm = "AWS4-HMAC-SHA256";

// botocore's SIGNED_HEADERS_BLACKLIST: headers a proxy or the HTTP stack may change in flight.
constexpr std::array<std::string_view, 11> kUnsignedHeaders = {"connection",
                                                               "expect",
                                                               "keep-alive",
                                                               "proxy-authenticate",
                                                               "proxy-authorization",
                                                               "te",
                                                               "trailer",
                                                               "transfer-encoding",
                                                               "upgrade",
                                                               "user-agent",
                                                               "x-amzn-trace-id"};

std::string Lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) {
    return static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  });
  return out;
}

// The characters Python's str.split() treats as whitespace in ASCII.
bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f' ||
         (c >= '\x1c' && c <= '\x1f');
}

// SigV4 "Trimall": trim, and collapse inner runs of whitespace into one space.
std::string TrimAll(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  bool pending_space = false;
  for (char c : value) {
    if (IsSpace(c)) {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) {
      out += ' ';
      pending_space = false;
    }
    out += c;
  }
  return out;
}

// As botocore: the query string of the URL as sent, its k=v pairs sorted (no re-encoding).
std::string CanonicalQuery(std::string_view query) {
  if (query.empty()) {
    return {};
  }
  std::vector<std::pair<std::string_view, std::string_view>> pairs;
  while (true) {
    auto amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    auto eq = pair.find('=');
    pairs.emplace_back(pair.substr(0, eq),
                       eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1));
    if (amp == std::string_view::npos) {
      break;
    }
    query.remove_prefix(amp + 1);
  }
  std::sort(pairs.begin(), pairs.end());
  std::string out;
  for (const auto& [key, value] : pairs) {
    out += out.empty() ? "" : "&";
    out += key;
    out += '=';
    out += value;
  }
  return out;
}

}  // namespace

std::string UriEncode(std::string_view text, bool keep_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size() * 3);
  for (char ch : text) {
    auto c = static_cast<unsigned char>(ch);
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '_' || c == '.' || c == '~' || (keep_slash && c == '/')) {
      out += ch;
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0x0f];
    }
  }
  return out;
}

std::string HexEncode(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char ch : bytes) {
    auto c = static_cast<unsigned char>(ch);
    out += kHex[c >> 4];
    out += kHex[c & 0x0f];
  }
  return out;
}

std::string Sha256Hex(std::string_view data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  EVP_Digest(data.data(), data.size(), digest.data(), &length, EVP_sha256(), nullptr);
  return HexEncode(std::string_view(reinterpret_cast<const char*>(digest.data()), length));
}

std::string HmacSha256(std::string_view key, std::string_view data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> mac{};
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac.data(), &length);
  return {reinterpret_cast<const char*>(mac.data()), length};
}

std::string DeriveSigningKey(std::string_view secret_access_key, std::string_view date,
                             std::string_view region, std::string_view service) {
  std::string k_secret = "AWS4";
  k_secret += secret_access_key;
  std::string k_date = HmacSha256(k_secret, date);
  std::string k_region = HmacSha256(k_date, region);
  std::string k_service = HmacSha256(k_region, service);
  return HmacSha256(k_service, "aws4_request");
}

std::string FormatAmzDate(Clock::WallTime when) {
  // "2015-08-30T12:36:00Z" -> "20150830T123600Z"
  std::string iso = FormatTimestamp(when);
  std::string out;
  out.reserve(16);
  for (char c : iso) {
    if (c != '-' && c != ':') {
      out += c;
    }
  }
  return out;
}

Result<SignatureParts> SignRequest(http::ClientRequest& request, const Credentials& credentials,
                                   const SigningParams& params) {
  if (credentials.access_key_id.empty() || credentials.secret_access_key.empty()) {
    return MakeError(ErrorCode::kFailedPrecondition,
                     "cannot sign: the credentials have no access key id or secret key");
  }
  if (params.region.empty() || params.service.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "cannot sign: region and service are required");
  }
  auto url = http::ParseUrl(request.url);
  if (!url) {
    return tl::unexpected(url.error().Wrap("cannot sign"));
  }

  SignatureParts parts;
  parts.amz_date = FormatAmzDate(params.time);
  const std::string date = parts.amz_date.substr(0, 8);
  parts.credential_scope =
      fmt::format("{}/{}/{}/aws4_request", date, params.region, params.service);

  request.headers.Remove("Authorization");
  request.headers.Set("X-Amz-Date", parts.amz_date);
  if (credentials.session_token.empty()) {
    request.headers.Remove("X-Amz-Security-Token");
  } else {
    request.headers.Set("X-Amz-Security-Token", credentials.session_token);
  }
  if (!request.headers.Has("Host")) {
    // Set it rather than leave it to the transport, so the signed value is the sent value.
    request.headers.Set("Host", Lower(url->HostHeader()));
  }

  // Lowercase name -> values in order; std::map sorts the names bytewise, as SigV4 wants.
  std::map<std::string, std::vector<std::string_view>> signed_headers;
  for (const auto& [name, value] : request.headers.items()) {
    std::string lname = Lower(name);
    if (std::find(kUnsignedHeaders.begin(), kUnsignedHeaders.end(), lname) ==
        kUnsignedHeaders.end()) {
      signed_headers[lname].push_back(value);
    }
  }

  std::string_view target = url->target;
  auto question = target.find('?');
  std::string_view path = target.substr(0, question);
  std::string_view query =
      question == std::string_view::npos ? std::string_view() : target.substr(question + 1);

  std::string& cr = parts.canonical_request;
  cr.reserve(512);
  cr += request.method;
  cr += '\n';
  cr += path.empty() ? std::string("/") : UriEncode(path, /*keep_slash=*/true);
  cr += '\n';
  cr += CanonicalQuery(query);
  cr += '\n';
  for (const auto& [name, values] : signed_headers) {
    cr += name;
    cr += ':';
    for (std::size_t i = 0; i < values.size(); ++i) {
      cr += i == 0 ? "" : ",";
      cr += TrimAll(values[i]);
    }
    cr += '\n';
    parts.signed_headers += parts.signed_headers.empty() ? "" : ";";
    parts.signed_headers += name;
  }
  cr += '\n';
  cr += parts.signed_headers;
  cr += '\n';
  auto content_sha = request.headers.Get("X-Amz-Content-SHA256");
  cr += content_sha ? std::string(*content_sha) : Sha256Hex(request.body);

  parts.string_to_sign = fmt::format("{}\n{}\n{}\n{}", kAlgorithm, parts.amz_date,
                                     parts.credential_scope, Sha256Hex(cr));
  std::string key =
      DeriveSigningKey(credentials.secret_access_key, date, params.region, params.service);
  parts.signature = HexEncode(HmacSha256(key, parts.string_to_sign));
  parts.authorization = fmt::format("{} Credential={}/{}, SignedHeaders={}, Signature={}",
                                    kAlgorithm, credentials.access_key_id, parts.credential_scope,
                                    parts.signed_headers, parts.signature);
  request.headers.Set("Authorization", parts.authorization);
  return parts;
}

}  // namespace podiam::aws
