#include "podiam/aws/credential_sources.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <nlohmann/json.hpp>

#include "podiam/aws/imds_client.hpp"
#include "podiam/aws/ini.hpp"
#include "podiam/aws/text.hpp"
#include "podiam/http/message.hpp"

namespace podiam::aws {
namespace {

tl::unexpected<Error> NotFound(std::string message) {
  return MakeError(ErrorCode::kNotFound, std::move(message));
}

tl::unexpected<Error> Invalid(std::string message) {
  return MakeError(ErrorCode::kInvalidArgument, std::move(message));
}

bool IsTrue(const std::optional<std::string>& value) {
  return value && http::EqualsIgnoreCase(*value, "true");
}

std::string_view TrimNewlines(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) {
    text.remove_suffix(1);
  }
  return text;
}

std::string UnixSeconds(const Clock& clock) {
  return std::to_string(
      std::chrono::duration_cast<std::chrono::seconds>(clock.Now().time_since_epoch()).count());
}

// "~/x" -> "$HOME/x", as botocore's os.path.expanduser.
std::string ExpandHome(const Environment& env, std::string path) {
  if (path == "~" || path.starts_with("~/")) {
    path.replace(0, 1, NonEmpty(env, "HOME").value_or(""));
  }
  return path;
}

// --- shared files --------------------------------------------------------------------------

struct ProfileFile {
  std::string path;
  std::optional<IniFile> ini;  // nullopt when the file does not exist
};

Result<ProfileFile> LoadProfileFile(const FileReader& read_file, std::string path) {
  auto text = read_file(path);
  if (!text) {
    if (text.error().code() == ErrorCode::kNotFound) {
      return ProfileFile{.path = std::move(path)};
    }
    return tl::unexpected(text.error());
  }
  auto ini = ParseIni(*text);
  if (!ini) {
    return tl::unexpected(ini.error().Wrap(path));
  }
  return ProfileFile{.path = std::move(path), .ini = std::move(*ini)};
}

const IniFile::Section* ConfigProfile(const IniFile& ini, const std::string& profile) {
  // In the config file a profile is "[profile name]" (any whitespace), "default" also bare.
  for (const auto& [name, section] : ini.sections) {
    std::string_view n = name;
    if (n.starts_with("profile") && n.size() > 7 && (n[7] == ' ' || n[7] == '\t')) {
      n.remove_prefix(7);
      while (!n.empty() && (n.front() == ' ' || n.front() == '\t')) {
        n.remove_prefix(1);
      }
      if (n == profile) {
        return &section;
      }
    }
  }
  return profile == "default" ? ini.Find("default") : nullptr;
}

std::optional<std::string> Key(const IniFile::Section* section, std::string_view key) {
  if (section == nullptr) {
    return std::nullopt;
  }
  auto it = section->find(key);
  if (it == section->end() || it->second.empty()) {
    return std::nullopt;
  }
  return it->second;
}

// Static keys from one profile section; nullopt when it has none.
Result<std::optional<Credentials>> StaticKeys(const IniFile::Section* section,
                                              const std::string& profile, const std::string& path) {
  auto key_id = Key(section, "aws_access_key_id");
  auto secret = Key(section, "aws_secret_access_key");
  if (!key_id && !secret) {
    return std::optional<Credentials>();
  }
  if (!key_id || !secret) {
    return Invalid(
        fmt::format("profile {} in {} has only one of aws_access_key_id and aws_secret_access_key",
                    Quote(profile), path));
  }
  auto token = Key(section, "aws_session_token");
  if (!token) {
    token = Key(section, "aws_security_token");
  }
  return std::optional<Credentials>(
      Credentials{.access_key_id = *key_id,
                  .secret_access_key = *secret,
                  .session_token = token.value_or(""),
                  .source = fmt::format("shared-files profile={} file={}", profile, path)});
}

// --- container -----------------------------------------------------------------------------

// botocore's rule for plain-http FULL_URI hosts (docs/protocols.md#container-credentials).
bool AllowedHttpHost(std::string_view host) {
  static constexpr std::array<std::string_view, 5> kAllowed = {"169.254.170.2", "169.254.170.23",
                                                               "fd00:ec2::23", "localhost", "::1"};
  if (std::find(kAllowed.begin(), kAllowed.end(), host) != kAllowed.end()) {
    return true;
  }
  // 127.0.0.0/8 as a dotted quad.
  if (!host.starts_with("127.")) {
    return false;
  }
  int dots = 0;
  for (char c : host) {
    if (c == '.') {
      ++dots;
    } else if (c < '0' || c > '9') {
      return false;
    }
  }
  return dots == 3;
}

}  // namespace

