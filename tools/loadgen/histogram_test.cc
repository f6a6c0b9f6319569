// Copyright netman authors.
#include "tools/loadgen/histogram.h"

#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace netman::loadgen {
namespace {

TEST(LatencyHistogramTest, EmptyReportsZeros) {
  LatencyHistogram h;
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.min(), 0u);
  EXPECT_EQ(h.max(), 0u);
  EXPECT_EQ(h.mean(), 0.0);
  EXPECT_EQ(h.Percentile(99), 0u);
}

TEST(LatencyHistogramTest, SmallValuesAreExact) {
  LatencyHistogram h;
  for (uint64_t v = 0; v < LatencyHistogram::kSubBuckets; ++v) {
    EXPECT_EQ(LatencyHistogram::IndexOf(v), v);
    EXPECT_EQ(LatencyHistogram::LowestValueAt(v), v);
    EXPECT_EQ(LatencyHistogram::HighestValueAt(v), v);
  }
  for (uint64_t v = 1; v <= 100; ++v) h.Record(v);
  EXPECT_EQ(h.Percentile(50), 50u);
  EXPECT_EQ(h.Percentile(99), 99u);
  EXPECT_EQ(h.Percentile(100), 100u);
  EXPECT_EQ(h.min(), 1u);
  EXPECT_DOUBLE_EQ(h.mean(), 50.5);
}

TEST(LatencyHistogramTest, BucketsTileTheWholeRange) {
  // Consecutive buckets are adjacent, and every value maps into the bucket
  // whose bounds contain it.
  for (size_t i = 1; i < LatencyHistogram::kBucketCount; ++i) {
    ASSERT_EQ(LatencyHistogram::LowestValueAt(i),
              LatencyHistogram::HighestValueAt(i - 1) + 1)
        << "bucket " << i;
  }
  EXPECT_EQ(
      LatencyHistogram::HighestValueAt(LatencyHistogram::kBucketCount - 1),
      UINT64_MAX);
  EXPECT_EQ(LatencyHistogram::IndexOf(UINT64_MAX),
            LatencyHistogram::kBucketCount - 1);
  std::mt19937_64 rng(42);
  for (int i = 0; i < 100000; ++i) {
    const uint64_t v = rng() >> (rng() % 64);
    const size_t index = LatencyHistogram::IndexOf(v);
    ASSERT_LT(index, LatencyHistogram::kBucketCount);
    ASSERT_LE(LatencyHistogram::LowestValueAt(index), v);
    ASSERT_GE(LatencyHistogram::HighestValueAt(index), v);
  }
}

TEST(LatencyHistogramTest, PercentilesWithinOnePercent) {
  std::mt19937_64 rng(7);
  std::lognormal_distribution<double> dist(11.0, 1.0);  // ~60 us median
  std::vector<uint64_t> values;
  LatencyHistogram h;
  for (int i = 0; i < 200000; ++i) {
    const uint64_t v = static_cast<uint64_t>(dist(rng));
    values.push_back(v);
    h.Record(v);
  }
  std::sort(values.begin(), values.end());
  for (double p : {50.0, 90.0, 99.0, 99.9}) {
    const uint64_t exact =
        values[static_cast<size_t>(p / 100.0 * values.size()) - 1];
    const double got = static_cast<double>(h.Percentile(p));
    EXPECT_NEAR(got, static_cast<double>(exact),
                static_cast<double>(exact) * 0.01)
        << "p" << p;
  }
  EXPECT_EQ(h.max(), values.back());
  EXPECT_EQ(h.Percentile(100), values.back());
}

TEST(LatencyHistogramTest, RecordWithCountAndMerge) {
  LatencyHistogram a, b;
  a.Record(1000, 99);
  b.Record(5000000, 1);
  a.Merge(b);
  EXPECT_EQ(a.count(), 100u);
  EXPECT_EQ(a.min(), 1000u);
  EXPECT_EQ(a.max(), 5000000u);
  EXPECT_NEAR(static_cast<double>(a.Percentile(99)), 1000.0, 10.0);
  EXPECT_EQ(a.Percentile(99.5), 5000000u);
  LatencyHistogram empty;
  a.Merge(empty);
  EXPECT_EQ(a.min(), 1000u);
  a.Reset();
  EXPECT_EQ(a.count(), 0u);
}

}  // namespace
}  // namespace netman::loadgen
