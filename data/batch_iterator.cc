// Per-epoch shuffled batches.
#include "data/batch_iterator.h"

#include <numeric>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "data/rng.h"

namespace aha::data {

bool operator==(const IteratorPosition& a, const IteratorPosition& b) {
  return a.epoch == b.epoch && a.offset == b.offset;
}

BatchIterator::BatchIterator(std::vector<Example> examples, const BatchIteratorOptions& options)
    : examples_(std::move(examples)), options_(options) {}

absl::StatusOr<BatchIterator> BatchIterator::Create(std::vector<Example> examples,
                                                    const BatchIteratorOptions& options,
                                                    IteratorPosition start) {
  if (examples.empty()) {
    return absl::InvalidArgumentError("batch iterator: the dataset has no examples");
  }
  if (options.batch_size < 1 || options.batch_size > static_cast<int64_t>(examples.size())) {
    return absl::InvalidArgumentError(absl::StrCat(
        "batch iterator: batch_size must be between 1 and the dataset size ", examples.size(),
        ", got ", options.batch_size));
  }
  BatchIterator iterator(std::move(examples), options);
  absl::Status seek = iterator.Seek(start);
  if (!seek.ok()) return seek;
  return iterator;
}

int64_t BatchIterator::BatchesPerEpoch() const {
  const int64_t n = size();
  const int64_t b = options_.batch_size;
  return options_.drop_last ? n / b : (n + b - 1) / b;
}

absl::Status BatchIterator::Seek(IteratorPosition position) {
  const int64_t epoch_length =
      options_.drop_last ? BatchesPerEpoch() * options_.batch_size : size();
  if (position.epoch < 0 || position.offset < 0 || position.offset >= epoch_length) {
    return absl::InvalidArgumentError(absl::StrCat(
        "batch iterator: position (epoch ", position.epoch, ", offset ", position.offset,
        ") is outside a dataset of ", size(), " examples; was the checkpoint made with "
        "another dataset or batch size?"));
  }
  position_ = position;
  return absl::OkStatus();
}

void BatchIterator::BuildOrder(int64_t epoch) {
  order_.resize(examples_.size());
  std::iota(order_.begin(), order_.end(), 0);
  if (options_.shuffle) {
    SplitMix64 rng(DeriveSeed(options_.seed, static_cast<uint64_t>(epoch)));
    for (int64_t i = static_cast<int64_t>(order_.size()) - 1; i > 0; --i) {
      std::swap(order_[i], order_[rng.UniformInt(0, i)]);
    }
  }
  order_epoch_ = epoch;
}

std::vector<Example> BatchIterator::Next() {
  if (order_epoch_ != position_.epoch) BuildOrder(position_.epoch);
  const int64_t epoch_length =
      options_.drop_last ? BatchesPerEpoch() * options_.batch_size : size();
  const int64_t end = std::min(position_.offset + options_.batch_size, epoch_length);
  std::vector<Example> batch;
  batch.reserve(end - position_.offset);
  for (int64_t i = position_.offset; i < end; ++i) batch.push_back(examples_[order_[i]]);
  if (end == epoch_length) {
    position_ = {position_.epoch + 1, 0};
  } else {
    position_.offset = end;
  }
  return batch;
}

}  // namespace aha::data
