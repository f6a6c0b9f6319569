// Copyright netman authors.
#include "tools/loadgen/histogram.h"

#include <cmath>

namespace netman::loadgen {

void LatencyHistogram::Merge(const LatencyHistogram& other) {
  for (size_t i = 0; i < kBucketCount; ++i) counts_[i] += other.counts_[i];
  total_ += other.total_;
  sum_ += other.sum_;
  if (other.total_ > 0) {
    if (other.min_ < min_) min_ = other.min_;
    if (other.max_ > max_) max_ = other.max_;
  }
}

void LatencyHistogram::Reset() { *this = LatencyHistogram(); }

double LatencyHistogram::mean() const {
  return total_ == 0 ? 0.0 : static_cast<double>(sum_ / total_);
}

uint64_t LatencyHistogram::LowestValueAt(size_t index) {
  if (index < kSubBuckets) return index;
  const size_t j = index - kSubBuckets;
  const int shift = static_cast<int>(j / kHalf) + 1;
  const uint64_t mantissa = j % kHalf + kHalf;
  return mantissa << shift;
}

uint64_t LatencyHistogram::HighestValueAt(size_t index) {
  if (index < kSubBuckets) return index;
  const int shift = static_cast<int>((index - kSubBuckets) / kHalf) + 1;
  return LowestValueAt(index) + ((uint64_t{1} << shift) - 1);
}

uint64_t LatencyHistogram::Percentile(double percent) const {
  if (total_ == 0) return 0;
  if (percent < 0) percent = 0;
  if (percent > 100) percent = 100;
  // The rank of the value asked for, 1-based: at least the first value.
  uint64_t rank = static_cast<uint64_t>(
      std::ceil(percent / 100.0 * static_cast<double>(total_)));
  if (rank == 0) rank = 1;
  uint64_t seen = 0;
  for (size_t i = 0; i < kBucketCount; ++i) {
    seen += counts_[i];
    if (seen >= rank) {
      const uint64_t high = HighestValueAt(i);
      return high < max_ ? high : max_;
    }
  }
  return max_;
}

}  // namespace netman::loadgen