Result<Credentials> ParseCredentialsJson(std::string_view json, std::string source) {
  auto doc = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) {
    return MakeError(ErrorCode::kUpstreamInvalid,
                     fmt::format("{} answered something that is not a JSON object", source));
  }
  auto str = [&](const char* key) -> std::string {
    auto it = doc.find(key);
    return it != doc.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  if (std::string code = str("Code"); !code.empty() && !http::EqualsIgnoreCase(code, "Success")) {
    return MakeError(ErrorCode::kUnavailable,
                     fmt::format("{} answered Code {}: {}", source, Quote(code, 40),
                                 Quote(str("Message"), 200)));
  }
  Credentials creds{.access_key_id = str("AccessKeyId"),
                    .secret_access_key = str("SecretAccessKey"),
                    .session_token = str("Token"),
                    .source = std::move(source)};
  if (creds.access_key_id.empty() || creds.secret_access_key.empty()) {
    return MakeError(
        ErrorCode::kUpstreamInvalid,
        fmt::format("{} answered JSON without AccessKeyId and SecretAccessKey", creds.source));
  }
  if (std::string expiration = str("Expiration"); !expiration.empty()) {
    auto when = ParseTimestamp(expiration);
    if (!when) {
      return tl::unexpected(when.error().Wrap(creds.source));
    }
    creds.expiration = *when;
  }
  return creds;
}

Result<Credentials> EnvironmentCredentialsProvider::Get() {
  auto key_id = NonEmpty(env_, "AWS_ACCESS_KEY_ID");
  auto secret = NonEmpty(env_, "AWS_SECRET_ACCESS_KEY");
  if (!key_id && !secret) {
    return NotFound("AWS_ACCESS_KEY_ID is not set");
  }
  if (!key_id || !secret) {
    return Invalid("only one of AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY is set");
  }
  auto token = NonEmpty(env_, "AWS_SESSION_TOKEN");
  if (!token) {
    token = NonEmpty(env_, "AWS_SECURITY_TOKEN");
  }
  Credentials creds{.access_key_id = std::move(*key_id),
                    .secret_access_key = std::move(*secret),
                    .session_token = token.value_or(""),
                    .source = "environment"};
  if (auto expiration = NonEmpty(env_, "AWS_CREDENTIAL_EXPIRATION")) {
    auto when = ParseTimestamp(*expiration);
    if (!when) {
      return Invalid("AWS_CREDENTIAL_EXPIRATION: " + when.error().message());
    }
    creds.expiration = *when;
  }
  return creds;
}

Result<Credentials> SharedFilesCredentialsProvider::Get() {
  auto explicit_profile = NonEmpty(env_, "AWS_PROFILE");
  if (!explicit_profile) {
    explicit_profile = NonEmpty(env_, "AWS_DEFAULT_PROFILE");
  }
  std::string profile = explicit_profile.value_or("default");
  std::string credentials_path = ExpandHome(
      env_, NonEmpty(env_, "AWS_SHARED_CREDENTIALS_FILE").value_or("~/.aws/credentials"));
  std::string config_path =
      ExpandHome(env_, NonEmpty(env_, "AWS_CONFIG_FILE").value_or("~/.aws/config"));

  auto credentials_file = LoadProfileFile(read_file_, credentials_path);
  if (!credentials_file) {
    return tl::unexpected(credentials_file.error());
  }
  auto config_file = LoadProfileFile(read_file_, config_path);
  if (!config_file) {
    return tl::unexpected(config_file.error());
  }
  const IniFile::Section* in_credentials =
      credentials_file->ini ? credentials_file->ini->Find(profile) : nullptr;
  const IniFile::Section* in_config =
      config_file->ini ? ConfigProfile(*config_file->ini, profile) : nullptr;
  if (in_credentials == nullptr && in_config == nullptr) {
    std::string where = fmt::format("{} or {}", credentials_path, config_path);
    if (explicit_profile) {
      return Invalid(
          fmt::format("profile {} (from AWS_PROFILE) is not in {}", Quote(profile), where));
    }
    return NotFound(fmt::format("no [default] profile in {}", where));
  }

  // Profiles that need another provider: botocore would use them before static keys, so
  // silently falling through to static keys (or the next source) would pick the wrong identity.
  for (const auto& [section, path] :
       {std::pair{in_credentials, &credentials_path}, std::pair{in_config, &config_path}}) {
    for (std::string_view key : {"role_arn", "credential_process", "sso_session", "sso_start_url",
                                 "web_identity_token_file"}) {
      if (Key(section, key)) {
        return MakeError(ErrorCode::kFailedPrecondition,
                         fmt::format("profile {} in {} uses {}, which podiam does not support; "
                                     "give podiam static keys, or use --assume-role for a role",
                                     Quote(profile), *path, key));
      }
    }
  }
  for (const auto& [section, path] :
       {std::pair{in_credentials, &credentials_path}, std::pair{in_config, &config_path}}) {
    auto creds = StaticKeys(section, profile, *path);
    if (!creds) {
      return tl::unexpected(creds.error());
    }
    if (*creds) {
      return std::move(**creds);
    }
  }
  return NotFound(fmt::format("profile {} has no aws_access_key_id", Quote(profile)));
}

