#include "podiam/metrics/registry.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <thread>

#include "podiam/metrics/process.hpp"

namespace podiam::metrics {
namespace {

using ::testing::HasSubstr;

TEST(RegistryTest, CountersWithLabelsRenderInTextFormat) {
  Registry registry;
  auto& requests = registry.AddCounter("podiam_requests_total", "Requests.", {"route", "code"});
  requests.WithLabels({"credentials", "200"}).Inc();
  requests.WithLabels({"credentials", "200"}).Inc(2);
  requests.WithLabels({"token", "401"}).Inc();
  std::string text = registry.Render();
  EXPECT_THAT(text, HasSubstr("# HELP podiam_requests_total Requests.\n"
                              "# TYPE podiam_requests_total counter\n"
                              "podiam_requests_total{route=\"credentials\",code=\"200\"} 3\n"
                              "podiam_requests_total{route=\"token\",code=\"401\"} 1\n"));
}

TEST(RegistryTest, CounterNeverDecreasesGaugeDoes) {
  Registry registry;
  auto& c = registry.AddCounter("c_total", "c").Get();
  c.Inc(-5);
  EXPECT_EQ(c.Value(), 0);
  auto& g = registry.AddGauge("g", "g").Get();
  g.Set(3);
  g.Add(-1.5);
  EXPECT_EQ(g.Value(), 1.5);
  EXPECT_THAT(registry.Render(), HasSubstr("\ng 1.5\n"));
}

TEST(RegistryTest, HistogramBucketsAreCumulativeWithSumAndCount) {
  Registry registry;
  auto& h = registry.AddHistogram("lat_seconds", "Latency.", {"action"}, {0.1, 1});
  auto& series = h.WithLabels({"AssumeRole"});
  series.Observe(0.05);
  series.Observe(0.1);  // le is inclusive
  series.Observe(0.5);
  series.Observe(7);
  std::string text = registry.Render();
  EXPECT_THAT(text, HasSubstr("lat_seconds_bucket{action=\"AssumeRole\",le=\"0.1\"} 2\n"
                              "lat_seconds_bucket{action=\"AssumeRole\",le=\"1\"} 3\n"
                              "lat_seconds_bucket{action=\"AssumeRole\",le=\"+Inf\"} 4\n"
                              "lat_seconds_sum{action=\"AssumeRole\"} 7.65\n"
                              "lat_seconds_count{action=\"AssumeRole\"} 4\n"));
}

TEST(RegistryTest, LabelValuesAreEscaped) {
  EXPECT_EQ(EscapeLabelValue("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
  Registry registry;
  registry.AddCounter("x_total", "x", {"v"}).WithLabels({"q\""}).Inc();
  EXPECT_THAT(registry.Render(), HasSubstr("x_total{v=\"q\\\"\"} 1"));
}

TEST(RegistryTest, WrongLabelCountDoesNotCrash) {
  Registry registry;
  auto& f = registry.AddCounter("y_total", "y", {"a", "b"});
  f.WithLabels({"only-one"}).Inc();
  EXPECT_THAT(registry.Render(), HasSubstr("y_total{a=\"only-one\",b=\"\"} 1"));
}

TEST(RegistryTest, ConcurrentIncrementsAreNotLost) {
  Registry registry;
  auto& family = registry.AddCounter("z_total", "z", {"t"});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        family.WithLabels({"same"}).Inc();
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  EXPECT_EQ(family.WithLabels({"same"}).Value(), 40000);
}

TEST(RegistryTest, ProcessMetricsReadProc) {
  Registry registry;
  RegisterProcessMetrics(registry);
  std::string text = registry.Render();
  EXPECT_THAT(text, HasSubstr("# TYPE process_cpu_seconds_total counter"));
  EXPECT_GT(ResidentMemoryBytes(), 0);
  EXPECT_GT(OpenFileDescriptors(), 2);
}

TEST(FormatValueTest, IntegersSpecialsAndFractions) {
  EXPECT_EQ(FormatValue(3), "3");
  EXPECT_EQ(FormatValue(0.25), "0.25");
  EXPECT_EQ(FormatValue(1.0 / 0.0), "+Inf");
  EXPECT_EQ(FormatValue(std::nan("")), "NaN");
}

TEST(RegistryDeathTest, DuplicateNameAbortsWithTheName) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        Registry registry;
        registry.AddCounter("podiam_dup_total", "first");
        registry.AddGauge("podiam_dup_total", "second");
      },
      "duplicate metric name 'podiam_dup_total'");
  EXPECT_DEATH(
      {
        Registry registry;
        registry.AddHistogram("podiam_dup_seconds", "first", {});
        registry.AddCallbackGauge("podiam_dup_seconds", "second", [] { return 1.0; });
      },
      "duplicate metric name 'podiam_dup_seconds'");
}

TEST(RegistryTest, DistinctNamesAreFine) {
  Registry registry;
  registry.AddCounter("podiam_a_total", "a");
  registry.AddCallbackCounter("podiam_b_total", "b", [] { return 2.0; });
  registry.AddGauge("podiam_c", "c");
  EXPECT_NE(registry.Render().find("podiam_b_total 2"), std::string::npos);
}

}  // namespace
}  // namespace podiam::metrics
