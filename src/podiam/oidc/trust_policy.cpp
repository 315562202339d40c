#include "podiam/oidc/trust_policy.hpp"

namespace podiam::oidc {

std::string OidcProviderArn(std::string_view partition, std::string_view account_id,
                            std::string_view host_path) {
  return "arn:" + std::string(partition) + ":iam::" + std::string(account_id) + ":oidc-provider/" +
         std::string(host_path);
}

nlohmann::ordered_json ServiceAccountTrustPolicy(std::string_view provider_arn,
                                                 const Issuer& issuer, std::string_view ns,
                                                 std::string_view name, std::string_view audience) {
  nlohmann::ordered_json equals = {
      {issuer.host_path + ":sub",
       "system:serviceaccount:" + std::string(ns) + ":" + std::string(name)},
      {issuer.host_path + ":aud", std::string(audience)}};
  return {{"Version", "2012-10-17"},
          {"Statement",
           {{{"Effect", "Allow"},
             {"Principal", {{"Federated", std::string(provider_arn)}}},
             {"Action", "sts:AssumeRoleWithWebIdentity"},
             {"Condition", {{"StringEquals", equals}}}}}}};
}

nlohmann::ordered_json PrincipalTrustPolicy(std::string_view principal_arn) {
  return {{"Version", "2012-10-17"},
          {"Statement",
           {{{"Effect", "Allow"},
             {"Principal", {{"AWS", std::string(principal_arn)}}},
             {"Action", {"sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity"}}}}}};
}

bool SamePolicy(std::string_view a, std::string_view b) {
  auto ja = nlohmann::json::parse(a, nullptr, false);
  auto jb = nlohmann::json::parse(b, nullptr, false);
  return !ja.is_discarded() && !jb.is_discarded() && ja == jb;
}

}  // namespace podiam::oidc
