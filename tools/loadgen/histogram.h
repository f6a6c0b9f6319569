// Copyright netman authors.
//
// LatencyHistogram: an HdrHistogram-like log-linear histogram of non-negative
// 64-bit values (the load generator records nanoseconds).
//
// Values below 2^kSubBucketBits are counted exactly; above that, every power
// of two [2^e, 2^(e+1)) is split into 2^(kSubBucketBits-1) equal buckets, so a
// value is known to within 1/2^(kSubBucketBits-1) of itself (< 0.8% with the
// 8 bits used here) over the whole uint64 range, in a fixed array of counts.
// Recording is an index computation (one count-leading-zeros) and an add:
// cheap enough to do for every message. min, max and mean are exact.
//
// Example:
//   LatencyHistogram h;
//   h.Record(1234);           // one value
//   h.Record(800, /*count=*/16);  // sixteen replies that took 800 ns
//   uint64_t p99 = h.Percentile(99.0);
//   total.Merge(h);
//
// Threading: not synchronised. Each thread records into its own histogram;
// merge them after the threads have stopped recording.
#ifndef TOOLS_LOADGEN_HISTOGRAM_H_
#define TOOLS_LOADGEN_HISTOGRAM_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <limits>

namespace netman::loadgen {

class LatencyHistogram {
 public:
  // 2^kSubBucketBits exact values, then 2^(kSubBucketBits-1) buckets per
  // power of two.
  static constexpr int kSubBucketBits = 8;
  static constexpr size_t kSubBuckets = size_t{1} << kSubBucketBits;  // 256
  static constexpr size_t kHalf = kSubBuckets / 2;                    // 128
  // Powers of two 2^8 .. 2^63: 56 groups of kHalf buckets after the first
  // kSubBuckets exact ones.
  static constexpr size_t kBucketCount =
      kSubBuckets + (64 - kSubBucketBits) * kHalf;

  LatencyHistogram() { counts_.fill(0); }

  void Record(uint64_t value, uint64_t count = 1) {
    if (count == 0) return;
    counts_[IndexOf(value)] += count;
    total_ += count;
    sum_ += static_cast<long double>(value) * static_cast<long double>(count);
    if (value < min_) min_ = value;
    if (value > max_) max_ = value;
  }

  void Merge(const LatencyHistogram& other);
  void Reset();

  uint64_t count() const { return total_; }
  // 0 when empty.
  uint64_t min() const { return total_ == 0 ? 0 : min_; }
  uint64_t max() const { return max_; }
  double mean() const;

  // The smallest recorded-bucket upper bound at or below which `percent` (0
  // to 100) of the values lie; never more than max(). 0 when empty.
  uint64_t Percentile(double percent) const;

  // Bucket arithmetic, public for tests.
  static size_t IndexOf(uint64_t value) {
    if (value < kSubBuckets) return static_cast<size_t>(value);
    const int msb = 63 - __builtin_clzll(value);   // >= kSubBucketBits
    const int shift = msb - (kSubBucketBits - 1);  // >= 1
    const uint64_t mantissa = value >> shift;      // [kHalf, kSubBuckets)
    return kSubBuckets + static_cast<size_t>(shift - 1) * kHalf +
           static_cast<size_t>(mantissa - kHalf);
  }
  // Smallest and largest value that map to bucket `index`.
  static uint64_t LowestValueAt(size_t index);
  static uint64_t HighestValueAt(size_t index);

 private:
  std::array<uint64_t, kBucketCount> counts_;
  uint64_t total_ = 0;
  long double sum_ = 0;
  uint64_t min_ = std::numeric_limits<uint64_t>::max();
  uint64_t max_ = 0;
};

}  // namespace netman::loadgen

#endif  // TOOLS_LOADGEN_HISTOGRAM_H_
