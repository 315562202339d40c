// Wildcard matching for the two dialects podiam evaluates:
//   - kube2iam's namespace globs (identity/policy): '*' matches any run of characters, '/'
//     included; nothing else is special; case matters (docs/namespace-restrictions.md);
//   - IAM policy wildcards (explain/trust): '*' any run, '?' exactly one character; actions
//     compare case-insensitively, StringLike values case-sensitively (docs/explain.md).
// Iterative greedy matching with backtracking to the last '*': no recursion, O(n*m) worst case.
//
// Thread-safety: pure functions.
//
//   GlobMatch("arn:aws:iam::*:role/app-*", arn);                       // kube2iam
//   GlobMatch("sts:Assume*", action, {.question_mark = true, .ignore_case = true});  // IAM
#pragma once

#include <string_view>

namespace podiam {

struct GlobOptions {
  bool question_mark = false;  // '?' matches one character (otherwise it is literal)
  bool ignore_case = false;    // ASCII case-insensitive
};

bool GlobMatch(std::string_view pattern, std::string_view text, GlobOptions options = {});

}  // namespace podiam
