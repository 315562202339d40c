// The INI dialect of the AWS shared credentials and config files
// (docs/protocols.md#shared-config-files), parsed as botocore's configparser does: "[section]"
// headers, "key = value" or "key: value" with keys lowercased and values trimmed, full-line
// comments starting with '#' or ';' (no inline comments), and indented lines continuing the
// previous value (nested "s3 =" blocks). Differences: a repeated section is merged instead of
// rejected.
//
// Thread-safety: pure function.
//
//   auto ini = aws::ParseIni(text);
//   if (const auto* profile = ini->Section("profile ci")) { profile->at("region"); }
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "podiam/base/error.hpp"

namespace podiam::aws {

struct IniFile {
  using Section = std::map<std::string, std::string, std::less<>>;
  std::map<std::string, Section, std::less<>> sections;

  // nullptr when absent.
  [[nodiscard]] const Section* Find(std::string_view name) const;
};

// kInvalidArgument with the line number for lines that are neither a header, an option, a
// comment nor a continuation.
Result<IniFile> ParseIni(std::string_view text);

}  // namespace podiam::aws
