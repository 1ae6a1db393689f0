// The log-linear latency histogram of `aliot bench`: exact below 128, within 1/64 above, flat in
// memory, mergeable, and its percentiles against a sorted reference.
#include <aliot/bench.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

using aliot::bench::Histogram;

namespace {

// The reference: the value of rank ceil(p/100 * n) in the sorted samples.
std::uint64_t exact_percentile(std::vector<std::uint64_t> v, double p) {
  std::sort(v.begin(), v.end());
  auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(v.size())));
  rank = std::clamp<std::size_t>(rank, 1, v.size());
  return v[rank - 1];
}

} // namespace

TEST(BenchHistogram, EmptyIsZero) {
  Histogram h;
  EXPECT_EQ(h.count(), 0U);
  EXPECT_EQ(h.percentile(50), 0U);
  EXPECT_EQ(h.max(), 0U);
  EXPECT_EQ(h.min(), 0U);
}

TEST(BenchHistogram, SmallValuesAreExact) {
  Histogram h;
  for (std::uint64_t v = 1; v <= 100; ++v) {
    h.record(v);
  }
  EXPECT_EQ(h.count(), 100U);
  EXPECT_EQ(h.percentile(50), 50U);
  EXPECT_EQ(h.percentile(90), 90U);
  EXPECT_EQ(h.percentile(99), 99U);
  EXPECT_EQ(h.percentile(100), 100U);
  EXPECT_EQ(h.min(), 1U);
  EXPECT_EQ(h.max(), 100U);
  EXPECT_DOUBLE_EQ(h.mean(), 50.5);
}

TEST(BenchHistogram, BucketsCoverEveryValueOnce) {
  // Consecutive buckets are adjacent ranges: no value falls between two or into two.
  for (std::size_t b = 0; b + 1 < Histogram::k_buckets; ++b) {
    ASSERT_EQ(Histogram::bucket_high(b) + 1, Histogram::bucket_low(b + 1)) << b;
    ASSERT_EQ(Histogram::bucket_of(Histogram::bucket_low(b)), b);
    ASSERT_EQ(Histogram::bucket_of(Histogram::bucket_high(b)), b);
  }
  EXPECT_EQ(Histogram::bucket_of(UINT64_MAX), Histogram::k_buckets - 1);
}

TEST(BenchHistogram, RelativeErrorWithinOneSixtyFourth) {
  std::mt19937_64 rng(7);
  std::vector<std::uint64_t> samples;
  Histogram h;
  // Latencies from 50 us to ~10 s, log-uniform.
  std::uniform_real_distribution<double> exp10(1.7, 7.0);
  for (int i = 0; i < 100000; ++i) {
    const auto v = static_cast<std::uint64_t>(std::pow(10.0, exp10(rng)));
    samples.push_back(v);
    h.record(v);
  }
  for (double p : {50.0, 90.0, 99.0, 99.9, 100.0}) {
    const auto want = exact_percentile(samples, p);
    const auto got = h.percentile(p);
    EXPECT_GE(got, want) << p;
    EXPECT_LE(static_cast<double>(got), static_cast<double>(want) * (1.0 + 1.0 / 64)) << p;
  }
  EXPECT_EQ(h.max(), *std::max_element(samples.begin(), samples.end()));
  EXPECT_EQ(h.percentile(100), h.max());
}

TEST(BenchHistogram, MergeEqualsOneHistogramOfAll) {
  Histogram a;
  Histogram b;
  Histogram all;
  std::mt19937_64 rng(11);
  std::uniform_int_distribution<std::uint64_t> d(0, 5'000'000);
  for (int i = 0; i < 20000; ++i) {
    const auto v = d(rng);
    (i % 3 == 0 ? a : b).record(v);
    all.record(v);
  }
  a.merge(b);
  EXPECT_EQ(a.count(), all.count());
  EXPECT_EQ(a.max(), all.max());
  EXPECT_EQ(a.min(), all.min());
  for (double p : {1.0, 50.0, 90.0, 99.0, 99.9}) {
    EXPECT_EQ(a.percentile(p), all.percentile(p)) << p;
  }
}

TEST(BenchHistogram, MemoryIsFlatInRunLength) {
  // The counts are a fixed array: a histogram's size does not depend on what it recorded, and a
  // billion-sample run costs what an empty one does.
  static_assert(sizeof(Histogram) < 40 * 1024);
  Histogram h;
  for (std::uint64_t i = 0; i < 1'000'000; ++i) {
    h.record(i * 977 % 3'000'000);
  }
  EXPECT_EQ(h.count(), 1'000'000U);
  h.reset();
  EXPECT_EQ(h.count(), 0U);
  EXPECT_EQ(h.percentile(99), 0U);
}

TEST(BenchHistogram, HugeValuesDoNotOverflow) {
  Histogram h;
  h.record(UINT64_MAX);
  h.record(1);
  EXPECT_EQ(h.percentile(100), UINT64_MAX);
  EXPECT_EQ(h.percentile(50), 1U);
}
