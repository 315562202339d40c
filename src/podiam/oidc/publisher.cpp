#include "podiam/oidc/publisher.hpp"

namespace podiam::oidc {

PublisherMetrics::PublisherMetrics(metrics::Registry& registry)
    : requests(registry.AddCounter("podiam_oidc_requests_total",
                                   "Requests to the OIDC discovery server by route and status.",
                                   {"route", "code"})),
      reloads(registry.AddCounter("podiam_oidc_key_reloads_total",
                                  "Key file reloads that changed the documents or failed.",
                                  {"result"})),
      keys(registry.AddGauge("podiam_oidc_keys", "Keys in the served JWKS.").WithLabels({})) {}

Publisher::Publisher(PublisherOptions options, FileReader read_file, PublisherMetrics& metrics)
    : options_(std::move(options)), read_file_(std::move(read_file)), metrics_(metrics) {
  jwks_path_ = options_.issuer.path + std::string(kJwksPath);
  // A custom jwks_uri on the issuer's own host is served at its path.
  const std::string own = "https://" + options_.issuer.host + "/";
  if (options_.render.jwks_uri.starts_with(own)) {
    jwks_path_ = options_.render.jwks_uri.substr(own.size() - 1);
  }
}

std::string Publisher::DiscoveryPath() const {
  return options_.issuer.path + std::string(kDiscoveryPath);
}
std::string Publisher::JwksPath() const { return jwks_path_; }

Result<bool> Publisher::Reload() {
  std::string input;
  std::vector<PublicKey> keys;
  auto fail = [this](const Error& e) -> Result<bool> {
    metrics_.reloads.WithLabels({"failed"}).Inc();
    return tl::unexpected(e);
  };
  for (const auto& path : options_.key_files) {
    auto text = read_file_(path);
    if (!text) {
      return fail(text.error().Wrap(path));
    }
    input += *text;
    input += '\0';
    auto key = LoadPublicKeyPem(*text);
    if (!key) {
      return fail(key.error().Wrap(path));
    }
    keys.push_back(std::move(*key));
  }
  if (input == last_input_) {
    return false;
  }
  auto docs = RenderDocuments(options_.issuer, keys, options_.render);
  if (!docs) {
    return fail(docs.error());
  }
  {
    std::lock_guard lock(mu_);
    discovery_ = Serialize(docs->discovery);
    jwks_ = Serialize(docs->jwks);
  }
  last_input_ = std::move(input);
  metrics_.reloads.WithLabels({"changed"}).Inc();
  metrics_.keys.Set(static_cast<double>(keys.size()));
  return true;
}

std::string Publisher::Discovery() const {
  std::lock_guard lock(mu_);
  return discovery_;
}
std::string Publisher::Jwks() const {
  std::lock_guard lock(mu_);
  return jwks_;
}

http::Response Publisher::Serve(const http::Request& request) const {
  std::string_view path = request.Path();
  const char* route = path == DiscoveryPath() ? "discovery" : path == jwks_path_ ? "jwks" : "";
  if (*route == '\0') {
    metrics_.requests.WithLabels({"other", "404"}).Inc();
    return http::Response::Text(404, "not found\n");
  }
  if (request.method != "GET" && request.method != "HEAD") {
    metrics_.requests.WithLabels({route, "405"}).Inc();
    auto r = http::Response::Text(405, "method not allowed\n");
    r.headers.Set("Allow", "GET, HEAD");
    return r;
  }
  auto r = http::Response::Json(200, *route == 'd' ? Discovery() : Jwks());
  r.headers.Set("Cache-Control", "public, max-age=" + std::to_string(options_.max_age.count()));
  metrics_.requests.WithLabels({route, "200"}).Inc();
  return r;
}

std::shared_ptr<http::Handler> Publisher::MakeHandler(std::shared_ptr<http::Handler> ops) {
  class Handler final : public http::Handler {
   public:
    Handler(const Publisher& pub, std::shared_ptr<http::Handler> ops)
        : pub_(pub), ops_(std::move(ops)) {}
    void Handle(http::Request request, http::ResponseCallback done) override {
      auto path = request.Path();
      if (ops_ && (path == "/healthz" || path == "/readyz" || path == "/metrics" ||
                   path == "/healthz/" || path == "/readyz/" || path == "/metrics/")) {
        ops_->Handle(std::move(request), std::move(done));
        return;
      }
      done(pub_.Serve(request));
    }

   private:
    const Publisher& pub_;
    std::shared_ptr<http::Handler> ops_;
  };
  return std::make_shared<Handler>(*this, std::move(ops));
}

}  // namespace podiam::oidc
