#include "podiam/base/glob.hpp"

#include <cctype>
#include <cstddef>

namespace podiam {
namespace {

char Lower(char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); }

}  // namespace

bool GlobMatch(std::string_view pattern, std::string_view text, GlobOptions options) {
  auto same = [&options](char p, char t) {
    return (options.question_mark && p == '?') ||
           (options.ignore_case ? Lower(p) == Lower(t) : p == t);
  };
  std::size_t p = 0;
  std::size_t t = 0;
  std::size_t star = std::string_view::npos;
  std::size_t mark = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = t;
    } else if (p < pattern.size() && same(pattern[p], text[t])) {
      ++p;
      ++t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') {
    ++p;
  }
  return p == pattern.size();
}

}  // namespace podiam
