// Packs the registered metrics into one vector per reduction operation.
#include "dist/metric_reduction.h"

#include "base/status_macros.h"

namespace aha::dist {

void MetricReduction::Mean(double& value, double weight) {
  means_.push_back({&value, sums_.size()});
  sums_.push_back(value * weight);
  sums_.push_back(weight);
}

void MetricReduction::Sum(double& value) {
  double_sums_.emplace_back(&value, sums_.size());
  sums_.push_back(value);
}

void MetricReduction::Sum(int64_t& value) {
  int_sums_.emplace_back(&value, sums_.size());
  sums_.push_back(static_cast<double>(value));
}

void MetricReduction::Max(double& value) {
  max_targets_.push_back(&value);
  maxima_.push_back(value);
}

absl::Status MetricReduction::Reduce(Communicator& comm) {
  ASSIGN_OR_RETURN(std::vector<double> sums, comm.SumAcrossRanks(sums_));
  ASSIGN_OR_RETURN(std::vector<double> maxima, comm.MaxAcrossRanks(maxima_));
  for (const MeanEntry& entry : means_) {
    const double weight = sums[entry.sum_index + 1];
    *entry.value = weight > 0 ? sums[entry.sum_index] / weight : 0.0;
  }
  for (const auto& [target, index] : double_sums_) *target = sums[index];
  for (const auto& [target, index] : int_sums_) *target = static_cast<int64_t>(sums[index]);
  for (size_t i = 0; i < max_targets_.size(); ++i) *max_targets_[i] = maxima[i];
  return absl::OkStatus();
}

}  // namespace aha::dist
