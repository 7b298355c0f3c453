#include "trainer/lm_batch.h"

#include <algorithm>

#include <torch/torch.h>

#include "absl/strings/str_cat.h"

namespace aha {
namespace {

// Rows that packing still tries to fill; older open rows are left as they are.
constexpr size_t kOpenRowWindow = 16;

int64_t RowLength(const std::vector<LmExample>& examples, const PackedRow& row) {
  int64_t length = 0;
  for (int64_t index : row) length += static_cast<int64_t>(examples[index].ids.size());
  return length;
}

// Targets of one example: its mask without the first token, which has no context.
int64_t ExampleTargets(const LmExample& example) {
  int64_t count = 0;
  for (size_t i = 1; i < example.loss_mask.size(); ++i) count += example.loss_mask[i] != 0;
  return count;
}

}  // namespace

LmExample MakeTextExample(const Tokenizer& tokenizer, const std::string& text) {
  LmExample example;
  example.ids = tokenizer.Encode(text);
  example.loss_mask.assign(example.ids.size(), 1);
  return example;
}

LmExample MakePromptResponseExample(const Tokenizer& tokenizer, const std::string& prompt,
                                    const std::string& response, bool loss_on_prompt,
                                    bool append_eos) {
  // The two parts are encoded separately, as the sampler sees them: the prompt is encoded on
  // its own at generation time and the completion follows it token by token.
  LmExample example;
  example.ids = tokenizer.Encode(prompt);
  example.loss_mask.assign(example.ids.size(), loss_on_prompt ? 1 : 0);
  std::vector<int32_t> response_ids = tokenizer.Encode(response);
  const std::vector<int32_t>& eos_ids = tokenizer.special_tokens().eos_ids;
  const bool ends_in_eos =
      !response_ids.empty() &&
      std::find(eos_ids.begin(), eos_ids.end(), response_ids.back()) != eos_ids.end();
  if (append_eos && !eos_ids.empty() && !ends_in_eos) response_ids.push_back(eos_ids[0]);
  example.ids.insert(example.ids.end(), response_ids.begin(), response_ids.end());
  example.loss_mask.resize(example.ids.size(), 1);
  return example;
}

std::string UnknownTokenWarning(const std::vector<LmExample>& examples,
                                const Tokenizer& tokenizer) {
  const std::optional<int32_t> unk = tokenizer.special_tokens().unk_id;
  if (!unk) return "";
  int64_t count = 0, first = -1;
  for (size_t i = 0; i < examples.size(); ++i) {
    const int64_t in_example = std::count(examples[i].ids.begin(), examples[i].ids.end(), *unk);
    if (in_example > 0 && first < 0) first = static_cast<int64_t>(i);
    count += in_example;
  }
  if (count == 0) return "";
  return absl::StrCat("warning: ", count, " characters of the training text are outside the "
                      "tokenizer's vocabulary and train as its unknown token (first in example ",
                      first, "); add them to the vocabulary or clean the data");
}

int64_t TruncateExamples(std::vector<LmExample>& examples, int64_t max_length) {
  int64_t truncated = 0;
  for (LmExample& example : examples) {
    if (static_cast<int64_t>(example.ids.size()) <= max_length) continue;
    example.ids.resize(max_length);
    example.loss_mask.resize(max_length);
    ++truncated;
  }
  return truncated;
}

std::vector<PackedRow> PackExamples(const std::vector<LmExample>& examples,
                                    const std::vector<int64_t>& order, int64_t pack_length) {
  std::vector<PackedRow> rows;
  std::vector<int64_t> lengths;  // per row
  for (int64_t index : order) {
    const int64_t length = static_cast<int64_t>(examples[index].ids.size());
    TORCH_CHECK(length <= pack_length, "example ", index, " has ", length,
                " tokens, more than pack_length ", pack_length);
    if (length == 0) continue;
    const size_t first_open = rows.size() > kOpenRowWindow ? rows.size() - kOpenRowWindow : 0;
    size_t target = rows.size();
    for (size_t r = first_open; r < rows.size(); ++r) {
      if (lengths[r] + length <= pack_length) {
        target = r;
        break;
      }
    }
    if (target == rows.size()) {
      rows.emplace_back();
      lengths.push_back(0);
    }
    rows[target].push_back(index);
    lengths[target] += length;
  }
  return rows;
}

LmBatch MakeLmBatch(const std::vector<LmExample>& examples, const std::vector<PackedRow>& rows,
                    int64_t pack_length) {
  const int64_t n = static_cast<int64_t>(rows.size());
  const int64_t t = pack_length;
  auto ids = torch::zeros({n, t}, torch::kInt64);
  auto valid = torch::zeros({n, t}, torch::kBool);
  auto positions = torch::zeros({n, t}, torch::kInt64);
  auto segment_ids = torch::full({n, t}, -1, torch::kInt64);
  auto target_mask = torch::zeros({n, t - 1}, torch::kBool);
  auto ids_a = ids.accessor<int64_t, 2>();
  auto valid_a = valid.accessor<bool, 2>();
  auto positions_a = positions.accessor<int64_t, 2>();
  auto segments_a = segment_ids.accessor<int64_t, 2>();
  auto targets_a = target_mask.accessor<bool, 2>();

  LmBatch batch;
  for (int64_t r = 0; r < n; ++r) {
    TORCH_CHECK(RowLength(examples, rows[r]) <= t, "packed row ", r, " is longer than ", t);
    int64_t column = 0;
    for (size_t s = 0; s < rows[r].size(); ++s) {
      const LmExample& example = examples[rows[r][s]];
      for (size_t i = 0; i < example.ids.size(); ++i, ++column) {
        ids_a[r][column] = example.ids[i];
        valid_a[r][column] = true;
        positions_a[r][column] = static_cast<int64_t>(i);
        segments_a[r][column] = static_cast<int64_t>(s);
        // Column `column` is predicted from column - 1, which is entry column - 1 of the
        // (N, T - 1) target mask.
        if (i > 0 && example.loss_mask[i] != 0) {
          targets_a[r][column - 1] = true;
          ++batch.target_tokens;
        }
      }
    }
    batch.real_tokens += column;
  }
  batch.ids = ids;
  batch.valid = valid;
  batch.positions = positions;
  batch.segment_ids = segment_ids;
  batch.target_mask = target_mask;
  return batch;
}

int64_t CountTargets(const std::vector<LmExample>& examples, const std::vector<PackedRow>& rows) {
  int64_t count = 0;
  for (const PackedRow& row : rows) {
    for (int64_t index : row) count += ExampleTargets(examples[index]);
  }
  return count;
}

}  // namespace aha
