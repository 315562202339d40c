#include "podiam/transport/request_parser.hpp"

#include <algorithm>
#include <boost/asio/buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/error.hpp>
#include <cstdint>

namespace podiam::transport {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

// Parses one request head and body straight into an http::Request (no intermediate field map).
class RequestParser::Beast final : public bhttp::basic_parser<true> {
 public:
  explicit Beast(http::Request& out) : out_(out) {}

  [[nodiscard]] int http_version() const { return version_; }
  [[nodiscard]] bool expects_continue() const { return expect_continue_; }

 private:
  void on_request_impl(bhttp::verb /*verb*/, beast::string_view method, beast::string_view target,
                       int version, beast::error_code& /*ec*/) override {
    out_.method.assign(method.data(), method.size());
    out_.target.assign(target.data(), target.size());
    version_ = version;
  }
  void on_response_impl(int /*code*/, beast::string_view /*reason*/, int /*version*/,
                        beast::error_code& /*ec*/) override {}
  void on_field_impl(bhttp::field name, beast::string_view name_string, beast::string_view value,
                     beast::error_code& ec) override {
    if (is_header_done()) {
      // A trailer field of a chunked body. No handler reads trailers, and merging them into the
      // headers would let fields arrive after the head was checked: they are dropped. Their size
      // is bounded by the connection's buffer (Beast keeps the trailer section unconsumed until
      // it ends).
      return;
    }
    // Beast already rejects Content-Length with chunked and duplicate lengths. It would accept
    // other transfer codings and then read no body, which a proxy in front of us might frame
    // differently: only plain "chunked" is allowed.
    if (name == bhttp::field::transfer_encoding && !beast::iequals(value, "chunked")) {
      ec = bhttp::error::bad_transfer_encoding;
      return;
    }
    if (name == bhttp::field::expect && beast::iequals(value, "100-continue")) {
      expect_continue_ = true;
    }
    out_.headers.Add(std::string_view(name_string.data(), name_string.size()),
                     std::string_view(value.data(), value.size()));
  }
  void on_header_impl(beast::error_code& /*ec*/) override {}
  void on_body_init_impl(const boost::optional<std::uint64_t>& length,
                         beast::error_code& /*ec*/) override {
    if (length) {
      out_.body.reserve(static_cast<std::size_t>(*length));  // already checked against the limit
    }
  }
  std::size_t on_body_impl(beast::string_view body, beast::error_code& /*ec*/) override {
    out_.body.append(body.data(), body.size());
    return body.size();
  }
  void on_chunk_header_impl(std::uint64_t /*size*/, beast::string_view /*extensions*/,
                            beast::error_code& /*ec*/) override {}
  std::size_t on_chunk_body_impl(std::uint64_t /*remain*/, beast::string_view body,
                                 beast::error_code& /*ec*/) override {
    out_.body.append(body.data(), body.size());
    return body.size();
  }
  void on_finish_impl(beast::error_code& /*ec*/) override {}

