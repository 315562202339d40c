// `podiam iam ...`: wiring only (docs/irsa-self-hosted.md).
#include <cstdio>

#include "podiam/app/oidc.hpp"

namespace podiam::app {

int RunIam(const cli::GlobalConfig& /*global*/, const cli::IamConfig& /*config*/) {
  std::fputs("podiam: iam is not built yet\n", stderr);
  return 1;
}

}  // namespace podiam::app
