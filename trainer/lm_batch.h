// Next-token training data: tokenized examples with a loss mask, packed into fixed-length rows
// so that no compute goes to padding between short examples.
//
// Shapes: N rows, T = pack_length tokens per row.
#ifndef AHA_TRAINER_LM_BATCH_H_
#define AHA_TRAINER_LM_BATCH_H_

#include <cstdint>
#include <string>
#include <vector>

#include <torch/types.h>

#include "policy/tokenizer.h"

namespace aha {

// One tokenized training sequence. loss_mask[i] says whether token i is a target, i.e.
// whether the model is trained to predict it from the tokens before it.
struct LmExample {
  std::vector<int32_t> ids;
  std::vector<uint8_t> loss_mask;  // same length as ids
};

// A pretraining text: every token is a target (the first one has no context, so packing
// never scores it).
LmExample MakeTextExample(const Tokenizer& tokenizer, const std::string& text);

// An SFT example: the prompt followed by the response. Only response tokens are targets
// unless `loss_on_prompt`. With `append_eos`, the tokenizer's first EOS id is appended when the
// response does not already end in an EOS id, so the model learns to stop.
LmExample MakePromptResponseExample(const Tokenizer& tokenizer, const std::string& prompt,
                                    const std::string& response, bool loss_on_prompt,
                                    bool append_eos);

// Cuts examples longer than `max_length` tokens to their first `max_length` tokens. Returns
// how many were cut.
int64_t TruncateExamples(std::vector<LmExample>& examples, int64_t max_length);

// Returns a warning line when the examples contain the tokenizer's unk id, which stands for
// text outside a character vocabulary. The line names the count and the first example.
// Returns an empty string when there is none.
std::string UnknownTokenWarning(const std::vector<LmExample>& examples,
                                const Tokenizer& tokenizer);

// A packed row: indexes into the example list, laid out one after another.
using PackedRow = std::vector<int64_t>;

// Packs the examples in `order` into rows of at most `pack_length` tokens. Each example goes
// into the first of the most recently opened rows (a window of 16) that still has room, or into
// a new row, so the order stays mostly random while the rows fill up. Every example must be at
// most `pack_length` long (see TruncateExamples).
std::vector<PackedRow> PackExamples(const std::vector<LmExample>& examples,
                                    const std::vector<int64_t>& order, int64_t pack_length);

// The tensors of N packed rows, right-padded to T = pack_length.
struct LmBatch {
  torch::Tensor ids;          // (N, T) int64, padding is 0
  torch::Tensor valid;        // (N, T) bool: real tokens
  torch::Tensor positions;    // (N, T) int64: restart at 0 in each segment
  torch::Tensor segment_ids;  // (N, T) int64: index of the example within its row, -1 padding
  // (N, T - 1) bool: token t + 1 is a target. False for the first token of each segment,
  // whose context would be another example, and for padding.
  torch::Tensor target_mask;
  int64_t real_tokens = 0;
  int64_t target_tokens = 0;
};

// Builds the tensors for `rows` (N of them) from `examples`.
LmBatch MakeLmBatch(const std::vector<LmExample>& examples, const std::vector<PackedRow>& rows,
                    int64_t pack_length);

// Counts the targets that MakeLmBatch would mark for `rows`, without building tensors.
int64_t CountTargets(const std::vector<LmExample>& examples, const std::vector<PackedRow>& rows);

}  // namespace aha

#endif  // AHA_TRAINER_LM_BATCH_H_
