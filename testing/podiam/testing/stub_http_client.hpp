// StubHttpClient: an http::HttpClient that answers from a script, in order, and records every
// request. Stream() replies hand their body over in the scripted chunks, so tests control exactly
// where a watch stream is split.
//
// Thread-safety: all methods lock; scripting from the test thread while another thread sends is
// fine.
//
//   testing::StubHttpClient http;
//   http.Respond(200, R"({"kind":"Pod"})");
//   http.RespondStream({"{\"type\":\"ADD", "ED\",\"object\":{}}\n"});
//   http.Fail(Error(ErrorCode::kUnavailable, "connection refused"));
//   ... code under test ...
//   EXPECT_EQ(http.requests()[0].url, "https://api/api/v1/pods");
#pragma once

#include <deque>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "podiam/http/client.hpp"

namespace podiam::testing {

class StubHttpClient final : public http::HttpClient {
 public:
  struct Reply {
    Result<http::Response> response;
    std::vector<std::string> chunks;  // Stream(): the body, piece by piece
  };

  void Respond(int status, std::string body,
               std::vector<std::pair<std::string, std::string>> headers = {}) {
    http::Response r;
    r.status = status;
    r.body = std::move(body);
    for (auto& [k, v] : headers) {
      r.headers.Add(k, v);
    }
    Push({std::move(r), {}});
  }
  void RespondStream(std::vector<std::string> chunks, int status = 200) {
    http::Response r;
    r.status = status;
    Push({std::move(r), std::move(chunks)});
  }
  void Fail(Error error) { Push({tl::unexpected(std::move(error)), {}}); }
  void Push(Reply reply) {
    std::lock_guard lock(mu_);
    replies_.push_back(std::move(reply));
  }

  Result<http::Response> Send(const http::ClientRequest& request) override {
    Reply reply = Next(request);
    return std::move(reply.response);
  }

  Result<http::Response> Stream(const http::ClientRequest& request,
                                const http::BodyChunkCallback& on_chunk) override {
    Reply reply = Next(request);
    if (!reply.response || reply.response->status < 200 || reply.response->status > 299) {
      return std::move(reply.response);  // as the transport does: error bodies are read whole
    }
    for (const auto& chunk : reply.chunks) {
      if (request.stop.stop_requested() || !on_chunk(chunk)) {
        break;
      }
    }
    return std::move(reply.response);
  }

  [[nodiscard]] std::vector<http::ClientRequest> requests() const {
    std::lock_guard lock(mu_);
    return requests_;
  }
  [[nodiscard]] std::size_t pending() const {
    std::lock_guard lock(mu_);
    return replies_.size();
  }

 private:
  Reply Next(const http::ClientRequest& request) {
    std::lock_guard lock(mu_);
    requests_.push_back(request);
    if (replies_.empty()) {
      return {tl::unexpected(Error(ErrorCode::kUnavailable, "StubHttpClient: no scripted reply")),
              {}};
    }
    Reply reply = std::move(replies_.front());
    replies_.pop_front();
    return reply;
  }

  mutable std::mutex mu_;
  std::deque<Reply> replies_;
  std::vector<http::ClientRequest> requests_;
};

}  // namespace podiam::testing
