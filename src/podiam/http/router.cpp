#include "podiam/http/router.hpp"

#include <algorithm>

namespace podiam::http {

void Router::Route(std::string method, std::string path, std::shared_ptr<Handler> handler) {
  entries_.push_back({std::move(method), std::move(path), false, std::move(handler)});
}

void Router::Prefix(std::string method, std::string prefix, std::shared_ptr<Handler> handler) {
  entries_.push_back({std::move(method), std::move(prefix), true, std::move(handler)});
}

void Router::Handle(Request request, ResponseCallback done) {
  std::string_view path = request.Path();
  // A HEAD is served by the GET route. (No `?:` mixing "GET" and std::string here: its result
  // would be a temporary string, and the view would dangle.)
  std::string_view method = request.method;
  if (method == "HEAD") {
    method = "GET";
  }
  const Entry* best = nullptr;
  std::string allow;
  std::size_t best_len = 0;
  bool path_known = false;
  for (const auto& e : entries_) {
    bool matches = e.prefix ? path.starts_with(e.path) : path == e.path;
    if (!matches) {
      continue;
    }
    path_known = true;
    if (e.method != method) {
      if (allow.find(e.method) == std::string::npos) {
        allow += allow.empty() ? e.method : ", " + e.method;
      }
      continue;
    }
    if (best == nullptr || e.path.size() > best_len) {
      best = &e;
      best_len = e.path.size();
    }
  }
  if (best != nullptr) {
    best->handler->Handle(std::move(request), std::move(done));
    return;
  }
  if (path_known) {
    Response r = Response::Text(405, "method not allowed\n");
    r.headers.Set("Allow", allow);
    done(std::move(r));
    return;
  }
  done(Response::Text(404, "not found\n"));
}

}  // namespace podiam::http
