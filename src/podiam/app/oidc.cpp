// `podiam oidc render|serve|check`: wiring only; the logic is in oidc/ (docs/oidc.md).
#include "podiam/app/oidc.hpp"

#include <array>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "podiam/app/ops_stack.hpp"
#include "podiam/app/process.hpp"
#include "podiam/base/clock.hpp"
#include "podiam/base/log.hpp"
#include "podiam/http/host_port.hpp"
#include "podiam/oidc/check.hpp"
#include "podiam/oidc/discovery.hpp"
#include "podiam/oidc/publisher.hpp"
#include "podiam/transport/http_client.hpp"
#include "podiam/transport/http_server.hpp"

namespace podiam::app {
namespace {

namespace fs = std::filesystem;

Result<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return MakeError(ErrorCode::kNotFound, "cannot read " + path);
  }
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// Writes through a temporary file and rename, so a web server never serves half a document.
Result<void> WriteFileAtomically(const fs::path& path, const std::string& text) {
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  if (ec) {
    return MakeError(ErrorCode::kUnavailable,
                     "cannot create " + path.parent_path().string() + ": " + ec.message());
  }
  fs::path tmp = path;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out.flush()) {
      return MakeError(ErrorCode::kUnavailable, "cannot write " + tmp.string());
    }
  }
  fs::rename(tmp, path, ec);
  if (ec) {
    return MakeError(ErrorCode::kUnavailable, "cannot rename to " + path.string());
  }
  return {};
}

int Fail(const std::string& what) {
  std::fprintf(stderr, "podiam: %s\n", what.c_str());
  return 1;
}

Result<std::vector<oidc::PublicKey>> LoadKeys(const std::vector<std::string>& files) {
  std::vector<oidc::PublicKey> keys;
  for (const auto& path : files) {
    auto text = ReadFile(path);
    if (!text) {
      return tl::unexpected(text.error());
    }
    auto key = oidc::LoadPublicKeyPem(*text);
    if (!key) {
      return tl::unexpected(key.error().Wrap(path));
    }
    keys.push_back(std::move(*key));
  }
  return keys;
}

int Render(const cli::OidcConfig& c) {
  auto issuer = oidc::ParseIssuer(c.issuer);
  if (!issuer) {
    return Fail(issuer.error().message());
  }
  auto keys = LoadKeys(c.keys);
  if (!keys) {
    return Fail(keys.error().message());
  }
  auto docs = oidc::RenderDocuments(*issuer, *keys, {.jwks_uri = c.jwks_uri});
  if (!docs) {
    return Fail(docs.error().message());
  }
  fs::path out(c.out);
  fs::path discovery = out / ".well-known" / "openid-configuration";
  fs::path jwks = out / "keys.json";
  for (const auto& [path, doc] : {std::pair{discovery, &docs->discovery}, {jwks, &docs->jwks}}) {
    if (auto ok = WriteFileAtomically(path, oidc::Serialize(*doc)); !ok) {
      return Fail(ok.error().message());
    }
    std::printf("wrote %s\n", path.string().c_str());
  }
  for (const auto& key : *keys) {
    std::printf("key %s %s %d bits\n", key.kid.c_str(), key.alg.c_str(), key.bits);
  }
  std::printf("publish DIR so that %s%s and %s are served as they are\n", c.issuer.c_str(),
              std::string(oidc::kDiscoveryPath).c_str(),
              docs->discovery["jwks_uri"].get<std::string>().c_str());
  return 0;
}

Result<std::string> Fetch(http::HttpClient& http, const std::string& url) {
  auto r = http.Send({.url = url, .timeout = std::chrono::seconds(10)});
  if (!r) {
    return tl::unexpected(r.error().Wrap("GET " + url));
  }
  if (r->status != 200) {
    return MakeError(ErrorCode::kUpstreamInvalid,
                     "GET " + url + ": HTTP " + std::to_string(r->status) + " (want 200)");
  }
  return r->body;
}

