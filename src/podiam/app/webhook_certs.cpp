#include "podiam/app/webhook_certs.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <system_error>

#include "podiam/base/clock.hpp"
#include "podiam/base/error.hpp"
#include "podiam/pki/ca_bundle.hpp"
#include "podiam/pki/serving_cert.hpp"

namespace podiam::app {
namespace {

namespace fs = std::filesystem;

int Fail(const std::string& what) {
  std::fprintf(stderr, "podiam: webhook certs: %s\n", what.c_str());
  return 1;
}

// Writes `text` to a new temporary file created with `mode` (never wider, whatever the umask
// leaves), then renames it over `path`: readers never see a partial file, and the key is never
// readable by others, not even for a moment.
Result<void> WriteFile(const fs::path& path, const std::string& text, mode_t mode) {
  fs::path tmp = path;
  tmp += ".tmp";
  ::unlink(tmp.c_str());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) {
    return MakeError(ErrorCode::kUnavailable, "cannot create " + tmp.string() + ": " +
                                                  std::system_category().message(errno));
  }
  bool ok = ::fchmod(fd, mode) == 0;
  std::size_t done = 0;
  while (ok && done < text.size()) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    ok = n > 0;
    done += ok ? static_cast<std::size_t>(n) : 0;
  }
  ok = ::fsync(fd) == 0 && ok;
  ok = ::close(fd) == 0 && ok;
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    std::string error = std::system_category().message(errno);
    ::unlink(tmp.c_str());
    return MakeError(ErrorCode::kUnavailable, "cannot write " + path.string() + ": " + error);
  }
  return {};
}

Result<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return MakeError(ErrorCode::kNotFound, "cannot read " + path);
  }
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

int RunWebhookCerts(const cli::WebhookCertsConfig& c) {
  const fs::path dir(c.out);
  struct Output {
    const char* name;
    mode_t mode;
    std::string pki::IssuedServingCertificate::*pem;
  };
  const Output outputs[] = {{"tls.crt", 0644, &pki::IssuedServingCertificate::cert_pem},
                            {"tls.key", 0600, &pki::IssuedServingCertificate::key_pem},
                            {"ca.crt", 0644, &pki::IssuedServingCertificate::ca_cert_pem}};
  std::error_code ec;
  for (const auto& o : outputs) {
    if (fs::exists(dir / o.name, ec) && !c.force) {
      return Fail("refusing to overwrite " + (dir / o.name).string() +
                  ": it exists (--force replaces it)");
    }
  }
  fs::create_directories(dir, ec);
  if (ec) {
    return Fail("cannot create " + dir.string() + ": " + ec.message());
  }

  const auto names = pki::ServiceDnsNames(c.service_name, c.namespace_name);
  auto issued = pki::IssueServingCertificate(
      {.dns_names = names, .validity = std::chrono::hours(24) * c.days}, SystemClock().Now());
  if (!issued) {
    return Fail(issued.error().message());
  }
  for (const auto& o : outputs) {
    if (auto ok = WriteFile(dir / o.name, (*issued).*(o.pem), o.mode); !ok) {
      return Fail(ok.error().message());
    }
    std::fprintf(stderr, "wrote %s\n", (dir / o.name).c_str());
  }
  std::fprintf(stderr, "certificate for %s and %s, valid %d days; the CA's key is not kept\n",
               names[0].c_str(), names[1].c_str(), c.days);

  const std::string bundle = pki::Base64(issued->ca_cert_pem);
  if (c.manifest.empty()) {
    std::printf("%s\n", bundle.c_str());
    return 0;
  }
  auto text = ReadFile(c.manifest);
  if (!text) {
    return Fail(text.error().message());
  }
  auto edit = pki::SetCaBundle(*text, bundle);
  if (!edit) {
    return Fail(c.manifest + ": " + edit.error().message());
  }
  struct stat st {};
  mode_t mode = ::stat(c.manifest.c_str(), &st) == 0 ? (st.st_mode & 07777) : 0644;
  if (auto ok = WriteFile(c.manifest, edit->manifest, mode); !ok) {
    return Fail(ok.error().message());
  }
  std::fprintf(stderr, "wrote the caBundle into %s (%d replaced, %d added)\n", c.manifest.c_str(),
               edit->replaced, edit->inserted);
  return 0;
}

}  // namespace podiam::app
