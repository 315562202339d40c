#include "podiam/k8s/token_review.hpp"

namespace podiam::k8s {
namespace {

std::vector<std::string> Strings(const Json* array) {
  std::vector<std::string> out;
  if (array != nullptr && array->is_array()) {
    for (const auto& v : *array) {
      if (v.is_string()) {
        out.push_back(v.get<std::string>());
      }
    }
  }
  return out;
}

std::string Extra(const Json& user, std::string_view key) {
  const Json* extra = Find(user, "extra");
  auto values = Strings(extra != nullptr ? Find(*extra, key) : nullptr);
  return values.empty() ? std::string() : values.front();
}

}  // namespace

Result<ReviewedToken> TokenReviewer::Review(std::string_view token,
                                            const std::vector<std::string>& audiences) {
  Json spec = {{"token", std::string(token)}};
  if (!audiences.empty()) {
    spec["audiences"] = audiences;
  }
  Json review = {{"apiVersion", "authentication.k8s.io/v1"},
                 {"kind", "TokenReview"},
                 {"spec", std::move(spec)}};
  auto answer = api_.Create(resources::TokenReviews(), "", review);
  if (!answer) {
    return tl::unexpected(answer.error().Wrap("token review"));
  }
  const Json* status = Find(*answer, "status");
  if (status == nullptr) {
    return MakeError(ErrorCode::kUpstreamInvalid, "token review: answer without status");
  }
  const Json* authenticated = Find(*status, "authenticated");
  if (authenticated == nullptr || !authenticated->is_boolean() || !authenticated->get<bool>()) {
    const std::string& why = StringAt(*status, "error");
    return MakeError(ErrorCode::kUnauthenticated,
                     why.empty() ? "token not authenticated" : "token not authenticated: " + why);
  }
  ReviewedToken out;
  out.audiences = Strings(Find(*status, "audiences"));
  // With audiences asked for, status.audiences is the intersection; empty means none matched.
  if (!audiences.empty() && out.audiences.empty()) {
    return MakeError(ErrorCode::kUnauthenticated, "token not valid for the requested audiences");
  }
  const Json* user = Find(*status, "user");
  if (user == nullptr) {
    return MakeError(ErrorCode::kUpstreamInvalid, "token review: no user in status");
  }
  out.username = StringAt(*user, "username");
  out.uid = StringAt(*user, "uid");
  out.groups = Strings(Find(*user, "groups"));
  constexpr std::string_view kPrefix = "system:serviceaccount:";
  if (std::string_view name = out.username; name.substr(0, kPrefix.size()) == kPrefix) {
    name.remove_prefix(kPrefix.size());
    auto colon = name.find(':');
    if (colon != std::string_view::npos) {
      out.service_account_namespace = std::string(name.substr(0, colon));
      out.service_account_name = std::string(name.substr(colon + 1));
    }
  }
  out.pod_name = Extra(*user, "authentication.kubernetes.io/pod-name");
  out.pod_uid = Extra(*user, "authentication.kubernetes.io/pod-uid");
  out.node_name = Extra(*user, "authentication.kubernetes.io/node-name");
  out.node_uid = Extra(*user, "authentication.kubernetes.io/node-uid");
  return out;
}

}  // namespace podiam::k8s
