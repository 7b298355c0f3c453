// The BPE model of a byte-level tokenizer: a vocabulary of byte strings and ranked merges,
// applied to one pre-tokenized word at a time, with a cache of recent words.
#ifndef AHA_POLICY_BPE_MODEL_H_
#define AHA_POLICY_BPE_MODEL_H_

#include <array>
#include <cstdint>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"

namespace aha {

class BpeModel {
 public:
  // `vocab` maps each token's raw bytes to its id. `merges` lists the pairs of token byte
  // strings in rank order (rank 0 is applied first). With `ignore_merges`, a word that is
  // itself in the vocabulary encodes to that one id without merging (Llama 3 sets this).
  // Fails when a merge's parts or its result are not in the vocabulary.
  static absl::StatusOr<BpeModel> Create(
      absl::flat_hash_map<std::string, int32_t> vocab,
      const std::vector<std::pair<std::string, std::string>>& merges, bool ignore_merges);

  BpeModel(BpeModel&& other) noexcept;

  // Appends the ids of `word` (raw bytes) to `ids`. Starts from one token per byte and
  // repeatedly applies the lowest-ranked merge among adjacent pairs, leftmost first on ties.
  // A byte without a single-byte token in the vocabulary is dropped, as the Hugging Face
  // BPE model does when it has no unknown token; byte-level vocabularies cover all 256.
  void EncodeWord(std::string_view word, std::vector<int32_t>* ids) const;

  const absl::flat_hash_map<std::string, int32_t>& vocab() const { return vocab_; }

 private:
  struct Merge {
    int32_t rank;
    int32_t id;  // id of the merged token
  };

  BpeModel() = default;
  static uint64_t PairKey(int32_t left, int32_t right) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) |
           static_cast<uint32_t>(right);
  }
  void MergeWord(std::string_view word, std::vector<int32_t>* ids) const;

  absl::flat_hash_map<std::string, int32_t> vocab_;
  absl::flat_hash_map<uint64_t, Merge> merges_;
  std::array<int32_t, 256> byte_ids_{};  // -1 where the byte has no token
  bool ignore_merges_ = false;

  // Words up to kMaxCachedWordBytes long, until the cache holds kMaxCachedWords; later
  // words are merged every time (the cache never evicts, so its memory stays bounded).
  static constexpr size_t kMaxCachedWordBytes = 64;
  static constexpr size_t kMaxCachedWords = 1 << 17;
  mutable std::shared_mutex cache_mutex_;
  mutable absl::flat_hash_map<std::string, std::vector<int32_t>> cache_;
};

}  // namespace aha

#endif  // AHA_POLICY_BPE_MODEL_H_
