#include "podiam/hostnet/link.hpp"

#include <fmt/format.h>

namespace podiam::hostnet {
namespace {

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) {
    s.pop_back();
  }
  return s;
}

}  // namespace

// Runs `ip <args>`; the output on success, else an error with it.
Result<std::string> LinkAddresses::Ip(std::vector<std::string> args) {
  args.insert(args.begin(), options_.ip);
  std::string output;
  auto code = runner_.Run(args, &output);
  if (!code) {
    return tl::unexpected(code.error());
  }
  if (*code != 0) {
    return MakeError(
        ErrorCode::kFailedPrecondition,
        fmt::format("`{}` failed ({}): {}", fmt::join(args, " "), *code, Trim(output)));
  }
  return output;
}

Result<PlacedAddresses> LinkAddresses::Ensure() {
  PlacedAddresses out;
  if (!options_.link.empty()) {
    out.link = options_.link;
    if (auto shown = Ip({"link", "show", "dev", out.link}); !shown) {
      return MakeError(ErrorCode::kFailedPrecondition,
                       fmt::format("--container-credentials-link={}: no such link ({})", out.link,
                                   shown.error().message()));
    }
  } else {
    out.link = options_.dummy_name;
    if (!Ip({"link", "show", "dev", out.link})) {
      if (auto added = Ip({"link", "add", out.link, "type", "dummy"}); !added) {
        return MakeError(
            ErrorCode::kFailedPrecondition,
            fmt::format("cannot create the dummy link {} for the container-credentials addresses "
                        "({}). Load the kernel's `dummy` module, or pass "
                        "--container-credentials-link=<an existing link, e.g. lo>, or turn the "
                        "endpoint off with --container-credentials=false",
                        out.link, added.error().message()));
      }
    }
  }
  if (auto up = Ip({"link", "set", out.link, "up"}); !up) {
    return tl::unexpected(up.error());
  }
  for (const auto& address : options_.addresses) {
    bool v6 = address.find(':') != std::string::npos;
    std::vector<std::string> args;
    if (v6) {
      args = {"-6", "addr", "replace", address + "/128", "dev", out.link, "nodad"};
    } else {
      args = {"addr", "replace", address + "/32", "dev", out.link};
    }
    if (auto placed = Ip(args); placed) {
      out.addresses.push_back(address);
    } else {
      out.warnings.push_back(
          fmt::format("cannot put {} on {}: {}", address, out.link, placed.error().message()));
    }
  }
  if (out.addresses.empty()) {
    return MakeError(ErrorCode::kFailedPrecondition,
                     fmt::format("no container-credentials address could be put on {}: {}",
                                 out.link, fmt::join(out.warnings, "; ")));
  }
  return out;
}

}  // namespace podiam::hostnet