std::string FormatUtc(std::chrono::system_clock::time_point t) {
  std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  std::array<char, 32> buf{};
  std::strftime(buf.data(), buf.size(), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf.data();
}

int Check(const cli::OidcConfig& c) {
  std::string discovery;
  std::string jwks;
  if (!c.dir.empty()) {
    auto d = ReadFile((fs::path(c.dir) / ".well-known" / "openid-configuration").string());
    auto k = ReadFile((fs::path(c.dir) / "keys.json").string());
    if (!d || !k) {
      return Fail((d ? k.error() : d.error()).message());
    }
    discovery = *d;
    jwks = *k;
  } else {
    auto http = transport::BeastHttpClient::Create({.ca_file = c.ca_file});
    if (!http) {
      return Fail(http.error().ToString());
    }
    auto d = Fetch(**http, c.issuer + std::string(oidc::kDiscoveryPath));
    if (!d) {
      return Fail(d.error().message());
    }
    discovery = *d;
    auto parsed = nlohmann::json::parse(discovery, nullptr, false);
    std::string jwks_uri =
        parsed.is_object() && parsed.value("jwks_uri", nlohmann::json()).is_string()
            ? parsed["jwks_uri"].get<std::string>()
            : std::string();
    if (jwks_uri.empty()) {
      return Fail("the discovery document has no jwks_uri");
    }
    auto k = Fetch(**http, jwks_uri);
    if (!k) {
      return Fail(k.error().message());
    }
    jwks = *k;
  }
  auto published = oidc::CheckPublished(c.issuer, discovery, jwks);
  for (const auto& key : published.keys) {
    std::printf("key %s %s %d bits\n", key.kid.c_str(), key.alg.c_str(), key.bits);
  }
  for (const auto& problem : published.problems) {
    std::printf("problem: %s\n", problem.c_str());
  }
  bool ok = published.problems.empty();
  if (!c.token_file.empty()) {
    auto text = ReadFile(c.token_file);
    if (!text) {
      return Fail(text.error().message());
    }
    auto jwt = oidc::ParseJwt(*text);
    Result<oidc::Verified> verified =
        jwt ? oidc::VerifyToken(
                  *jwt, published.keys,
                  {.issuer = c.issuer, .audience = c.audience, .now = SystemClock().Now()})
            : tl::unexpected(jwt.error());
    if (verified) {
      std::printf("token ok: subject %s, kid %s, expires %s\n", verified->subject.c_str(),
                  verified->kid.c_str(), FormatUtc(verified->expires).c_str());
    } else {
      std::printf("token invalid: %s\n", verified.error().message().c_str());
      ok = false;
    }
  }
  if (ok) {
    std::printf("ok: IAM can use issuer %s\n", c.issuer.c_str());
    return 0;
  }
  return 1;
}

// Logs a failed reload once per distinct failure (it is retried every poll), and a change.
class ReloadLog {
 public:
  explicit ReloadLog(log::Logger& log) : log_(log) {}
  void Report(const Result<bool>& changed) {
    if (!changed) {
      if (changed.error().ToString() != last_error_) {
        last_error_ = changed.error().ToString();
        log_.Warn("key reload failed; serving the previous keys", {{"error", last_error_}});
      }
    } else if (*changed) {
      last_error_.clear();
      log_.Info("keys changed; serving the new documents");
    }
  }

 private:
  log::Logger& log_;
  std::string last_error_;
};

int Serve(const cli::GlobalConfig& /*global*/, const cli::OidcConfig& c) {
  log::Logger log("oidc");
  auto issuer = oidc::ParseIssuer(c.issuer);
  if (!issuer) {
    return Fail(issuer.error().message());
  }
  auto listen = http::ParseHostPort(c.listen);
  if (!listen || listen->host.empty()) {
    return Fail("--listen must be ADDRESS:PORT, got '" + c.listen + "'");
  }
  ShutdownSignals signals;  // before any thread starts

  OpsStack ops;  // /metrics /healthz /readyz on the one HTTPS port, behind the documents
  oidc::PublisherMetrics publisher_metrics(ops.registry());
  oidc::Publisher publisher({.issuer = *issuer,
                             .key_files = c.keys,
                             .render = {.jwks_uri = c.jwks_uri},
                             .max_age = std::chrono::seconds(c.max_age_seconds)},
                            ReadFile, publisher_metrics);
  if (auto ok = publisher.Reload(); !ok) {
    return Fail(ok.error().message());
  }
  transport::HttpServer server({.address = listen->host,
                                .port = listen->port,
                                .threads = 1,
                                .name = "oidc",
                                .metrics = &ops.http_metrics(),
                                .tls_cert_file = c.tls_cert_file,
                                .tls_key_file = c.tls_key_file},
                               publisher.MakeHandler(ops.MakeHandler()));
  if (auto ok = server.Start(); !ok) {
    return Fail("listener " + c.listen + ": " + ok.error().ToString());
  }
  log.Info("serving OIDC discovery",
           {{"listen", listen->host + ":" + std::to_string(server.port())},
            {"discovery", publisher.DiscoveryPath()},
            {"jwks", publisher.JwksPath()}});
  // Key files are re-read every 250 ms (docs/oidc.md): a replaced file is served within a second.
  ReloadLog reloads(log);
  while (true) {
    if (auto signal = signals.WaitFor(std::chrono::milliseconds(250))) {
      log.Info("shutting down", {{"signal", *signal}});
      break;
    }
    reloads.Report(publisher.Reload());
  }
  server.Stop(std::chrono::seconds(2));
  return 0;
}

}  // namespace

int RunOidc(const cli::GlobalConfig& global, const cli::OidcConfig& config) {
  if (config.action == "render") {
    return Render(config);
  }
  if (config.action == "check") {
    return Check(config);
  }
  return Serve(global, config);
}

}  // namespace podiam::app
