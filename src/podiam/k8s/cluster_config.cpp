#include "podiam/k8s/cluster_config.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "podiam/base/log.hpp"
#include "podiam/http/message.hpp"

namespace podiam::k8s {

class PrivateFiles {
 public:
  static Result<std::shared_ptr<PrivateFiles>> Create(const std::string& parent) {
    std::string tmpl = parent + "/podiam-kube-XXXXXX";
    // mkdtemp creates the directory with mode 0700.
    if (mkdtemp(tmpl.data()) == nullptr) {
      return MakeError(ErrorCode::kUnavailable,
                       fmt::format("creating a private directory under {}: {}", parent,
                                   std::strerror(errno)));  // NOLINT(concurrency-mt-unsafe)
    }
    return std::shared_ptr<PrivateFiles>(new PrivateFiles(tmpl));
  }
  ~PrivateFiles() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  PrivateFiles(const PrivateFiles&) = delete;
  PrivateFiles& operator=(const PrivateFiles&) = delete;

  // Writes `data` to DIR/name, readable by the owner only; returns the path.
  Result<std::string> Write(const std::string& name, std::string_view data) const {
    std::string path = dir_ + "/" + name;
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
      return MakeError(ErrorCode::kUnavailable, fmt::format("writing {}: {}", path,
                                                            std::strerror(errno)));  // NOLINT
    }
    std::size_t done = 0;
    while (done < data.size()) {
      ssize_t n = ::write(fd, data.data() + done, data.size() - done);
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n <= 0) {
        ::close(fd);
        return MakeError(ErrorCode::kUnavailable, fmt::format("writing {}", path));
      }
      done += static_cast<std::size_t>(n);
    }
    ::close(fd);
    return path;
  }

  [[nodiscard]] const std::string& dir() const { return dir_; }

 private:
  explicit PrivateFiles(std::string dir) : dir_(std::move(dir)) {}
  std::string dir_;
};

namespace {

const log::Logger& Log() {
  static const log::Logger kLogger("k8s.config");
  return kLogger;
}

std::string Trim(std::string_view s) {
  auto is_space = [](char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; };
  while (!s.empty() && is_space(s.front())) {
    s.remove_prefix(1);
  }
  while (!s.empty() && is_space(s.back())) {
    s.remove_suffix(1);
  }
  return std::string(s);
}

Result<std::string> ReadFile(const std::string& path, std::string_view what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return MakeError(ErrorCode::kNotFound, fmt::format("cannot open {} {}", what, path));
  }
  std::ostringstream out;
  out << in.rdbuf();
  if (in.bad()) {
    return MakeError(ErrorCode::kUnavailable, fmt::format("cannot read {} {}", what, path));
  }
  return out.str();
}

Result<std::string> ReadToken(const std::string& path) {
  auto text = ReadFile(path, "token file");
  if (!text) {
    return text;
  }
  std::string token = Trim(*text);
  if (token.empty()) {
    return MakeError(ErrorCode::kUnauthenticated, fmt::format("token file {} is empty", path));
  }
  return token;
}

std::string Resolve(const std::string& base_dir, const std::string& path) {
  if (path.empty() || path.front() == '/' || base_dir.empty()) {
    return path;
  }
  return base_dir + "/" + path;
}

std::string TempParent(const ConfigOptions& options) {
  if (!options.temp_dir.empty()) {
    return options.temp_dir;
  }
  if (auto t = options.env("TMPDIR"); t && !t->empty()) {
    return *t;
  }
  return "/tmp";
}

Error Invalid(const std::string& origin, std::string_view message) {
  return {ErrorCode::kInvalidArgument, fmt::format("{}: {}", origin, message)};
}

