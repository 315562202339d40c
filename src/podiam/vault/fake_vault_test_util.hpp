// A scripted Vault for the vault/ unit tests: a FakeHttpClient handler that knows tokens, a
// sealed flag, and which AWS paths podiam's policy allows.
#pragma once

#include <fmt/format.h>

#include <atomic>
#include <mutex>
#include <set>
#include <string>

#include "podiam/testing/fake_http_client.hpp"

namespace podiam::vault::testing {

class FakeVault {
 public:
  explicit FakeVault(podiam::testing::FakeHttpClient& http) {
    http.SetHandler([this](const http::ClientRequest& r) { return Answer(r); });
  }

  std::atomic<bool> sealed{false};
  std::atomic<int> token_ttl{3600};
  std::atomic<int> logins{0};
  std::atomic<int> renewals{0};
  std::string expected_jwt = "jwt-of-podiam";
  std::string allowed_path = "aws/sts/app";

  void RevokeAll() {
    std::lock_guard lock(mu_);
    tokens_.clear();
  }

 private:
  static http::Response Json(int status, std::string body) {
    return http::Response::Json(status, std::move(body));
  }

  Result<http::Response> Answer(const http::ClientRequest& r) {
    if (sealed) {
      return Json(503, R"({"errors":["Vault is sealed"]})");
    }
    const std::string prefix = "https://vault.test:8200/v1/";
    if (!r.url.starts_with(prefix)) {
      return Json(404, R"({"errors":[]})");
    }
    std::string path = r.url.substr(prefix.size());
    std::string token(r.headers.Get("X-Vault-Token").value_or(""));
    std::lock_guard lock(mu_);
    if (path == "auth/kubernetes/login") {
      if (r.body.find(expected_jwt) == std::string::npos) {
        return Json(403, R"({"errors":["permission denied"]})");
      }
      std::string t = fmt::format("hvs.token{}", ++logins);
      tokens_.insert(t);
      return Json(200, fmt::format(R"({{"auth":{{"client_token":"{}","accessor":"a",)"
                                   R"("lease_duration":{},"renewable":true}}}})",
                                   t, token_ttl.load()));
    }
    if (!tokens_.contains(token)) {
      return Json(403, R"({"errors":["permission denied"]})");
    }
    if (path == "auth/token/lookup-self") {
      return Json(200, R"({"data":{"ttl":100,"renewable":true}})");
    }
    if (path == "auth/token/renew-self") {
      ++renewals;
      return Json(200, fmt::format(R"({{"auth":{{"client_token":"{}","accessor":"a",)"
                                   R"("lease_duration":{},"renewable":true}}}})",
                                   token, token_ttl.load()));
    }
    if (path == "sys/leases/revoke") {
      return Json(204, "");
    }
    if (path == allowed_path || path == "aws/creds/app") {
      return Json(
          200, R"({"lease_id":"aws/x/app/l1","lease_duration":900,"renewable":false,)"
               R"("data":{"access_key":"ASIAVAULT","secret_key":"sk","session_token":"st",)"
               R"("security_token":"st","arn":"arn:aws:sts::123456789012:assumed-role/app/s"}})");
    }
    if (path.starts_with("aws/sts/missing")) {
      return Json(400, R"({"errors":["Role \"missing\" not found"]})");
    }
    return Json(403, R"({"errors":["1 error occurred:\n\t* permission denied\n\n"]})");
  }

  std::mutex mu_;
  std::set<std::string> tokens_;
};

}  // namespace podiam::vault::testing
