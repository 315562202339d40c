// FakeHttpClient: an http::HttpClient that records every request and answers from a script, for
// unit tests of anything that talks HTTP (STS, the Kubernetes API, IMDS, container credentials).
//
// Answers come, in order of preference, from: the queue of scripted replies (Push*, consumed
// first-in first-out), then the handler (SetHandler), else a kUnavailable error saying that the
// script ran out. Stream() answers the same way; as the real transport does, it hands a 2xx body
// to the callback (in the chunks a PushStream() scripted, so tests control exactly where a watch
// stream is split, else in `stream_chunk_size` pieces) and stops when the request's stop token is
// set or the callback says so; error replies and non-2xx bodies are returned whole.
//
// Thread-safety: all methods may be called from any thread (one mutex); the handler runs outside
// the lock, so it may call back into the fake (e.g. to inspect requests()).
//
//   testing::FakeHttpClient http;
//   http.PushResponse(200, "<AssumeRoleResponse>...</AssumeRoleResponse>");
//   http.PushError(ErrorCode::kDeadlineExceeded, "timed out", /*retryable=*/true);
//   http.PushStream({"{\"type\":\"ADD", "ED\",\"object\":{}}\n"});   // a watch, split mid-event
//   http.SetHandler([&](const http::ClientRequest& r) -> Result<http::Response> {
//     clock.Advance(std::chrono::seconds(1));            // simulate latency
//     return http::Response::Text(r.url.ends_with("/token") ? 200 : 404, "x");
//   });
//   ... code under test ...
//   EXPECT_EQ(http.requests().size(), 2u);
//   EXPECT_EQ(http.last_request().headers.Get("Content-Type"), "...");
#pragma once

#include <algorithm>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "podiam/base/error.hpp"
#include "podiam/http/client.hpp"
#include "podiam/http/message.hpp"

namespace podiam::testing {

class FakeHttpClient final : public http::HttpClient {
 public:
  using Handler = std::function<Result<http::Response>(const http::ClientRequest&)>;

  // --- Scripting ---
  void Push(Result<http::Response> reply) { PushReply({std::move(reply), std::nullopt}); }
  void PushResponse(int status, std::string body,
                    std::vector<std::pair<std::string, std::string>> headers = {}) {
    http::Response response;
    response.status = status;
    response.body = std::move(body);
    for (auto& [name, value] : headers) {
      response.headers.Add(name, value);
    }
    Push(std::move(response));
  }
  // A transport failure. Real clients mark refused/reset/timeout as retryable; say so here when
  // the code under test should see it that way.
  void PushError(ErrorCode code, std::string message, bool retryable = false) {
    PushFailure(Error(code, std::move(message), "", retryable));
  }
  void PushFailure(Error error) { Push(tl::unexpected(std::move(error))); }
  // A streamed reply (a watch): Stream() hands `chunks` to the callback one by one.
  void PushStream(std::vector<std::string> chunks, int status = 200) {
    http::Response response;
    response.status = status;
    PushReply({std::move(response), std::move(chunks)});
  }
  // Used once the queue is empty; replaces any earlier handler.
  void SetHandler(Handler handler) {
    std::lock_guard lock(mu_);
    handler_ = std::move(handler);
  }
  void set_stream_chunk_size(std::size_t size) {
    std::lock_guard lock(mu_);
    stream_chunk_size_ = std::max<std::size_t>(size, 1);
  }

  // --- Inspection ---
  [[nodiscard]] std::vector<http::ClientRequest> requests() const {
    std::lock_guard lock(mu_);
    return requests_;
  }
  [[nodiscard]] std::size_t request_count() const {
    std::lock_guard lock(mu_);
    return requests_.size();
  }
  // The most recent request; a default-constructed one when there was none.
  [[nodiscard]] http::ClientRequest last_request() const {
    std::lock_guard lock(mu_);
    return requests_.empty() ? http::ClientRequest{} : requests_.back();
  }
  [[nodiscard]] std::size_t pending_replies() const {
    std::lock_guard lock(mu_);
    return replies_.size();
  }
  void ClearRequests() {
    std::lock_guard lock(mu_);
    requests_.clear();
  }

  // --- http::HttpClient ---
  Result<http::Response> Send(const http::ClientRequest& request) override {
    return Answer(request).response;
  }

  Result<http::Response> Stream(const http::ClientRequest& request,
                                const http::BodyChunkCallback& on_chunk) override {
    Reply reply = Answer(request);
    if (!reply.response || reply.response->status < 200 || reply.response->status > 299) {
      return std::move(reply.response);  // as the transport does: error bodies are read whole
    }
    std::vector<std::string> chunks;
    if (reply.chunks) {
      chunks = std::move(*reply.chunks);
    } else {
      std::size_t chunk_size = 0;
      {
        std::lock_guard lock(mu_);
        chunk_size = stream_chunk_size_;
      }
      const std::string& body = reply.response->body;
      for (std::size_t pos = 0; pos < body.size(); pos += chunk_size) {
        chunks.push_back(body.substr(pos, chunk_size));
      }
      reply.response->body.clear();
    }
    for (const auto& chunk : chunks) {
      if (request.stop.stop_requested() || !on_chunk(chunk)) {
        break;
      }
    }
    return std::move(reply.response);
  }

 private:
  struct Reply {
    Result<http::Response> response;
    std::optional<std::vector<std::string>> chunks;  // PushStream(): the body, piece by piece
  };

  void PushReply(Reply reply) {
    std::lock_guard lock(mu_);
    replies_.push_back(std::move(reply));
  }

  Reply Answer(const http::ClientRequest& request) {
    Handler handler;
    {
      std::lock_guard lock(mu_);
      requests_.push_back(request);
      if (!replies_.empty()) {
        Reply reply = std::move(replies_.front());
        replies_.pop_front();
        return reply;
      }
      handler = handler_;
    }
    if (handler) {
      return {handler(request), std::nullopt};
    }
    return {tl::unexpected(Error(ErrorCode::kUnavailable, "FakeHttpClient: no scripted reply for " +
                                                              request.method + " " + request.url)),
            std::nullopt};
  }

  mutable std::mutex mu_;
  std::vector<http::ClientRequest> requests_;
  std::deque<Reply> replies_;
  Handler handler_;
  std::size_t stream_chunk_size_ = 1 << 20;
};

}  // namespace podiam::testing