Result<Credentials> WebIdentityCredentialsProvider::Get() {
  auto token_file = NonEmpty(env_, "AWS_WEB_IDENTITY_TOKEN_FILE");
  auto role_arn = NonEmpty(env_, "AWS_ROLE_ARN");
  if (!token_file) {
    return NotFound("AWS_WEB_IDENTITY_TOKEN_FILE is not set");
  }
  if (!role_arn) {
    return Invalid("AWS_WEB_IDENTITY_TOKEN_FILE is set but AWS_ROLE_ARN is not");
  }
  auto token = read_file_(*token_file);
  if (!token) {
    return tl::unexpected(
        Error(ErrorCode::kUnavailable, token.error().message()).Wrap("web identity token"));
  }
  AssumeRoleWithWebIdentityRequest request{
      .role_arn = *role_arn,
      .role_session_name =
          NonEmpty(env_, "AWS_ROLE_SESSION_NAME").value_or("podiam-" + UnixSeconds(clock_)),
      .web_identity_token = std::string(TrimNewlines(*token))};
  if (request.web_identity_token.empty()) {
    return MakeError(ErrorCode::kUnavailable,
                     fmt::format("web identity token file {} is empty", Quote(*token_file)));
  }
  auto result = sts_.AssumeRoleWithWebIdentity(request);
  if (!result) {
    return tl::unexpected(result.error());
  }
  result->credentials.source = "web-identity role=" + *role_arn;
  return std::move(result->credentials);
}

