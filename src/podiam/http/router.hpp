// Router: dispatches by path to Handlers. Exact paths and prefixes ("/debug/" matches everything
// below it); the longest match wins. Unknown paths get 404, known paths with another method 405
// (with an Allow header). HEAD is served by a GET route with the body dropped by the server.
//
// Thread-safety: add routes before serving; Handle() is then safe from any thread.
//
//   http::Router router;
//   router.Get("/healthz", MakeSyncHandler([](const Request&) { return Response::Text(200, "ok\n");
//   })); router.Prefix("GET", "/debug/", debug_handler);
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "podiam/http/handler.hpp"

namespace podiam::http {

class Router final : public Handler {
 public:
  void Route(std::string method, std::string path, std::shared_ptr<Handler> handler);
  void Prefix(std::string method, std::string prefix, std::shared_ptr<Handler> handler);
  void Get(std::string path, std::shared_ptr<Handler> handler) {
    Route("GET", std::move(path), std::move(handler));
  }

  void Handle(Request request, ResponseCallback done) override;

 private:
  struct Entry {
    std::string method;
    std::string path;
    bool prefix;
    std::shared_ptr<Handler> handler;
  };
  std::vector<Entry> entries_;
};

}  // namespace podiam::http
