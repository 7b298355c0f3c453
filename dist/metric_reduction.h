// MetricReduction: combines per-rank metrics into whole-batch values with two collectives,
// whatever the number of metrics.
//
//   dist::MetricReduction reduction;
//   reduction.Mean(m.entropy, /*weight=*/local_tokens);  // token-weighted mean over ranks
//   reduction.Sum(m.reward_errors);
//   reduction.Max(m.seconds_train);
//   RETURN_IF_ERROR(reduction.Reduce(comm));  // writes the results back through the references
#ifndef AHA_DIST_METRIC_REDUCTION_H_
#define AHA_DIST_METRIC_REDUCTION_H_

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "dist/communicator.h"

namespace aha::dist {

class MetricReduction {
 public:
  // Sets `value` to sum_r(value_r * weight_r) / sum_r(weight_r), or 0 when every weight is 0.
  // The referenced variables of all four methods must outlive Reduce.
  void Mean(double& value, double weight);
  void Sum(double& value);
  void Sum(int64_t& value);
  void Max(double& value);

  // Every rank must register the same metrics in the same order before calling this.
  absl::Status Reduce(Communicator& comm);

 private:
  struct MeanEntry {
    double* value;
    size_t sum_index;  // of value * weight; the weight follows it
  };
  std::vector<double> sums_;
  std::vector<MeanEntry> means_;
  std::vector<std::pair<double*, size_t>> double_sums_;
  std::vector<std::pair<int64_t*, size_t>> int_sums_;
  std::vector<double> maxima_;
  std::vector<double*> max_targets_;
};

}  // namespace aha::dist

#endif  // AHA_DIST_METRIC_REDUCTION_H_
