// AWS Signature Version 4 for requests podiam sends itself (STS Query API POSTs, mostly).
// Follows botocore's SigV4Auth byte for byte (tests/integration/test_sigv4_oracle.py checks it on
// generated requests): every header is signed except hop-by-hop ones and User-Agent, the payload
// hash is SHA-256 of the body, and a session token travels as a signed X-Amz-Security-Token.
//
// Thread-safety: pure functions.
//
//   http::ClientRequest req{.method = "POST", .url = "https://sts.us-east-1.amazonaws.com/",
//                           .body = form};
//   req.headers.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8");
//   auto signed_ = aws::SignRequest(req, creds, {.region = "us-east-1", .service = "sts",
//                                               .time = clock.Now()});
//   // req now carries Host, X-Amz-Date, X-Amz-Security-Token and Authorization.
#pragma once

#include <string>
#include <string_view>

#include "podiam/aws/credentials.hpp"
#include "podiam/base/clock.hpp"
#include "podiam/base/error.hpp"
#include "podiam/http/client.hpp"

namespace podiam::aws {

struct SigningParams {
  std::string_view region;   // the signing region ("us-east-1" for the global STS endpoint)
  std::string_view service;  // "sts"
  Clock::WallTime time;      // the request time; SigV4 rejects clocks more than ~5 min off
};

// The steps of one signature, for tests and debugging. Holds no secret material (the derived
// signing key is deliberately absent).
struct SignatureParts {
  std::string amz_date;          // "20150830T123600Z"
  std::string credential_scope;  // "20150830/us-east-1/sts/aws4_request"
  std::string canonical_request;
  std::string string_to_sign;
  std::string signed_headers;  // "content-type;host;x-amz-date"
  std::string signature;       // lowercase hex
  std::string authorization;   // the Authorization header value
};

// Signs `request` in place: sets Host (from the URL, when absent), X-Amz-Date,
// X-Amz-Security-Token (when the credentials have a session token; removed otherwise) and
// Authorization (replacing an earlier one, so a retry can re-sign the same request).
Result<SignatureParts> SignRequest(http::ClientRequest& request, const Credentials& credentials,
                                   const SigningParams& params);

// --- Building blocks, exposed for tests and benchmarks -------------------------------------

// RFC 3986 percent-encoding: A-Z a-z 0-9 - _ . ~ stay, everything else is %XX (uppercase hex);
// with keep_slash, '/' stays too (URI paths).
std::string UriEncode(std::string_view text, bool keep_slash = false);
// Lowercase hex.
std::string HexEncode(std::string_view bytes);
std::string Sha256Hex(std::string_view data);
// Raw 32-byte HMAC-SHA256.
std::string HmacSha256(std::string_view key, std::string_view data);
// kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request").
// Raw bytes; as secret as the secret key for that day, region and service.
std::string DeriveSigningKey(std::string_view secret_access_key, std::string_view date,
                             std::string_view region, std::string_view service);
// "20150830T123600Z".
std::string FormatAmzDate(Clock::WallTime when);

}  // namespace podiam::aws
