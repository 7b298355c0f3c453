// The BPE model of a byte-level tokenizer.
#include "policy/bpe_model.h"

#include <mutex>
#include <queue>

#include "absl/strings/str_cat.h"
#include "base/utf8.h"

namespace aha {

absl::StatusOr<BpeModel> BpeModel::Create(
    absl::flat_hash_map<std::string, int32_t> vocab,
    const std::vector<std::pair<std::string, std::string>>& merges, bool ignore_merges) {
  BpeModel model;
  model.ignore_merges_ = ignore_merges;
  model.byte_ids_.fill(-1);
  for (int b = 0; b < 256; ++b) {
    const auto it = vocab.find(std::string(1, static_cast<char>(b)));
    if (it != vocab.end()) model.byte_ids_[b] = it->second;
  }
  model.merges_.reserve(merges.size());
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const auto& [left, right] = merges[rank];
    const auto left_it = vocab.find(left);
    const auto right_it = vocab.find(right);
    const auto merged_it = vocab.find(left + right);
    if (left_it == vocab.end() || right_it == vocab.end() || merged_it == vocab.end()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "merge ", rank, " uses a token that is not in the vocabulary (its parts and their "
          "concatenation must all be vocabulary entries)"));
    }
    // A pair listed twice keeps its first (lowest) rank.
    model.merges_.try_emplace(PairKey(left_it->second, right_it->second),
                              Merge{static_cast<int32_t>(rank), merged_it->second});
  }
  model.vocab_ = std::move(vocab);
  return model;
}

BpeModel::BpeModel(BpeModel&& other) noexcept
    : vocab_(std::move(other.vocab_)),
      merges_(std::move(other.merges_)),
      byte_ids_(other.byte_ids_),
      ignore_merges_(other.ignore_merges_),
      cache_(std::move(other.cache_)) {}

void BpeModel::EncodeWord(std::string_view word, std::vector<int32_t>* ids) const {
  if (word.empty()) return;
  if (ignore_merges_) {
    const auto it = vocab_.find(utf8::ToAbsl(word));
    if (it != vocab_.end()) {
      ids->push_back(it->second);
      return;
    }
  }
  if (word.size() == 1) {
    const int32_t id = byte_ids_[static_cast<unsigned char>(word[0])];
    if (id >= 0) ids->push_back(id);
    return;
  }
  const bool cacheable = word.size() <= kMaxCachedWordBytes;
  if (cacheable) {
    std::shared_lock lock(cache_mutex_);
    const auto it = cache_.find(utf8::ToAbsl(word));
    if (it != cache_.end()) {
      ids->insert(ids->end(), it->second.begin(), it->second.end());
      return;
    }
  }
  const size_t start = ids->size();
  MergeWord(word, ids);
  if (cacheable) {
    std::unique_lock lock(cache_mutex_);
    if (cache_.size() < kMaxCachedWords) {
      cache_.try_emplace(std::string(word), ids->begin() + start, ids->end());
    }
  }
}

void BpeModel::MergeWord(std::string_view word, std::vector<int32_t>* ids) const {
  // A doubly linked list of symbols over the word's bytes; a merge fuses a symbol with its
  // right neighbour, which is marked dead (id -1).
  struct Symbol {
    int32_t id;
    int32_t prev;
    int32_t next;
  };
  std::vector<Symbol> symbols;
  symbols.reserve(word.size());
  for (char byte : word) {
    const int32_t id = byte_ids_[static_cast<unsigned char>(byte)];
    if (id < 0) continue;
    const auto index = static_cast<int32_t>(symbols.size());
    symbols.push_back({id, index - 1, index + 1});
  }
  if (symbols.empty()) return;
  symbols.back().next = -1;

  // Candidate merges ordered by (rank, position); a popped candidate is stale when its
  // left symbol died or the pair at that position changed since it was pushed.
  struct Candidate {
    int32_t rank;
    int32_t pos;
    bool operator>(const Candidate& other) const {
      return rank != other.rank ? rank > other.rank : pos > other.pos;
    }
  };
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<Candidate>> queue;
  auto push_pair = [&](int32_t left) {
    if (left < 0) return;
    const int32_t right = symbols[left].next;
    if (right < 0) return;
    const auto it = merges_.find(PairKey(symbols[left].id, symbols[right].id));
    if (it != merges_.end()) queue.push({it->second.rank, left});
  };
  for (int32_t i = 0; i + 1 < static_cast<int32_t>(symbols.size()); ++i) push_pair(i);

  while (!queue.empty()) {
    const Candidate top = queue.top();
    queue.pop();
    Symbol& left = symbols[top.pos];
    if (left.id < 0 || left.next < 0) continue;
    Symbol& right = symbols[left.next];
    const auto it = merges_.find(PairKey(left.id, right.id));
    if (it == merges_.end() || it->second.rank != top.rank) continue;

    left.id = it->second.id;
    right.id = -1;
    left.next = right.next;
    if (left.next >= 0) symbols[left.next].prev = top.pos;
    push_pair(left.prev);
    push_pair(top.pos);
  }
  for (int32_t i = 0; i >= 0; i = symbols[i].next) ids->push_back(symbols[i].id);
}

}  // namespace aha
