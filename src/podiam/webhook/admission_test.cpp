#include "podiam/webhook/admission.hpp"

#include <gtest/gtest.h>

namespace podiam::webhook {
namespace {

const char* kReview = R"({"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview",
 "request":{"uid":"705ab4f5-6393-11e8-b7cc-42010a800002",
  "kind":{"group":"","version":"v1","kind":"Pod"},"resource":{"group":"","version":"v1","resource":"pods"},
  "subResource":"","name":"","namespace":"team-a","operation":"CREATE",
  "userInfo":{"username":"system:serviceaccount:kube-system:replicaset-controller"},
  "object":{"metadata":{"generateName":"web-"},"spec":{"containers":[{"name":"app"}]}},
  "oldObject":null,"dryRun":false,"options":{"apiVersion":"meta.k8s.io/v1","kind":"CreateOptions"}}})";

TEST(DecodeAdmissionReview, ReadsTheFieldsTheWebhookUses) {
  auto r = DecodeAdmissionReview(kReview);
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->api_version, "admission.k8s.io/v1");
  EXPECT_EQ(r->uid, "705ab4f5-6393-11e8-b7cc-42010a800002");
  EXPECT_EQ(r->namespace_name, "team-a");
  EXPECT_EQ(r->operation, "CREATE");
  EXPECT_EQ(r->resource, "pods");
  EXPECT_EQ(r->kind_name, "Pod");
  EXPECT_FALSE(r->dry_run);
  EXPECT_EQ(r->object["metadata"]["generateName"], "web-");
}

TEST(DecodeAdmissionReview, V1beta1IsAnsweredInKind) {
  std::string body = kReview;
  body.replace(body.find("admission.k8s.io/v1"), 19, "admission.k8s.io/v1beta1");
  auto r = DecodeAdmissionReview(body);
  ASSERT_TRUE(r);
  auto out = nlohmann::json::parse(EncodeAdmissionReview(*r, {.allowed = true}));
  EXPECT_EQ(out["apiVersion"], "admission.k8s.io/v1beta1");
  EXPECT_EQ(out["kind"], "AdmissionReview");
  EXPECT_EQ(out["response"]["uid"], "705ab4f5-6393-11e8-b7cc-42010a800002");
  EXPECT_EQ(out["response"]["allowed"], true);
  EXPECT_FALSE(out["response"].contains("patch"));
}

TEST(DecodeAdmissionReview, RefusesWhatIsNotAReview) {
  for (const char* bad : {"", "nul", "[]", "{}", R"({"apiVersion":"v1","request":{}})",
                          R"({"apiVersion":"admission.k8s.io/v1","kind":"Pod","request":{}})",
                          R"({"apiVersion":"admission.k8s.io/v1","request":null})",
                          R"({"apiVersion":"admission.k8s.io/v1","request":[]})",
                          R"({"apiVersion":"admission.k8s.io/v1","request":{"uid":5}})",
                          R"({"apiVersion":"admission.k8s.io/v1","request":{"kind":"x"}})",
                          R"({"apiVersion":"admission.k8s.io/v1","request":{"dryRun":"no"}})"}) {
    auto r = DecodeAdmissionReview(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
  }
}

TEST(DecodeAdmissionReview, KeepsTheUidOfAPartlyBadReview) {
  AdmissionReview partial;
  auto r = DecodeAdmissionReview(
      R"({"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u-1","dryRun":3}})",
      &partial);
  ASSERT_FALSE(r);
  EXPECT_EQ(partial.uid, "u-1");
}

TEST(DecodeAdmissionReview, RefusesDeepNestingBeforeParsing) {
  std::string deep(100000, '[');
  auto r = DecodeAdmissionReview(deep);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("nested"), std::string::npos);
  EXPECT_EQ(NestingDepth(R"({"a":"[[[[","b":[{}]})", 64), 3U);
}

TEST(EncodeAdmissionReview, PatchIsBase64JsonPatch) {
  AdmissionReview r;
  r.uid = "u";
  auto out = nlohmann::json::parse(
      EncodeAdmissionReview(r, {.allowed = true, .patch = R"([{"op":"add"}])"}));
  EXPECT_EQ(out["response"]["patchType"], "JSONPatch");
  EXPECT_EQ(out["response"]["patch"], "W3sib3AiOiJhZGQifV0=");
}

TEST(EncodeAdmissionReview, RefusalCarriesStatus) {
  AdmissionReview r;
  r.uid = "u";
  auto out = nlohmann::json::parse(EncodeAdmissionReview(
      r, {.allowed = false, .code = 503, .reason = "ServiceUnavailable", .message = "why"}));
  EXPECT_EQ(out["response"]["allowed"], false);
  EXPECT_EQ(out["response"]["status"]["code"], 503);
  EXPECT_EQ(out["response"]["status"]["message"], "why");
  EXPECT_FALSE(out["response"].contains("patch"));
}

TEST(Base64Encode, Rfc4648Vectors) {
  EXPECT_EQ(Base64Encode(""), "");
  EXPECT_EQ(Base64Encode("f"), "Zg==");
  EXPECT_EQ(Base64Encode("fo"), "Zm8=");
  EXPECT_EQ(Base64Encode("foo"), "Zm9v");
  EXPECT_EQ(Base64Encode("foobar"), "Zm9vYmFy");
}

}  // namespace
}  // namespace podiam::webhook
