// The log-linear latency histogram of `aliot bench` (aliot/bench.hpp).
#include <aliot/bench.hpp>

#include <algorithm>
#include <cmath>

namespace aliot::bench {

namespace {
constexpr std::uint64_t k_sub = std::uint64_t{1} << Histogram::k_sub_bits; // 64
constexpr std::uint64_t k_exact = 2 * k_sub;                               // 128
} // namespace

std::size_t Histogram::bucket_of(std::uint64_t value) {
  if (value < k_exact) {
    return static_cast<std::size_t>(value);
  }
  const int magnitude = 63 - __builtin_clzll(value); // >= 7
  const int shift = magnitude - k_sub_bits;          // >= 1
  const std::uint64_t sub = value >> shift;          // in [64, 128)
  return static_cast<std::size_t>(k_exact + (static_cast<std::uint64_t>(shift) - 1) * k_sub
                                  + (sub - k_sub));
}

std::uint64_t Histogram::bucket_low(std::size_t bucket) {
  if (bucket < k_exact) {
    return bucket;
  }
  const std::uint64_t shift = (bucket - k_exact) / k_sub + 1;
  const std::uint64_t sub = k_sub + (bucket - k_exact) % k_sub;
  return sub << shift;
}

std::uint64_t Histogram::bucket_high(std::size_t bucket) {
  if (bucket < k_exact) {
    return bucket;
  }
  const std::uint64_t shift = (bucket - k_exact) / k_sub + 1;
  const std::uint64_t sub = k_sub + (bucket - k_exact) % k_sub;
  return ((sub + 1) << shift) - 1; // the last bucket wraps to UINT64_MAX, which is right
}

void Histogram::record(std::uint64_t value) {
  ++m_counts[bucket_of(value)];
  ++m_count;
  m_min = std::min(m_min, value);
  m_max = std::max(m_max, value);
  m_sum += static_cast<long double>(value);
}

void Histogram::merge(const Histogram& other) {
  for (std::size_t i = 0; i < k_buckets; ++i) {
    m_counts[i] += other.m_counts[i];
  }
  m_count += other.m_count;
  m_min = std::min(m_min, other.m_min);
  m_max = std::max(m_max, other.m_max);
  m_sum += other.m_sum;
}

void Histogram::reset() {
  *this = Histogram{};
}

double Histogram::mean() const {
  return m_count == 0 ? 0.0 : static_cast<double>(m_sum / static_cast<long double>(m_count));
}

std::uint64_t Histogram::percentile(double percent) const {
  if (m_count == 0) {
    return 0;
  }
  const double p = std::clamp(percent, 0.0, 100.0);
  auto rank = static_cast<std::uint64_t>(std::ceil(p / 100.0 * static_cast<double>(m_count)));
  rank = std::clamp<std::uint64_t>(rank, 1, m_count);
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < k_buckets; ++i) {
    seen += m_counts[i];
    if (seen >= rank) {
      return std::min(bucket_high(i), m_max);
    }
  }
  return m_max;
}

} // namespace aliot::bench