// The `name`d entry of a kubeconfig list (clusters, users, contexts), its `field` map.
Result<YAML::Node> Named(const YAML::Node& root, const char* list, const std::string& name,
                         const char* field, const std::string& origin) {
  const YAML::Node items = root[list];
  if (items && items.IsSequence()) {
    for (const auto& item : items) {
      if (item["name"] && item["name"].as<std::string>() == name) {
        YAML::Node value = item[field];
        if (!value || !value.IsMap()) {
          if (value && value.IsNull()) {
            return YAML::Node(YAML::NodeType::Map);
          }
          return tl::unexpected(
              Invalid(origin, fmt::format("{} \"{}\" has no {}", list, name, field)));
        }
        return value;
      }
    }
  }
  return tl::unexpected(Invalid(origin, fmt::format("no {} entry named \"{}\"", list, name)));
}

std::string Str(const YAML::Node& map, const char* key) {
  const YAML::Node v = map[key];
  return v && v.IsScalar() ? v.as<std::string>() : std::string();
}

// File or inline data for one PEM item: the path to hand to the transport.
Result<std::string> PemItem(const YAML::Node& map, const char* file_key, const char* data_key,
                            const char* file_name, const std::string& base_dir,
                            const std::string& origin, const ConfigOptions& options,
                            std::shared_ptr<PrivateFiles>* files) {
  std::string data = Str(map, data_key);
  if (!data.empty()) {  // inline data wins over a file, as in client-go
    auto decoded = DecodeBase64(data);
    if (!decoded) {
      return tl::unexpected(Invalid(origin, fmt::format("{} is not valid base64", data_key)));
    }
    if (!*files) {
      auto created = PrivateFiles::Create(TempParent(options));
      if (!created) {
        return tl::unexpected(created.error());
      }
      *files = std::move(*created);
    }
    return (*files)->Write(file_name, *decoded);
  }
  std::string path = Resolve(base_dir, Str(map, file_key));
  if (!path.empty() && ::access(path.c_str(), R_OK) != 0) {
    return tl::unexpected(Invalid(origin, fmt::format("{} {} is not readable", file_key, path)));
  }
  return path;
}

}  // namespace

std::optional<std::string> DecodeBase64(std::string_view text) {
  std::string out;
  out.reserve(text.size() * 3 / 4);
  unsigned int acc = 0;
  int bits = 0;
  std::size_t padding = 0;
  for (char c : text) {
    int v = -1;
    if (c >= 'A' && c <= 'Z') {
      v = c - 'A';
    } else if (c >= 'a' && c <= 'z') {
      v = c - 'a' + 26;
    } else if (c >= '0' && c <= '9') {
      v = c - '0' + 52;
    } else if (c == '+') {
      v = 62;
    } else if (c == '/') {
      v = 63;
    } else if (c == '=') {
      ++padding;
      continue;
    } else if (c == '\n' || c == '\r' || c == ' ' || c == '\t') {
      continue;
    } else {
      return std::nullopt;
    }
    if (padding > 0) {
      return std::nullopt;  // data after padding
    }
    acc = (acc << 6U) | static_cast<unsigned int>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> static_cast<unsigned int>(bits)) & 0xFFU));
    }
  }
  if (bits >= 6 || padding > 2) {
    return std::nullopt;  // a dangling sextet cannot come from any input
  }
  return out;
}

Result<std::string> FileTokenSource::Token() {
  std::lock_guard lock(mu_);
  auto now = clock_.SteadyNow();
  if (!token_.empty() && now - read_at_ < max_age_) {
    return token_;
  }
  auto fresh = ReadToken(path_);
  if (!fresh) {
    if (!token_.empty()) {
      Log().Warn("re-reading the token file failed; keeping the previous token",
                 {{"path", path_}, {"error", fresh.error().ToString()}});
      read_at_ = now;  // try again after max_age, not on every request
      return token_;
    }
    return fresh;
  }
  token_ = std::move(*fresh);
  read_at_ = now;
  return token_;
}

