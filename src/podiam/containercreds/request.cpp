#include "podiam/containercreds/request.hpp"

#include <fmt/format.h>

#include <array>
#include <cctype>
#include <nlohmann/json.hpp>

namespace podiam::containercreds {
namespace {

bool IsHostChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '.' || c == '-' || c == '_';
}

bool IsPort(std::string_view port) {
  if (port.empty() || port.size() > 5) {
    return false;
  }
  for (char c : port) {
    if (std::isdigit(static_cast<unsigned char>(c)) == 0) {
      return false;
    }
  }
  return true;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

constexpr std::array<std::int16_t, 256> MakeAlphabet() {
  std::array<std::int16_t, 256> table{};
  for (auto& v : table) {
    v = -1;
  }
  constexpr std::string_view kChars =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  for (std::size_t i = 0; i < kChars.size(); ++i) {
    table[static_cast<unsigned char>(kChars[i])] = static_cast<std::int16_t>(i);
  }
  return table;
}
constexpr auto kAlphabet = MakeAlphabet();

Result<nlohmann::json> DecodeSegment(std::string_view segment, std::string_view what) {
  auto bytes = DecodeBase64Url(segment);
  if (!bytes) {
    return MakeError(ErrorCode::kInvalidArgument,
                     fmt::format("the token's {} is not base64url", what));
  }
  auto json = nlohmann::json::parse(*bytes, nullptr, false);
  if (json.is_discarded() || !json.is_object()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     fmt::format("the token's {} is not a JSON object", what));
  }
  return json;
}

// A NumericDate (RFC 7519 §2): an integer, or a number with a fraction (truncated).
std::optional<std::int64_t> NumericDate(const nlohmann::json& claims, const char* name) {
  auto it = claims.find(name);
  if (it == claims.end()) {
    return std::nullopt;
  }
  if (it->is_number_integer()) {
    return it->get<std::int64_t>();
  }
  if (it->is_number_unsigned()) {
    auto v = it->get<std::uint64_t>();
    if (v > static_cast<std::uint64_t>(INT64_MAX)) {
      return std::nullopt;
    }
    return static_cast<std::int64_t>(v);
  }
  if (it->is_number_float()) {
    double v = it->get<double>();
    // Outside +-2^62 (or NaN) is no date anyone means.
    if (!(v > -4.6e18 && v < 4.6e18)) {
      return std::nullopt;
    }
    return static_cast<std::int64_t>(v);
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> HostName(std::string_view header) {
  if (header.empty() || header.size() > 255) {
    return std::nullopt;
  }
  std::string_view host;
  std::string_view rest;
  if (header.front() == '[') {
    auto close = header.find(']');
    if (close == std::string_view::npos || close < 2) {
      return std::nullopt;
    }
    host = header.substr(1, close - 1);
    if (host.find(':') == std::string_view::npos) {
      return std::nullopt;  // brackets hold an IPv6 literal only (RFC 3986 IP-literal)
    }
    for (char c : host) {
      if (std::isxdigit(static_cast<unsigned char>(c)) == 0 && c != ':' && c != '.') {
        return std::nullopt;
      }
    }
    rest = header.substr(close + 1);
  } else {
    auto colon = header.find(':');
    host = header.substr(0, colon);
    rest = colon == std::string_view::npos ? std::string_view() : header.substr(colon);
    if (host.empty()) {
      return std::nullopt;
    }
    for (char c : host) {
      if (!IsHostChar(c)) {
        return std::nullopt;
      }
    }
  }
  if (!rest.empty() && (rest.front() != ':' || !IsPort(rest.substr(1)))) {
    return std::nullopt;
  }
  return Lower(host);
}

std::optional<std::string> DecodeBase64Url(std::string_view text) {
  if (text.size() % 4 == 1) {
    return std::nullopt;
  }
  std::string out;
  out.reserve(text.size() * 3 / 4);
  std::uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    int v = kAlphabet[static_cast<unsigned char>(c)];
    if (v < 0) {
      return std::nullopt;
    }
    acc = (acc << 6U) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> static_cast<unsigned>(bits)) & 0xFFU));
    }
  }
  // Leftover bits must be zero (canonical encoding).
  if (bits > 0 && (acc & ((1U << static_cast<unsigned>(bits)) - 1U)) != 0) {
    return std::nullopt;
  }
  return out;
}

Result<JwtTimes> ParseJwtTimes(std::string_view token) {
  auto first = token.find('.');
  auto second = first == std::string_view::npos ? first : token.find('.', first + 1);
  if (second == std::string_view::npos || token.find('.', second + 1) != std::string_view::npos) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "the token is not a JWT (three dot-separated parts)");
  }
  std::string_view header = token.substr(0, first);
  std::string_view payload = token.substr(first + 1, second - first - 1);
  std::string_view signature = token.substr(second + 1);
  if (header.empty() || payload.empty() || signature.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "the token has an empty part");
  }
  if (!DecodeBase64Url(signature)) {
    return MakeError(ErrorCode::kInvalidArgument, "the token's signature is not base64url");
  }
  if (auto h = DecodeSegment(header, "header"); !h) {
    return tl::unexpected(h.error());
  }
  auto claims = DecodeSegment(payload, "payload");
  if (!claims) {
    return tl::unexpected(claims.error());
  }
  JwtTimes times;
  auto exp = NumericDate(*claims, "exp");
  if (!exp) {
    return MakeError(ErrorCode::kInvalidArgument, "the token has no numeric exp claim");
  }
  times.exp = *exp;
  times.nbf = NumericDate(*claims, "nbf");
  times.iat = NumericDate(*claims, "iat");
  return times;
}

int RefusalStatus(Refusal refusal) {
  switch (refusal) {
    case Refusal::kBadRequest:
      return 400;
    case Refusal::kUnauthenticated:
      return 401;
    case Refusal::kForbidden:
      return 403;
    case Refusal::kNotFound:
    case Refusal::kNoRole:
      return 404;
    case Refusal::kMethod:
      return 405;
    case Refusal::kRateLimited:
      return 429;
    case Refusal::kUnavailable:
      return 503;
  }
  return 500;
}

std::string_view RefusalCode(Refusal refusal) {
  switch (refusal) {
    case Refusal::kBadRequest:
      return "InvalidRequest";
    case Refusal::kUnauthenticated:
      return "InvalidToken";
    case Refusal::kForbidden:
      return "AccessDenied";
    case Refusal::kNotFound:
      return "NotFound";
    case Refusal::kNoRole:
      return "ResourceNotFound";
    case Refusal::kMethod:
      return "MethodNotAllowed";
    case Refusal::kRateLimited:
      return "Throttling";
    case Refusal::kUnavailable:
      return "ServiceUnavailable";
  }
  return "InternalError";
}

http::Response RefusalResponse(Refusal refusal, std::string_view message) {
  nlohmann::json body = {{"code", RefusalCode(refusal)}, {"message", message}};
  http::Response r = http::Response::Json(
      RefusalStatus(refusal), body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  if (refusal == Refusal::kMethod) {
    r.headers.Set("Allow", "GET");
  }
  if (refusal == Refusal::kRateLimited || refusal == Refusal::kUnavailable) {
    r.headers.Set("Retry-After", "1");
  }
  return r;
}

}  // namespace podiam::containercreds
