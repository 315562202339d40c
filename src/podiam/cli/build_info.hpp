// What `podiam version` prints: the version, the commit it was built from and how it was built.
//
//   std::cout << podiam::cli::BuildInfo();   // "podiam 0.1.0\ncommit: 1a2b3c4\n..."
#pragma once

#include <string>

namespace podiam::cli {

// Several "key: value" lines after "podiam <version>", each ending in '\n'. The commit is the
// source tree's at CMake configure time (-DPODIAM_GIT_COMMIT=... overrides, e.g. in the image
// build, which has no .git), "unknown" without either.
std::string BuildInfo();

}  // namespace podiam::cli
