#include "podiam/pki/ca_bundle.hpp"

#include <vector>

namespace podiam::pki {
namespace {

std::size_t Indent(std::string_view line) {
  std::size_t n = 0;
  while (n < line.size() && line[n] == ' ') {
    ++n;
  }
  return n;
}

// `key:` at the start of the line's content, followed by nothing but spaces or a comment; the
// rest (the value) in `value`.
bool IsKey(std::string_view line, std::string_view key, std::string_view* value) {
  std::string_view content = line.substr(Indent(line));
  if (content.starts_with("- ")) {  // a list item's first key
    content.remove_prefix(2);
  }
  if (!content.starts_with(key) || content.size() == key.size() || content[key.size()] != ':') {
    return false;
  }
  std::string_view rest = content.substr(key.size() + 1);
  if (!rest.empty() && rest.front() != ' ' && rest.front() != '\t') {
    return false;
  }
  *value = rest;
  return true;
}

bool IsBlankOrComment(std::string_view line) {
  std::string_view content = line.substr(Indent(line));
  return content.empty() || content.front() == '#' || content == "\r";
}

bool IsBase64(std::string_view text) {
  if (text.empty() || text.size() % 4 != 0) {
    return false;
  }
  std::size_t pad = 0;
  for (char c : text) {
    bool alnum = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (c == '=') {
      ++pad;
    } else if (pad > 0 || !(alnum || c == '+' || c == '/')) {
      return false;
    }
  }
  return pad <= 2;
}

}  // namespace

Result<CaBundleEdit> SetCaBundle(std::string_view manifest, std::string_view ca_bundle) {
  if (!IsBase64(ca_bundle)) {
    return MakeError(ErrorCode::kInvalidArgument, "the caBundle is not base64");
  }
  std::vector<std::string_view> lines;
  for (std::size_t start = 0; start <= manifest.size();) {
    std::size_t nl = manifest.find('\n', start);
    if (nl == std::string_view::npos) {
      if (start < manifest.size()) {
        lines.push_back(manifest.substr(start));
      }
      break;
    }
    lines.push_back(manifest.substr(start, nl - start));
    start = nl + 1;
  }

  CaBundleEdit edit;
  int client_configs = 0;
  std::string out;
  out.reserve(manifest.size() + 2 * ca_bundle.size());
  for (std::size_t i = 0; i < lines.size(); ++i) {
    std::string_view line = lines[i];
    std::string_view value;
    if (IsKey(line, "caBundle", &value)) {
      std::size_t key_at = line.find("caBundle:");
      out.append(line.substr(0, key_at)).append("caBundle: ").append(ca_bundle).append("\n");
      ++edit.replaced;
      continue;
    }
    out.append(line).append("\n");
    if (!IsKey(line, "clientConfig", &value)) {
      continue;
    }
    ++client_configs;
    std::string_view trimmed = value.substr(Indent(value));
    if (!trimmed.empty() && trimmed.front() != '#') {
      return MakeError(ErrorCode::kInvalidArgument,
                       "line " + std::to_string(i + 1) +
                           ": a clientConfig on one line (flow style) is not supported; write "
                           "it as a block mapping");
    }
    // The mapping's entries: the lines below, indented deeper than the clientConfig key.
    std::size_t key_indent = line.find("clientConfig:");
    std::size_t entry_indent = 0;
    bool has_bundle = false;
    for (std::size_t j = i + 1; j < lines.size(); ++j) {
      if (IsBlankOrComment(lines[j])) {
        continue;
      }
      std::size_t indent = Indent(lines[j]);
      if (indent <= key_indent) {
        break;
      }
      if (entry_indent == 0) {
        entry_indent = indent;
      }
      std::string_view ignored;
      has_bundle = has_bundle || (indent == entry_indent && IsKey(lines[j], "caBundle", &ignored));
    }
    if (!has_bundle) {
      out.append(entry_indent != 0 ? entry_indent : key_indent + 2, ' ')
          .append("caBundle: ")
          .append(ca_bundle)
          .append("\n");
      ++edit.inserted;
    }
  }
  if (client_configs == 0) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "no clientConfig in the manifest: is it a webhook configuration?");
  }
  if (!manifest.empty() && manifest.back() != '\n' && !out.empty()) {
    out.pop_back();  // keep a missing final newline missing
  }
  edit.manifest = std::move(out);
  return edit;
}

}  // namespace podiam::pki