Result<Credentials> ContainerCredentialsProvider::Get() {
  std::string url;
  if (auto relative = NonEmpty(env_, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")) {
    url = "http://169.254.170.2" + *relative;  // botocore checks RELATIVE_URI first
  } else if (auto full = NonEmpty(env_, "AWS_CONTAINER_CREDENTIALS_FULL_URI")) {
    url = *full;
    auto parsed = http::ParseUrl(url);
    if (!parsed) {
      return tl::unexpected(parsed.error().Wrap("AWS_CONTAINER_CREDENTIALS_FULL_URI"));
    }
    if (!parsed->tls() && !AllowedHttpHost(parsed->host)) {
      return Invalid(fmt::format(
          "AWS_CONTAINER_CREDENTIALS_FULL_URI host {} is not allowed over http: use https, a "
          "loopback address, 169.254.170.2, 169.254.170.23, fd00:ec2::23 or localhost",
          Quote(parsed->host)));
    }
  } else {
    return NotFound("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI and _FULL_URI are not set");
  }

  http::ClientRequest request{.method = "GET", .url = url, .timeout = timeout_};
  request.headers.Set("Accept", "application/json");
  std::optional<std::string> token;
  if (auto token_file = NonEmpty(env_, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")) {
    auto content = read_file_(*token_file);  // read on every fetch: the token rotates
    if (!content) {
      return tl::unexpected(content.error().Wrap("container authorization token"));
    }
    token = std::move(*content);
  } else {
    token = NonEmpty(env_, "AWS_CONTAINER_AUTHORIZATION_TOKEN");
  }
  if (token) {
    if (token->find_first_of("\r\n") != std::string::npos) {
      return Invalid("the container authorization token contains CR or LF");
    }
    request.headers.Set("Authorization", *token);
  }
  std::string source = "container url=" + url;
  auto response = http_.Send(request);
  if (!response) {
    return tl::unexpected(response.error().Wrap(source));
  }
  if (response->status != 200) {
    return MakeError(ErrorCode::kUnavailable,
                     fmt::format("{} answered HTTP {}", source, response->status));
  }
  return ParseCredentialsJson(response->body, std::move(source));
}

Result<Credentials> ImdsCredentialsProvider::Get() {
  if (IsTrue(env_("AWS_EC2_METADATA_DISABLED"))) {
    return NotFound("AWS_EC2_METADATA_DISABLED is true");
  }
  // $AWS_EC2_METADATA_SERVICE_ENDPOINT, as the SDKs read it (docs/agent.md, "The node's own
  // metadata service").
  ImdsClient imds(http_, clock_,
                  {.endpoint = NonEmpty(env_, "AWS_EC2_METADATA_SERVICE_ENDPOINT")
                                   .value_or(std::string(kDefaultImdsEndpoint)),
                   .token_ttl_seconds = 21600});
  const std::string& base = imds.endpoint();
  bool v1_disabled = IsTrue(env_("AWS_EC2_METADATA_V1_DISABLED"));

  auto token = imds.Token(clock_.SteadyNow() + timeout_);
  if (!token) {
    if (token.error().upstream_code().empty()) {
      // Nothing listens: not on EC2 (or IMDS is blocked), which is "not configured" for a chain.
      return NotFound(
          fmt::format("no instance metadata service at {}: {}", base, token.error().message()));
    }
    if (token.error().upstream_code() == "400") {
      return MakeError(ErrorCode::kUnavailable,
                       fmt::format("IMDS at {} rejected the token request (HTTP 400)", base));
    }
    return tl::unexpected(token.error());
  }
  if (!*token && v1_disabled) {
    return MakeError(ErrorCode::kUnavailable, fmt::format("IMDS at {} gave no IMDSv2 token and "
                                                          "AWS_EC2_METADATA_V1_DISABLED is true",
                                                          base));
  }

  auto get = [&](const std::string& path) -> Result<std::string> {
    auto response = imds.GetWithToken(path, *token, clock_.SteadyNow() + timeout_);
    if (!response) {
      return tl::unexpected(response.error().Wrap("IMDS " + path));
    }
    if (response->status == 404) {
      return NotFound(fmt::format("IMDS at {} has no {} (no instance profile?)", base, path));
    }
    if (response->status != 200) {
      return MakeError(ErrorCode::kUnavailable,
                       fmt::format("IMDS {} answered HTTP {}", path, response->status));
    }
    return std::move(response->body);
  };

  constexpr std::string_view kCredentialsPath = "/latest/meta-data/iam/security-credentials/";
  auto roles = get(std::string(kCredentialsPath));
  if (!roles) {
    return tl::unexpected(roles.error());
  }
  std::string_view role = *roles;
  role = TrimNewlines(role.substr(0, role.find('\n')));  // Go and Java take the first line
  if (role.empty()) {
    return NotFound(fmt::format("IMDS at {} lists no role", base));
  }
  auto json = get(std::string(kCredentialsPath) + std::string(role));
  if (!json) {
    return tl::unexpected(json.error());
  }
  return ParseCredentialsJson(*json, fmt::format("imds role={}", role));
}

std::unique_ptr<CredentialsProvider> NewDefaultCredentialsChain(const DefaultChainDeps& deps) {
  std::vector<std::unique_ptr<CredentialsProvider>> providers;
  providers.push_back(std::make_unique<EnvironmentCredentialsProvider>(deps.env));
  providers.push_back(std::make_unique<WebIdentityCredentialsProvider>(
      deps.web_identity_sts, deps.env, deps.read_file, deps.clock));
  providers.push_back(std::make_unique<SharedFilesCredentialsProvider>(deps.env, deps.read_file));
  providers.push_back(std::make_unique<ContainerCredentialsProvider>(
      deps.http, deps.env, deps.read_file, deps.container_timeout));
  providers.push_back(std::make_unique<ImdsCredentialsProvider>(deps.http, deps.env, deps.clock,
                                                                deps.imds_timeout));
  return std::make_unique<ChainCredentialsProvider>(std::move(providers));
}

}  // namespace podiam::aws
