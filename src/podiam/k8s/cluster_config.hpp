// ClusterConfig: where the apiserver is and how to authenticate to it, from a kubeconfig file or
// from inside a pod. The composition root turns it into a transport client (CA file, client
// certificate and key files, insecure flag) and an HttpKubeApi (server URL, bearer token source).
//
// Sources, first match wins: ConfigOptions::kubeconfig (--kubeconfig), then $KUBECONFIG (only
// its first file: podiam does not merge kubeconfig lists as kubectl does), then in-cluster
// (KUBERNETES_SERVICE_HOST/PORT and the ServiceAccount files).
//
// Kubeconfig support: current-context (or ConfigOptions::context), the context's cluster, user and
// namespace; server; certificate-authority and certificate-authority-data;
// client-certificate(-data) and client-key(-data); token and tokenFile; insecure-skip-tls-verify
// only when ConfigOptions::allow_insecure (podiam's --kube-insecure-skip-tls-verify) says so.
// Relative paths are relative to the kubeconfig's directory, as in kubectl. Inline *-data is
// base64-decoded into files (mode 0600) in a private temporary directory (mode 0700), because the
// transport loads PEM from files; the directory is removed when the last copy of the ClusterConfig
// goes away. exec and auth-provider plugins, basic auth, impersonation, proxy-url and
// tls-server-name are refused with an error that says so.
//
// Tokens are re-read from their file when the cached copy is older than token_max_age (60 s):
// the kubelet rotates projected ServiceAccount tokens, and client-go re-reads them likewise.
//
// Thread-safety: ClusterConfig is a value; its TokenSource is safe from any thread. The Clock
// passed to the loaders must outlive every copy of the config.
//
//   auto config = k8s::LoadClusterConfig({.kubeconfig = flags.kubeconfig,
//                                         .allow_insecure = flags.kube_insecure}, clock);
//   if (!config) { log.Error("kubernetes config", {{"error", config.error().ToString()}}); }
//   auto http = transport::BeastHttpClient::Create({.ca_file = config->ca_file, ...});
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "podiam/base/clock.hpp"
#include "podiam/base/environment.hpp"
#include "podiam/base/error.hpp"

namespace podiam::k8s {

// The bearer token to send; may change over time (rotation).
class TokenSource {
 public:
  virtual ~TokenSource() = default;
  virtual Result<std::string> Token() = 0;
};

class StaticTokenSource final : public TokenSource {
 public:
  explicit StaticTokenSource(std::string token) : token_(std::move(token)) {}
  Result<std::string> Token() override { return token_; }

 private:
  std::string token_;
};

// Reads a token file, caches it for max_age, and keeps serving the last good token if a re-read
// fails (the kubelet replaces the file atomically, but a transient error must not log us out).
class FileTokenSource final : public TokenSource {
 public:
  FileTokenSource(std::string path, const Clock& clock,
                  std::chrono::seconds max_age = std::chrono::seconds(60))
      : path_(std::move(path)), clock_(clock), max_age_(max_age) {}
  Result<std::string> Token() override;
  [[nodiscard]] const std::string& path() const { return path_; }

 private:
  std::string path_;
  const Clock& clock_;
  std::chrono::seconds max_age_;
  std::mutex mu_;
  std::string token_;
  Clock::SteadyTime read_at_{};
};

// A private temporary directory holding decoded kubeconfig data; removed on destruction.
class PrivateFiles;

struct ClusterConfig {
  std::string server;   // "https://10.96.0.1:443"
  std::string ca_file;  // PEM bundle that signs the apiserver's certificate; empty: system store
  std::string client_cert_file;  // PEM, with client_key_file, for mTLS
  std::string client_key_file;
  bool insecure_skip_tls_verify = false;  // set only if ConfigOptions::allow_insecure allowed it
  std::shared_ptr<TokenSource> token;     // null: no Authorization header
  std::string namespace_name = "default";
  std::string origin;  // "in-cluster" or "kubeconfig PATH context NAME", for the start-up log
  std::shared_ptr<const PrivateFiles> private_files;  // keeps decoded inline data alive
};

using podiam::Environment;  // base/environment.hpp
using podiam::ProcessEnvironment;

struct InClusterPaths {
  std::string token_file = "/var/run/secrets/kubernetes.io/serviceaccount/token";
  std::string ca_file = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt";
  std::string namespace_file = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";
};

struct ConfigOptions {
  std::string kubeconfig;       // --kubeconfig; empty: $KUBECONFIG, then in-cluster
  std::string context;          // overrides current-context
  bool allow_insecure = false;  // honour insecure-skip-tls-verify
  InClusterPaths in_cluster;
  Environment env = ProcessEnvironment();
  std::string temp_dir;  // parent of the private directory for inline data; default $TMPDIR, /tmp
  std::chrono::seconds token_max_age{60};
};

Result<ClusterConfig> LoadClusterConfig(const ConfigOptions& options, const Clock& clock);
Result<ClusterConfig> LoadInClusterConfig(const ConfigOptions& options, const Clock& clock);
Result<ClusterConfig> LoadKubeconfigFile(const std::string& path, const ConfigOptions& options,
                                         const Clock& clock);
// `base_dir` resolves relative paths; `origin_path` names the file in messages.
Result<ClusterConfig> ParseKubeconfig(std::string_view yaml, const std::string& base_dir,
                                      const std::string& origin_path, const ConfigOptions& options,
                                      const Clock& clock);

// Standard base64 (RFC 4648, padding optional, whitespace ignored); nullopt if malformed.
std::optional<std::string> DecodeBase64(std::string_view text);

}  // namespace podiam::k8s
