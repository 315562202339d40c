// The server-side seam: a Handler turns a Request into a Response, possibly later and from another
// thread (an agent may wait briefly for a pod to appear before answering).
//
// Thread-safety: Handle() is called concurrently from the server's I/O threads; implementations
// must be thread-safe. `done` may be called from any thread, exactly once.
//
//   auto h = http::MakeSyncHandler([](const http::Request& r) {
//     return http::Response::Text(200, "ok\n");
//   });
#pragma once

#include <functional>
#include <memory>
#include <utility>

#include "podiam/http/message.hpp"

namespace podiam::http {

using ResponseCallback = std::function<void(Response)>;

class Handler {
 public:
  virtual ~Handler() = default;
  virtual void Handle(Request request, ResponseCallback done) = 0;
};

// Wraps a synchronous function as a Handler.
template <typename F>
class SyncHandler final : public Handler {
 public:
  explicit SyncHandler(F f) : f_(std::move(f)) {}
  void Handle(Request request, ResponseCallback done) override { done(f_(request)); }

 private:
  F f_;
};

template <typename F>
std::shared_ptr<Handler> MakeSyncHandler(F f) {
  return std::make_shared<SyncHandler<F>>(std::move(f));
}

}  // namespace podiam::http