Result<ClusterConfig> LoadInClusterConfig(const ConfigOptions& options, const Clock& clock) {
  auto host = options.env("KUBERNETES_SERVICE_HOST");
  auto port = options.env("KUBERNETES_SERVICE_PORT");
  if (!host || host->empty() || !port || port->empty()) {
    return MakeError(ErrorCode::kFailedPrecondition,
                     "not running in a pod: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT "
                     "are not both set (pass --kubeconfig instead)");
  }
  ClusterConfig config;
  // JoinHostPort: IPv6 literals need brackets.
  bool ipv6 = host->find(':') != std::string::npos;
  config.server = fmt::format("https://{}{}{}:{}", ipv6 ? "[" : "", *host, ipv6 ? "]" : "", *port);
  if (auto url = http::ParseUrl(config.server); !url) {
    return MakeError(
        ErrorCode::kInvalidArgument,
        fmt::format("in-cluster apiserver address {}: {}", config.server, url.error().message()));
  }
  const InClusterPaths& paths = options.in_cluster;
  auto source = std::make_shared<FileTokenSource>(paths.token_file, clock, options.token_max_age);
  if (auto first = source->Token(); !first) {
    return tl::unexpected(first.error().Wrap("in-cluster ServiceAccount token"));
  }
  config.token = std::move(source);
  if (::access(paths.ca_file.c_str(), R_OK) != 0) {
    return MakeError(ErrorCode::kNotFound,
                     fmt::format("in-cluster CA file {} is not readable", paths.ca_file));
  }
  config.ca_file = paths.ca_file;
  if (auto ns = ReadFile(paths.namespace_file, "namespace file"); ns && !Trim(*ns).empty()) {
    config.namespace_name = Trim(*ns);
  }
  config.origin = "in-cluster";
  return config;
}

