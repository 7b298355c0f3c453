// Batches of examples for training: shuffled per epoch with a seed derived from (seed, epoch),
// reproducible, and resumable from a position the trainer stores in its checkpoint.
#ifndef AHA_DATA_BATCH_ITERATOR_H_
#define AHA_DATA_BATCH_ITERATOR_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "data/example.h"

namespace aha::data {

// Where the next batch starts: the epoch and the offset into that epoch's order.
struct IteratorPosition {
  int64_t epoch = 0;
  int64_t offset = 0;
};

bool operator==(const IteratorPosition& a, const IteratorPosition& b);

struct BatchIteratorOptions {
  int64_t batch_size = 8;  // B prompts per batch; at most the dataset size
  uint64_t seed = 0;
  bool shuffle = true;  // false keeps file order, for evaluation
  // Batches never span two epochs, so an id appears at most once per batch. With drop_last
  // the short remainder of each epoch is skipped and every batch has B examples; without it
  // the last batch of an epoch is short and every example appears once per epoch.
  bool drop_last = false;
};

class BatchIterator {
 public:
  // Fails on an empty dataset or a batch size outside [1, dataset size].
  static absl::StatusOr<BatchIterator> Create(std::vector<Example> examples,
                                              const BatchIteratorOptions& options,
                                              IteratorPosition start = {});

  // Returns the next batch, (B) examples, and advances the position.
  std::vector<Example> Next();

  IteratorPosition position() const { return position_; }
  // Moves to `position`, for example one read from a checkpoint. An offset past the end of an
  // epoch is an error.
  absl::Status Seek(IteratorPosition position);

  int64_t size() const { return static_cast<int64_t>(examples_.size()); }
  // The examples in their original order, before any shuffle.
  const std::vector<Example>& examples() const { return examples_; }
  // The number of batches per epoch.
  int64_t BatchesPerEpoch() const;

 private:
  BatchIterator(std::vector<Example> examples, const BatchIteratorOptions& options);
  // Builds the order of `epoch`; a Fisher-Yates shuffle seeded by DeriveSeed(seed, epoch).
  void BuildOrder(int64_t epoch);

  std::vector<Example> examples_;
  BatchIteratorOptions options_;
  IteratorPosition position_;
  int64_t order_epoch_ = -1;  // the epoch `order_` belongs to
  std::vector<int64_t> order_;
};

}  // namespace aha::data

#endif  // AHA_DATA_BATCH_ITERATOR_H_
