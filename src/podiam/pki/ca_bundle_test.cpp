#include "podiam/pki/ca_bundle.hpp"

#include <gtest/gtest.h>

namespace podiam::pki {
namespace {

TEST(CaBundle, InsertedBelowClientConfigIndentedLikeItsEntries) {
  const std::string manifest =
      "# comment kept\n"
      "kind: MutatingWebhookConfiguration\n"
      "webhooks:\n"
      "  - name: a.podiam.io\n"
      "    clientConfig:\n"
      "      service:\n"
      "        name: hook\n"
      "      # caBundle: a comment stays a comment\n"
      "    rules: []\n";
  auto edit = SetCaBundle(manifest, "QUJD");
  ASSERT_TRUE(edit) << edit.error().ToString();
  EXPECT_EQ(edit->manifest,
            "# comment kept\n"
            "kind: MutatingWebhookConfiguration\n"
            "webhooks:\n"
            "  - name: a.podiam.io\n"
            "    clientConfig:\n"
            "      caBundle: QUJD\n"
            "      service:\n"
            "        name: hook\n"
            "      # caBundle: a comment stays a comment\n"
            "    rules: []\n");
  EXPECT_EQ(edit->inserted, 1);
  EXPECT_EQ(edit->replaced, 0);
  // Idempotent: a second run replaces the value it wrote.
  auto again = SetCaBundle(edit->manifest, "REVG");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->inserted, 0);
  EXPECT_EQ(again->replaced, 1);
  EXPECT_NE(again->manifest.find("      caBundle: REVG\n"), std::string::npos);
  EXPECT_EQ(again->manifest.find("QUJD"), std::string::npos);
}

TEST(CaBundle, ExistingValuesReplacedInEveryWebhookAndDocument) {
  const std::string manifest =
      "webhooks:\n"
      "- name: a\n"
      "  clientConfig:\n"
      "    url: https://x/mutate\n"
      "    caBundle: \"\"\n"
      "- name: b\n"
      "  clientConfig:\n"
      "    caBundle: T0xE\n"
      "---\n"
      "webhooks:\n"
      "- clientConfig:\n"
      "    url: https://y/validate\n"
      "  name: c";
  auto edit = SetCaBundle(manifest, "TkVX");
  ASSERT_TRUE(edit) << edit.error().ToString();
  EXPECT_EQ(edit->replaced, 2);
  EXPECT_EQ(edit->inserted, 1);
  EXPECT_EQ(edit->manifest,
            "webhooks:\n"
            "- name: a\n"
            "  clientConfig:\n"
            "    url: https://x/mutate\n"
            "    caBundle: TkVX\n"
            "- name: b\n"
            "  clientConfig:\n"
            "    caBundle: TkVX\n"
            "---\n"
            "webhooks:\n"
            "- clientConfig:\n"
            "    caBundle: TkVX\n"
            "    url: https://y/validate\n"
            "  name: c");
}

TEST(CaBundle, RefusesWhatItCannotEditSafely) {
  EXPECT_FALSE(SetCaBundle("kind: ConfigMap\ndata: {}\n", "QUJD"));
  auto flow = SetCaBundle("webhooks:\n- clientConfig: {url: https://x}\n", "QUJD");
  ASSERT_FALSE(flow);
  EXPECT_NE(flow.error().message().find("line 2"), std::string::npos);
  EXPECT_FALSE(SetCaBundle("webhooks:\n- clientConfig:\n    url: x\n", "not base64!"));
  EXPECT_FALSE(SetCaBundle("webhooks:\n- clientConfig:\n    url: x\n", ""));
  // A key that only starts with the name is another key.
  auto other = SetCaBundle("x:\n  clientConfigs: 1\n  clientConfig:\n    caBundles: 2\n", "QUJD");
  ASSERT_TRUE(other);
  EXPECT_EQ(other->manifest,
            "x:\n  clientConfigs: 1\n  clientConfig:\n    caBundle: QUJD\n    caBundles: 2\n");
}

}  // namespace
}  // namespace podiam::pki