Result<ClusterConfig> ParseKubeconfig(std::string_view yaml, const std::string& base_dir,
                                      const std::string& origin_path, const ConfigOptions& options,
                                      const Clock& clock) {
  const std::string origin = "kubeconfig " + origin_path;
  try {
    YAML::Node root = YAML::Load(std::string(yaml));
    if (!root.IsMap()) {
      return tl::unexpected(Invalid(origin, "not a YAML map"));
    }
    std::string context_name =
        options.context.empty() ? Str(root, "current-context") : options.context;
    if (context_name.empty()) {
      return tl::unexpected(Invalid(origin, "no current-context"));
    }
    auto context = Named(root, "contexts", context_name, "context", origin);
    if (!context) {
      return tl::unexpected(context.error());
    }
    std::string cluster_name = Str(*context, "cluster");
    std::string user_name = Str(*context, "user");
    auto cluster = Named(root, "clusters", cluster_name, "cluster", origin);
    if (!cluster) {
      return tl::unexpected(cluster.error());
    }

    ClusterConfig config;
    config.origin = fmt::format("{} context {}", origin, context_name);
    if (std::string ns = Str(*context, "namespace"); !ns.empty()) {
      config.namespace_name = ns;
    }
    config.server = Str(*cluster, "server");
    if (auto url = http::ParseUrl(config.server); !url) {
      return tl::unexpected(
          Invalid(origin, fmt::format("cluster \"{}\" server \"{}\": {}", cluster_name,
                                      config.server, url.error().message())));
    }
    for (const char* unsupported : {"proxy-url", "tls-server-name"}) {
      if (!Str(*cluster, unsupported).empty()) {
        return tl::unexpected(
            Invalid(origin, fmt::format("cluster \"{}\" sets {}, which podiam does not support",
                                        cluster_name, unsupported)));
      }
    }

    std::shared_ptr<PrivateFiles> files;
    const YAML::Node insecure = (*cluster)["insecure-skip-tls-verify"];
    if (insecure && insecure.as<bool>()) {
      if (!options.allow_insecure) {
        return tl::unexpected(Invalid(
            origin, fmt::format("cluster \"{}\" sets insecure-skip-tls-verify; podiam refuses "
                                "unverified TLS unless --kube-insecure-skip-tls-verify is given",
                                cluster_name)));
      }
      config.insecure_skip_tls_verify = true;
    } else {
      auto ca = PemItem(*cluster, "certificate-authority", "certificate-authority-data", "ca.crt",
                        base_dir, origin, options, &files);
      if (!ca) {
        return tl::unexpected(ca.error());
      }
      config.ca_file = std::move(*ca);
    }

    YAML::Node user(YAML::NodeType::Map);
    if (!user_name.empty()) {
      auto found = Named(root, "users", user_name, "user", origin);
      if (!found) {
        return tl::unexpected(found.error());
      }
      user = *found;
    }
    if (user["exec"]) {
      return tl::unexpected(Invalid(
          origin, fmt::format("user \"{}\" uses an exec credential plugin ({}), which podiam does "
                              "not support; use a token, tokenFile or client certificate",
                              user_name, Str(user["exec"], "command"))));
    }
    if (user["auth-provider"]) {
      return tl::unexpected(Invalid(
          origin, fmt::format("user \"{}\" uses the auth-provider plugin \"{}\", which podiam does "
                              "not support; use a token, tokenFile or client certificate",
                              user_name, Str(user["auth-provider"], "name"))));
    }
    if (!Str(user, "username").empty() || !Str(user, "password").empty()) {
      return tl::unexpected(Invalid(
          origin,
          fmt::format("user \"{}\" uses basic auth, which podiam does not support", user_name)));
    }
    if (user["as"] || user["as-groups"] || user["as-uid"]) {
      return tl::unexpected(Invalid(
          origin, fmt::format("user \"{}\" asks for impersonation, which podiam does not support",
                              user_name)));
    }
    auto cert = PemItem(user, "client-certificate", "client-certificate-data", "client.crt",
                        base_dir, origin, options, &files);
    if (!cert) {
      return tl::unexpected(cert.error());
    }
    auto key = PemItem(user, "client-key", "client-key-data", "client.key", base_dir, origin,
                       options, &files);
    if (!key) {
      return tl::unexpected(key.error());
    }
    if (cert->empty() != key->empty()) {
      return tl::unexpected(Invalid(
          origin,
          fmt::format("user \"{}\" needs both a client certificate and a client key", user_name)));
    }
    config.client_cert_file = std::move(*cert);
    config.client_key_file = std::move(*key);

    // A token file wins over an inline token: it is what gets rotated.
    if (std::string token_file = Str(user, "tokenFile"); !token_file.empty()) {
      auto source = std::make_shared<FileTokenSource>(Resolve(base_dir, token_file), clock,
                                                      options.token_max_age);
      if (auto first = source->Token(); !first) {
        return tl::unexpected(first.error().Wrap(origin));
      }
      config.token = std::move(source);
    } else if (std::string token = Str(user, "token"); !token.empty()) {
      config.token = std::make_shared<StaticTokenSource>(std::move(token));
    }
    config.private_files = std::move(files);
    return config;
  } catch (const YAML::Exception& e) {
    return tl::unexpected(Invalid(origin, fmt::format("YAML: {}", e.what())));
  }
}

Result<ClusterConfig> LoadKubeconfigFile(const std::string& path, const ConfigOptions& options,
                                         const Clock& clock) {
  auto text = ReadFile(path, "kubeconfig");
  if (!text) {
    return tl::unexpected(text.error());
  }
  std::string base_dir = std::filesystem::path(path).parent_path().string();
  return ParseKubeconfig(*text, base_dir, path, options, clock);
}

Result<ClusterConfig> LoadClusterConfig(const ConfigOptions& options, const Clock& clock) {
  if (!options.kubeconfig.empty()) {
    return LoadKubeconfigFile(options.kubeconfig, options, clock);
  }
  if (auto list = options.env("KUBECONFIG"); list && !list->empty()) {
    std::string first = list->substr(0, list->find(':'));
    if (first.size() != list->size()) {
      Log().Info("KUBECONFIG lists several files; podiam reads only the first", {{"file", first}});
    }
    return LoadKubeconfigFile(first, options, clock);
  }
  return LoadInClusterConfig(options, clock);
}

}  // namespace podiam::k8s
