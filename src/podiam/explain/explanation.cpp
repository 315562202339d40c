#include "podiam/explain/explanation.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>

namespace podiam::explain {
namespace {

constexpr std::string_view kReset = "\033[0m";
constexpr std::string_view kGreen = "\033[32m";
constexpr std::string_view kRed = "\033[31m";
constexpr std::string_view kYellow = "\033[33m";
constexpr std::string_view kBold = "\033[1m";

std::string Paint(std::string_view text, std::string_view colour, bool on) {
  if (!on) {
    return std::string(text);
  }
  return fmt::format("{}{}{}", colour, text, kReset);
}

std::string_view StepMark(StepStatus status) {
  switch (status) {
    case StepStatus::kOk:
      return "ok  ";
    case StepStatus::kInfo:
      return "..  ";
    case StepStatus::kRefused:
      return "NO  ";
  }
  return "?   ";
}

std::string_view StepColour(StepStatus status) {
  switch (status) {
    case StepStatus::kOk:
      return kGreen;
    case StepStatus::kRefused:
      return kRed;
    case StepStatus::kInfo:
      break;
  }
  return kReset;
}

std::string_view VerdictColour(std::string_view verdict) {
  if (verdict == "allowed") {
    return kGreen;
  }
  if (verdict == "denied" || verdict == "invalid") {
    return kRed;
  }
  return kYellow;
}

// Annotation values reach the text: never let them move the cursor or recolour the terminal.
std::string Printable(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    out += (u < 0x20 || u == 0x7f) ? '?' : c;
  }
  return out;
}

std::string Upper(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), [](char c) {
    return c == '_' ? ' ' : static_cast<char>(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
  });
  return out;
}

}  // namespace

std::string_view StepStatusName(StepStatus status) {
  switch (status) {
    case StepStatus::kOk:
      return "ok";
    case StepStatus::kInfo:
      return "info";
    case StepStatus::kRefused:
      return "refused";
  }
  return "unknown";
}

int ExitCode(const Explanation& explanation) {
  bool any = std::any_of(explanation.paths.begin(), explanation.paths.end(),
                         [](const PathExplanation& p) { return p.verdict == "allowed"; });
  return any ? 0 : 1;
}

std::string RenderJson(const Explanation& explanation) {
  nlohmann::ordered_json out;
  out["kind"] = explanation.kind;
  out["namespace"] = explanation.namespace_name;
  if (!explanation.name.empty()) {
    out["name"] = explanation.name;
  }
  out["paths"] = nlohmann::ordered_json::array();
  for (const auto& path : explanation.paths) {
    nlohmann::ordered_json p;
    p["path"] = path.path;
    p["verdict"] = path.verdict;
    p["role"] = path.role;
    p["reason"] = path.reason;
    p["fix"] = path.fix;
    p["steps"] = nlohmann::ordered_json::array();
    for (const auto& step : path.steps) {
      p["steps"].push_back({{"check", step.check},
                            {"status", StepStatusName(step.status)},
                            {"detail", step.detail}});
    }
    out["paths"].push_back(std::move(p));
  }
  // Replace invalid UTF-8 (annotation values are arbitrary bytes) instead of throwing.
  return out.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
}

std::string RenderText(const Explanation& explanation, bool colour) {
  std::string out;
  std::string subject =
      explanation.name.empty()
          ? fmt::format("namespace {}", explanation.namespace_name)
          : fmt::format("pod {}/{}", explanation.namespace_name, explanation.name);
  for (const auto& path : explanation.paths) {
    out += Paint(fmt::format("{} path, {}", path.path, subject), kBold, colour) + "\n";
    std::size_t width = 0;
    for (const auto& step : path.steps) {
      width = std::max(width, step.check.size());
    }
    for (const auto& step : path.steps) {
      out += fmt::format("  {}{:<{}}  {}\n",
                         Paint(StepMark(step.status), StepColour(step.status), colour), step.check,
                         width, Printable(step.detail));
    }
    out += "\n";
  }
  for (const auto& path : explanation.paths) {
    std::string role = path.role.empty() ? std::string() : " " + path.role;
    out += fmt::format("verdict {}: {}{}\n", path.path,
                       Paint(Upper(path.verdict), VerdictColour(path.verdict), colour),
                       Printable(role));
    if (!path.reason.empty()) {
      out += fmt::format("  why: {}\n", Printable(path.reason));
    }
    if (!path.fix.empty()) {
      out += fmt::format("  fix: {}\n", Printable(path.fix));
    }
  }
  return out;
}

}  // namespace podiam::explain