  http::Request& out_;
  int version_ = 11;
  bool expect_continue_ = false;
};

namespace {

constexpr std::size_t kMinChunkedRest = 5;

RequestParseError Classify(const beast::error_code& ec) {
  RequestParseError error{.message = ec.message()};
  if (ec == bhttp::error::header_limit) {
    error.status = 431;
    error.kind = ParseErrorKind::kHeaderTooLarge;
  } else if (ec == bhttp::error::body_limit) {
    error.status = 413;
    error.kind = ParseErrorKind::kBodyTooLarge;
  } else if (ec == bhttp::error::bad_content_length ||
             ec == bhttp::error::multiple_content_length ||
             ec == bhttp::error::bad_transfer_encoding) {
    error.kind = ParseErrorKind::kFraming;
  }
  return error;
}

}  // namespace

RequestParser::RequestParser(RequestParserLimits limits)
    : beast_(std::make_unique<Beast>(request_)), max_head_bytes_(limits.max_header_bytes) {
  beast_->header_limit(
      static_cast<std::uint32_t>(std::min<std::size_t>(limits.max_header_bytes, UINT32_MAX)));
  beast_->body_limit(limits.max_body_bytes);
}

RequestParser::~RequestParser() = default;

std::size_t RequestParser::Put(std::string_view bytes) {
  if (status_ == ParseStatus::kDone || status_ == ParseStatus::kError) {
    return 0;
  }
  const bool in_head = !beast_->is_header_done();
  if (!in_head && beast_->chunked() && bytes.size() < kMinChunkedRest) {
    // Beast 1.81 re-reads a final chunk it has seen ("0\r\n", trailers unfinished) assuming at
    // least five bytes and asserts so in debug builds; given four it would abort the process.
    // From any point Beast stops at inside a chunked body a complete request still has at least
    // five bytes to come (the smallest rest is "0\r\n\r\n"), so waiting for them delays nothing.
    status_ = ParseStatus::kNeedMore;
    return 0;
  }
  beast::error_code ec;
  std::size_t used = beast_->put(boost::asio::const_buffer(bytes.data(), bytes.size()), ec);
  if (in_head) {
    // Beast applies its header limit to the start line and to the fields separately when the
    // whole head arrives in one piece, but to the head as a whole when it arrives in pieces. The
    // limit is on the whole head (start line, fields, blank line) however it arrives. Beast stops
    // after the head, so every byte used here belongs to it.
    head_bytes_ += used;
    if (!ec && head_bytes_ > max_head_bytes_) {
      ec = bhttp::error::header_limit;
    }
  }
  if (ec == bhttp::error::need_more) {
    status_ = ParseStatus::kNeedMore;
  } else if (ec) {
    status_ = ParseStatus::kError;
    error_ = Classify(ec);
  } else if (beast_->is_done()) {
    status_ = ParseStatus::kDone;
  } else {
    status_ = ParseStatus::kProgress;
  }
  return used;
}

bool RequestParser::got_some() const { return beast_->got_some(); }
bool RequestParser::header_done() const { return beast_->is_header_done(); }
bool RequestParser::keep_alive() const { return beast_->keep_alive(); }
int RequestParser::http_version() const { return beast_->http_version(); }
bool RequestParser::expects_continue() const { return beast_->expects_continue(); }

RequestParseError HeaderLimitError() { return Classify(bhttp::error::header_limit); }

RequestParseOutcome ParseRequestInPieces(std::string_view bytes, RequestParserLimits limits,
                                         std::size_t piece) {
  piece = std::max<std::size_t>(piece, 1);
  RequestParser parser(limits);
  std::string buffer;  // received, not consumed
  std::size_t consumed = 0;
  for (std::size_t offset = 0; offset < bytes.size(); offset += piece) {
    buffer.append(bytes.substr(offset, piece));
    while (!buffer.empty()) {
      std::size_t used = parser.Put(buffer);
      buffer.erase(0, used);
      consumed += used;
      if (parser.status() != ParseStatus::kProgress || used == 0) {
        break;
      }
    }
    if (parser.status() == ParseStatus::kDone || parser.status() == ParseStatus::kError) {
      break;
    }
  }
  RequestParseOutcome outcome{.status = parser.status()};
  if (outcome.status == ParseStatus::kDone) {
    outcome.parsed.keep_alive = parser.keep_alive();
    outcome.parsed.http_version = parser.http_version();
    outcome.parsed.consumed = consumed;
    outcome.parsed.request = parser.TakeRequest();
  } else if (outcome.status == ParseStatus::kError) {
    outcome.error = parser.error();
  } else {
    outcome.status = ParseStatus::kNeedMore;
  }
  return outcome;
}

RequestParseOutcome ParseRequest(std::string_view bytes, RequestParserLimits limits) {
  return ParseRequestInPieces(bytes, limits, bytes.size());
}

}  // namespace podiam::transport
