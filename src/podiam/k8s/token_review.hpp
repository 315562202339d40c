// TokenReviewer: asks the apiserver who a ServiceAccount token belongs to (authentication.k8s.io/v1
// TokenReview), for the audiences podiam accepts. For pod-bound tokens the answer names the pod
// (name, uid) and its node, from status.user.extra.
//
// Errors: kUnauthenticated when the apiserver does not authenticate the token for any of the
// audiences (its status.error, if any, is in the message); kPermissionDenied when podiam itself
// may not create TokenReviews (bind it to ClusterRole system:auth-delegator); other KubeApi errors
// as they come. The token is never logged.
//
// Thread-safety: safe from any thread (stateless over a thread-safe KubeApi).
//
//   k8s::TokenReviewer reviewer(api);
//   auto who = reviewer.Review(bearer, {"sts.amazonaws.com"});
//   if (who) { lookup(who->service_account_namespace, who->pod_name, who->pod_uid); }
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "podiam/base/error.hpp"
#include "podiam/k8s/kube_api.hpp"

namespace podiam::k8s {

struct ReviewedToken {
  std::string username;  // "system:serviceaccount:<ns>:<sa>"
  std::string uid;
  std::vector<std::string> groups;
  std::vector<std::string> audiences;     // those of the request the token is valid for
  std::string service_account_namespace;  // parsed from username; empty for other users
  std::string service_account_name;
  std::string pod_name;  // from extra authentication.kubernetes.io/pod-name; empty if unbound
  std::string pod_uid;
  std::string node_name;
  std::string node_uid;
};

class TokenReviewer {
 public:
  explicit TokenReviewer(KubeApi& api) : api_(api) {}
  Result<ReviewedToken> Review(std::string_view token, const std::vector<std::string>& audiences);

 private:
  KubeApi& api_;
};

}  // namespace podiam::k8s
