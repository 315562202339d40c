// Fuzzes transport::RequestParser, the HTTP/1.1 request parser HttpServer runs on bytes from pods
// (docs/fuzzing.md).
//
// Input layout:
//   byte 0     limits: bit 0 small head limit (256 bytes, else 8 KiB), bit 1 small body limit
//              (16 bytes, else 64 KiB)
//   byte 1     feeding: 0 byte by byte, else chunks of (byte % 64) + 1 bytes
//   rest       the bytes a client sent
//
// Invariants: one-shot parsing is deterministic; feeding the bytes in pieces the way HttpServer
// does (ParseRequestInPieces) gives the same request and consumed count as one-shot parsing
// whenever either parses one, and the same 413 (an unfinished malformed head may end as another
// error or "need more", as request_parser.hpp says); a
// parsed request has a method and target without whitespace or CR/LF, header names that are tokens,
// values without CR/LF, a head within the head limit and a body within the body limit, and consumed
// bytes within the input; parsing only the consumed bytes gives the same request again; an error is
// 400 (malformed, framing), 413 (body too large) or 431 (head too large) with a message.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz/fuzz_input.hpp"
#include "podiam/transport/request_parser.hpp"

namespace podiam::transport {
namespace {

bool SameRequest(const http::Request& a, const http::Request& b) {
  return a.method == b.method && a.target == b.target && a.headers.items() == b.headers.items() &&
         a.body == b.body;
}

bool SameOutcome(const RequestParseOutcome& a, const RequestParseOutcome& b) {
  if (a.status != b.status) {
    return false;
  }
  if (a.status == ParseStatus::kDone) {
    return a.parsed.consumed == b.parsed.consumed && a.parsed.keep_alive == b.parsed.keep_alive &&
           a.parsed.http_version == b.parsed.http_version &&
           SameRequest(a.parsed.request, b.parsed.request);
  }
  if (a.status == ParseStatus::kError) {
    return a.error.kind == b.error.kind && a.error.status == b.error.status;
  }
  return true;
}

bool IsTokenChar(char c) {
  auto u = static_cast<unsigned char>(c);
  return u > 0x20 && u < 0x7f &&
         std::string_view("\"(),/:;<=>?@[\\]{}").find(c) == std::string_view::npos;
}

void CheckRequest(const ParsedRequest& parsed, std::string_view bytes, RequestParserLimits limits) {
  const http::Request& r = parsed.request;
  FUZZ_CHECK(parsed.consumed > 0 && parsed.consumed <= bytes.size(), "consumed out of range");
  FUZZ_CHECK(parsed.http_version == 10 || parsed.http_version == 11, "version not 1.0 or 1.1");
  FUZZ_CHECK(!r.method.empty(), "empty method");
  for (char c : r.method) {
    FUZZ_CHECK(IsTokenChar(c), "method is not a token");
  }
  FUZZ_CHECK(!r.target.empty(), "empty target");
  FUZZ_CHECK(r.target.find_first_of(" \t\r\n") == std::string::npos, "whitespace in the target");
  std::size_t head = r.method.size() + r.target.size();
  for (const auto& [name, value] : r.headers.items()) {
    FUZZ_CHECK(!name.empty(), "empty header name");
    for (char c : name) {
      FUZZ_CHECK(IsTokenChar(c), "header name is not a token");
    }
    FUZZ_CHECK(value.find_first_of("\r\n") == std::string::npos, "CR/LF in a header value");
    head += name.size() + value.size();
  }
  FUZZ_CHECK(head <= limits.max_header_bytes, "head above the limit");
  FUZZ_CHECK(r.body.size() <= limits.max_body_bytes, "body above the limit");
  FUZZ_CHECK(r.body.size() <= parsed.consumed, "body larger than the bytes consumed");
}

}  // namespace
}  // namespace podiam::transport

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using podiam::transport::ParseStatus;
  podiam::fuzz::Input in(data, size);
  const std::uint8_t flags = in.Byte();
  const std::uint8_t feed = in.Byte();
  const std::string_view bytes = in.Rest();
  const podiam::transport::RequestParserLimits limits{
      .max_header_bytes = (flags & 1) != 0 ? 256 : std::size_t{8} * 1024,
      .max_body_bytes = (flags & 2) != 0 ? 16 : std::size_t{64} * 1024};

  auto whole = podiam::transport::ParseRequest(bytes, limits);
  FUZZ_CHECK(podiam::transport::SameOutcome(whole, podiam::transport::ParseRequest(bytes, limits)),
             "parsing is not deterministic");
  const std::size_t chunk = feed == 0 ? 1 : (feed % 64) + 1;
  auto pieces = podiam::transport::ParseRequestInPieces(bytes, limits, chunk);
  // Beast checks the first bytes it gets line by line but then waits for the end of the head
  // (request_parser.hpp): for a head that is malformed and unfinished, one-shot and piecewise
  // parsing may differ between an error, which error, and "need more". A request that parses at
  // all must parse the same; a body over the limit (the head was complete) is that error both ways.
  if (whole.status == ParseStatus::kDone || pieces.status == ParseStatus::kDone ||
      (whole.status == ParseStatus::kError &&
       whole.error.kind == podiam::transport::ParseErrorKind::kBodyTooLarge)) {
    FUZZ_CHECK(podiam::transport::SameOutcome(whole, pieces),
               "feeding in pieces gives another result than parsing at once");
  }

  switch (whole.status) {
    case ParseStatus::kDone: {
      podiam::transport::CheckRequest(whole.parsed, bytes, limits);
      auto again = podiam::transport::ParseRequest(bytes.substr(0, whole.parsed.consumed), limits);
      FUZZ_CHECK(again.status == ParseStatus::kDone &&
                     again.parsed.consumed == whole.parsed.consumed &&
                     podiam::transport::SameRequest(again.parsed.request, whole.parsed.request),
                 "the consumed bytes alone do not parse to the same request");
      break;
    }
    case ParseStatus::kError: {
      const auto& e = whole.error;
      FUZZ_CHECK(!e.message.empty(), "error without a message");
      using podiam::transport::ParseErrorKind;
      switch (e.kind) {
        case ParseErrorKind::kMalformed:
        case ParseErrorKind::kFraming:
          FUZZ_CHECK(e.status == 400, "malformed/framing error is not a 400");
          break;
        case ParseErrorKind::kHeaderTooLarge:
          FUZZ_CHECK(e.status == 431, "head too large is not a 431");
          break;
        case ParseErrorKind::kBodyTooLarge:
          FUZZ_CHECK(e.status == 413, "body too large is not a 413");
          break;
      }
      break;
    }
    case ParseStatus::kNeedMore:
      break;
    case ParseStatus::kProgress:
      FUZZ_CHECK(false, "one-shot parse ended in kProgress");
      break;
  }
  return 0;
}
