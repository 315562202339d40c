// RequestParser: the HTTP/1.1 request parser behind HttpServer, on its own so that it can be
// tested and fuzzed without sockets. Bytes in, an http::Request or a classified error out.
//
// It is incremental: Put() is given the bytes received so far that it has not consumed yet, and
// returns how many it consumed. A request head is only consumed once it is complete (Put() returns
// 0 and kNeedMore until then), so the caller keeps unconsumed bytes and appends new ones behind
// them; body bytes are consumed as they come. One parser reads one request; pipelined requests
// need a new parser for the bytes after the first one's end.
//
// Defences (docs/protocols.md#http-server): the head is bounded by max_header_bytes (431), the
// body by max_body_bytes (413), request-smuggling shapes (Content-Length with Transfer-Encoding,
// conflicting lengths, any transfer coding but plain "chunked") are framing errors (400), anything
// else malformed is a 400.
//
// Thread-safety: none; one parser per connection.
//
//   transport::RequestParser parser({.max_header_bytes = 8192, .max_body_bytes = 65536});
//   std::size_t used = parser.Put(bytes);
//   if (parser.status() == ParseStatus::kDone) { Handle(parser.TakeRequest()); }
//   if (parser.status() == ParseStatus::kError) { Reply(parser.error().status); }
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "podiam/http/message.hpp"
#include "podiam/transport/metrics.hpp"

namespace podiam::transport {

struct RequestParserLimits {
  // The request line plus all header fields, CRLFs included.
  std::size_t max_header_bytes = std::size_t{8} * 1024;
  std::size_t max_body_bytes = std::size_t{64} * 1024;
};

enum class ParseStatus {
  kNeedMore,  // these bytes are used up: give more (the head is incomplete, or more body follows)
  kProgress,  // a piece was parsed (e.g. the head; see header_done()): call again with the rest
  kDone,      // a complete request: TakeRequest()
  kError,     // error(); the parser takes no more bytes
};

struct RequestParseError {
  ParseErrorKind kind = ParseErrorKind::kMalformed;
  int status = 400;     // 400, 413 or 431
  std::string message;  // the parser's own words, for a debug log line (never request bytes)
};

class RequestParser {
 public:
  explicit RequestParser(RequestParserLimits limits);
  ~RequestParser();
  RequestParser(const RequestParser&) = delete;
  RequestParser& operator=(const RequestParser&) = delete;

  // Parses from the start of `bytes` (the unconsumed bytes so far) and returns how many bytes it
  // consumed; status() says what happened. After kDone or kError it consumes nothing.
  std::size_t Put(std::string_view bytes);

  [[nodiscard]] ParseStatus status() const { return status_; }
  [[nodiscard]] const RequestParseError& error() const { return error_; }

  // Some bytes of a request have been seen (for a graceful stop: is anybody waiting?).
  [[nodiscard]] bool got_some() const;
  [[nodiscard]] bool header_done() const;
  // Valid once the head is complete.
  [[nodiscard]] bool keep_alive() const;
  [[nodiscard]] int http_version() const;  // 10 or 11
  [[nodiscard]] bool expects_continue() const;

  // The request parsed so far (complete after kDone); peer is left empty.
  [[nodiscard]] const http::Request& request() const { return request_; }
  http::Request TakeRequest() { return std::move(request_); }

 private:
  class Beast;
  http::Request request_;
  std::unique_ptr<Beast> beast_;
  std::size_t max_head_bytes_;
  std::size_t head_bytes_ = 0;  // consumed while the head was unfinished
  ParseStatus status_ = ParseStatus::kNeedMore;
  RequestParseError error_;
};

// The error for a request head that did not fit (the caller's buffer is full before the head ends).
RequestParseError HeaderLimitError();

// One-shot parse of a whole buffer: the request and the bytes it used (the rest belongs to a
// pipelined next request), or an error, or kNeedMore when the buffer ends before the request does.
struct ParsedRequest {
  http::Request request;
  std::size_t consumed = 0;
  bool keep_alive = true;
  int http_version = 11;
};
struct RequestParseOutcome {
  ParseStatus status = ParseStatus::kNeedMore;  // kDone, kError or kNeedMore (incomplete)
  ParsedRequest parsed;                         // with kDone
  RequestParseError error;                      // with kError
};
RequestParseOutcome ParseRequest(std::string_view bytes, RequestParserLimits limits);

// The same, fed the way HttpServer feeds a connection's bytes: `piece` bytes arrive at a time
// (at least 1) and unconsumed bytes stay in front of new ones. For tests and fuzzing.
//
// It ends like ParseRequest except for one case: a malformed head that is not complete yet.
// Beast checks the first bytes it is given line by line, but after a kNeedMore it waits for the
// whole head (the empty line) before parsing again, so a head that is malformed in a later line
// and never ends is a 400 at once but kNeedMore in pieces (or 431 once it outgrows the limit; the
// server answers 400 once the head ends, or 431, or closes at the header timeout). A request
// that parses, parses the same either way.
RequestParseOutcome ParseRequestInPieces(std::string_view bytes, RequestParserLimits limits,
                                         std::size_t piece);

}  // namespace podiam::transport
