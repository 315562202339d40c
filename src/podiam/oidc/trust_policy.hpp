// Role trust policies for the ways pods get credentials (docs/irsa-self-hosted.md):
//   - IRSA: the ServiceAccount's tokens, through the cluster's IAM OIDC provider, with
//     StringEquals on "<issuer host/path>:sub" = "system:serviceaccount:NS:NAME" and
//     "<issuer host/path>:aud" = the audience (sts.amazonaws.com);
//   - podiam's IMDS / container-credentials paths: the role podiam's agent itself runs as
//     (sts:AssumeRole, plus sts:TagSession and sts:SetSourceIdentity, which --session-tags and
//     --source-identity need).
//
// Thread-safety: pure functions.
//
//   auto arn = oidc::OidcProviderArn("aws", "123456789012", issuer.host_path);
//   std::string json = oidc::Serialize(oidc::ServiceAccountTrustPolicy(arn, issuer, "ns", "app",
//                                                                     "sts.amazonaws.com"));
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "podiam/oidc/discovery.hpp"

namespace podiam::oidc {

std::string OidcProviderArn(std::string_view partition, std::string_view account_id,
                            std::string_view host_path);

nlohmann::ordered_json ServiceAccountTrustPolicy(std::string_view provider_arn,
                                                 const Issuer& issuer, std::string_view ns,
                                                 std::string_view name, std::string_view audience);

nlohmann::ordered_json PrincipalTrustPolicy(std::string_view principal_arn);

// Equal as JSON values (IAM may re-serialize a stored policy); false when either is not JSON.
bool SamePolicy(std::string_view a, std::string_view b);

}  // namespace podiam::oidc
