#include "podiam/oidc/trust_policy.hpp"

#include <gtest/gtest.h>

namespace podiam::oidc {
namespace {

TEST(TrustPolicy, ServiceAccountAsDocumented) {
  auto issuer = ParseIssuer("https://oidc.example.com/c");
  ASSERT_TRUE(issuer);
  std::string arn = OidcProviderArn("aws", "123456789012", issuer->host_path);
  EXPECT_EQ(arn, "arn:aws:iam::123456789012:oidc-provider/oidc.example.com/c");
  EXPECT_EQ(ServiceAccountTrustPolicy(arn, *issuer, "ns", "app", "sts.amazonaws.com").dump(),
            R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":)"
            R"("arn:aws:iam::123456789012:oidc-provider/oidc.example.com/c"},"Action":)"
            R"("sts:AssumeRoleWithWebIdentity","Condition":{"StringEquals":{)"
            R"("oidc.example.com/c:sub":"system:serviceaccount:ns:app",)"
            R"("oidc.example.com/c:aud":"sts.amazonaws.com"}}}]})");
}

TEST(TrustPolicy, PrincipalAndComparison) {
  auto p = PrincipalTrustPolicy("arn:aws:iam::1:role/node").dump();
  EXPECT_NE(p.find(R"("Principal":{"AWS":"arn:aws:iam::1:role/node"})"), std::string::npos);
  EXPECT_TRUE(SamePolicy(p, nlohmann::json::parse(p).dump(2)));
  EXPECT_FALSE(SamePolicy(p, "{}"));
  EXPECT_FALSE(SamePolicy(p, "nope"));
}

}  // namespace
}  // namespace podiam::oidc
