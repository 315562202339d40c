#include "podiam/aws/ini.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace podiam::aws {
namespace {

bool IsBlank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v'; }

std::string_view Trim(std::string_view text) {
  while (!text.empty() && IsBlank(text.front())) {
    text.remove_prefix(1);
  }
  while (!text.empty() && IsBlank(text.back())) {
    text.remove_suffix(1);
  }
  return text;
}

std::string Lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) {
    return static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  });
  return out;
}

}  // namespace

const IniFile::Section* IniFile::Find(std::string_view name) const {
  auto it = sections.find(name);
  return it == sections.end() ? nullptr : &it->second;
}

Result<IniFile> ParseIni(std::string_view text) {
  IniFile ini;
  IniFile::Section* section = nullptr;
  std::string* last_value = nullptr;  // the option a continuation line extends
  std::size_t line_number = 0;
  while (!text.empty()) {
    auto newline = text.find('\n');
    std::string_view raw = text.substr(0, newline);
    text = newline == std::string_view::npos ? std::string_view() : text.substr(newline + 1);
    ++line_number;

    std::string_view line = Trim(raw);
    if (line.empty()) {
      continue;  // configparser keeps blank lines inside multi-line values; nobody relies on it
    }
    if (line.front() == '#' || line.front() == ';') {
      continue;
    }
    bool indented = IsBlank(raw.front());
    if (indented && last_value != nullptr) {
      *last_value += '\n';
      *last_value += line;
      continue;
    }
    if (line.front() == '[' && line.back() == ']') {
      std::string name(Trim(line.substr(1, line.size() - 2)));
      section = &ini.sections[name];
      last_value = nullptr;
      continue;
    }
    auto delimiter = line.find_first_of("=:");
    if (delimiter == std::string_view::npos || delimiter == 0) {
      return MakeError(ErrorCode::kInvalidArgument,
                       fmt::format("line {}: expected '[section]' or 'key = value'", line_number));
    }
    if (section == nullptr) {
      return MakeError(ErrorCode::kInvalidArgument,
                       fmt::format("line {}: option before the first [section]", line_number));
    }
    std::string key = Lower(Trim(line.substr(0, delimiter)));
    auto& value = (*section)[key];
    value = std::string(Trim(line.substr(delimiter + 1)));
    last_value = &value;
  }
  return ini;
}

}  // namespace podiam::aws
