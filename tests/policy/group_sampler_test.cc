#include "policy/group_sampler.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "tests/policy/test_models.h"

namespace aha {
namespace {

using testing::MakeRandomModel;
using testing::TinyQwen2Config;

const std::vector<std::vector<int32_t>> kPrompts = {{3, 9, 4, 17, 22}, {5, 6, 7}};

GroupSamplerOptions BaseOptions() {
  GroupSamplerOptions o;
  o.group_size = 4;
  o.max_new_tokens = 12;
  o.seed = 1234;
  o.pad_id = 0;
  return o;
}

std::vector<int64_t> RowTokens(const Rollouts& r, int64_t row) {
  std::vector<int64_t> out;
  for (int64_t j = 0; j < r.completion_lengths[row]; ++j) {
    out.push_back(r.completion_ids[row][j].item<int64_t>());
  }
  return out;
}

TEST(GroupSamplerTest, SharedPrefixEqualsPerSamplePromptCopies) {
  CausalLm model = MakeRandomModel(TinyQwen2Config(), 21);
  GroupSampler sampler(model, nullptr);
  GroupSamplerOptions o = BaseOptions();
  o.eos_ids = {1, 2};
  Rollouts shared = sampler.Sample(kPrompts, o);

  std::vector<std::vector<int32_t>> copies;
  for (const auto& p : kPrompts) {
    for (int g = 0; g < o.group_size; ++g) copies.push_back(p);
  }
  GroupSamplerOptions single = o;
  single.group_size = 1;
  Rollouts separate = sampler.Sample(copies, single);

  ASSERT_EQ(shared.completion_lengths, separate.completion_lengths);
  for (int64_t row = 0; row < 8; ++row) {
    EXPECT_EQ(RowTokens(shared, row), RowTokens(separate, row)) << "row " << row;
    auto diff = (shared.sampled_logprobs[row] - separate.sampled_logprobs[row]).abs().max();
    EXPECT_LT(diff.item<double>(), 1e-5) << "row " << row;
  }
}

TEST(GroupSamplerTest, SameSeedReproducesAndOtherSeedDiffers) {
  CausalLm model = MakeRandomModel(TinyQwen2Config(), 21);
  GroupSampler sampler(model, nullptr);
  GroupSamplerOptions o = BaseOptions();
  Rollouts a = sampler.Sample(kPrompts, o);
  Rollouts b = sampler.Sample(kPrompts, o);
  EXPECT_TRUE(torch::equal(a.completion_ids, b.completion_ids));
  o.seed = 99;
  Rollouts c = sampler.Sample(kPrompts, o);
  EXPECT_FALSE(torch::equal(a.completion_ids, c.completion_ids));
}

TEST(GroupSamplerTest, CompactionDoesNotChangeSamples) {
  CausalLm model = MakeRandomModel(TinyQwen2Config(), 21);
  GroupSampler sampler(model, nullptr);
  GroupSamplerOptions o = BaseOptions();
  o.eos_ids = {1, 2, 3, 4, 5, 6};  // many stops, so rows finish at different steps
  o.compact_fraction = 0.0;         // compact as soon as any row finishes
  Rollouts eager = sampler.Sample(kPrompts, o);
  o.compact_fraction = 2.0;         // never compact
  Rollouts never = sampler.Sample(kPrompts, o);
  EXPECT_TRUE(torch::equal(eager.completion_ids, never.completion_ids));
  EXPECT_LT((eager.sampled_logprobs - never.sampled_logprobs).abs().max().item<double>(), 1e-5);
  EXPECT_EQ(eager.completion_lengths, never.completion_lengths);
}

TEST(GroupSamplerTest, NearZeroTemperatureIsGreedy) {
  CausalLm model = MakeRandomModel(TinyQwen2Config(), 22);
  GroupSampler sampler(model, nullptr);
  GroupSamplerOptions o = BaseOptions();
  o.group_size = 2;
  o.sampling.temperature = 0.0;
  Rollouts greedy = sampler.Sample(kPrompts, o);
  o.sampling.temperature = 1e-4;
  Rollouts cold = sampler.Sample(kPrompts, o);
  EXPECT_TRUE(torch::equal(greedy.completion_ids, cold.completion_ids));

  // Greedy by hand: argmax of a full forward, token by token.
  torch::NoGradGuard no_grad;
  std::vector<int64_t> seq(kPrompts[0].begin(), kPrompts[0].end());
  for (int step = 0; step < o.max_new_tokens; ++step) {
    auto ids = torch::tensor(seq).unsqueeze(0);
    auto logits = model->ForwardLogits(ids, torch::ones_like(ids, torch::kBool));
    seq.push_back(logits[0][-1].argmax().item<int64_t>());
  }
  std::vector<int64_t> expected(seq.begin() + kPrompts[0].size(), seq.end());
  EXPECT_EQ(RowTokens(greedy, 0), expected);
  EXPECT_EQ(RowTokens(greedy, 1), expected);
}

TEST(GroupSamplerTest, EosThatIsAlsoPadIsMarkedStop) {
  CausalLm model = MakeRandomModel(TinyQwen2Config(), 23);
  GroupSampler sampler(model, nullptr);
  GroupSamplerOptions o = BaseOptions();
  o.sampling.temperature = 0.0;
  // Find the greedy first token, then make it the second EOS id and the pad id.
  Rollouts probe = sampler.Sample({kPrompts[0]}, o);
  const int32_t b = static_cast<int32_t>(probe.completion_ids[0][0].item<int64_t>());
  const int32_t a = b == 40 ? 41 : 40;
  o.eos_ids = {a, b};
  o.pad_id = b;
  Rollouts r = sampler.Sample({kPrompts[0]}, o);
  ASSERT_EQ(r.completion_lengths[0], 1);
  EXPECT_EQ(r.finish_reasons[0], FinishReason::kStop);
  EXPECT_EQ(r.completion_ids[0][0].item<int64_t>(), b);
  EXPECT_TRUE(r.completion_mask[0][0].item<bool>());
  for (int64_t j = 1; j < r.completion_mask.size(1); ++j) {
    EXPECT_FALSE(r.completion_mask[0][j].item<bool>());
  }
  // The same prompt with no EOS runs to the length limit.
  o.eos_ids = {};
  Rollouts long_run = sampler.Sample({kPrompts[0]}, o);
  EXPECT_EQ(long_run.finish_reasons[0], FinishReason::kLength);
  EXPECT_EQ(long_run.completion_lengths[0], o.max_new_tokens);
}

TEST(GroupSamplerTest, SampledLogprobsMatchScorer) {
  CausalLm model = MakeRandomModel(TinyQwen2Config(), 24);
  GroupSampler sampler(model, nullptr);
  GroupSamplerOptions o = BaseOptions();
  o.sampling.temperature = 0.8;
  Rollouts r = sampler.Sample(kPrompts, o);
  torch::NoGradGuard no_grad;
  auto ids = torch::cat({r.prompt_ids, r.completion_ids}, 1);
  auto valid = torch::cat({r.prompt_mask, r.completion_mask}, 1);
  auto logits = model->ForwardLogits(ids, valid);
  const int64_t p = r.prompt_ids.size(1);
  auto log_probs = (logits / 0.8).log_softmax(-1);
  for (int64_t row = 0; row < 8; ++row) {
    for (int64_t j = 0; j < r.completion_lengths[row]; ++j) {
      int64_t token = r.completion_ids[row][j].item<int64_t>();
      EXPECT_NEAR(r.sampled_logprobs[row][j].item<double>(),
                  log_probs[row][p + j - 1][token].item<double>(), 1e-4);
    }
  }
}

}  // namespace
}  // namespace aha

namespace aha {
namespace {

// A tokenizer whose token i decodes to the letter 'a' + i, for stop-string tests.
class LetterTokenizer : public Tokenizer {
 public:
  std::vector<int32_t> Encode(std::string_view text) const override {
    std::vector<int32_t> ids;
    for (char c : text) ids.push_back(c - 'a');
    return ids;
  }
  std::string DecodeBytes(absl::Span<const int32_t> ids, bool) const override {
    std::string text;
    for (int32_t id : ids) text += static_cast<char>('a' + id % 26);
    return text;
  }
  int32_t VocabSize() const override { return 50; }
  std::optional<int32_t> TokenToId(std::string_view) const override { return std::nullopt; }
  std::optional<std::string> IdToToken(int32_t id) const override { return DecodeBytes({id}, false); }
  bool IsSpecial(int32_t) const override { return false; }
  const SpecialTokens& special_tokens() const override { return special_; }

 private:
  SpecialTokens special_;
};

TEST(GroupSamplerTest, StopStringEndsSampleWithStopReason) {
  CausalLm model = testing::MakeRandomModel(testing::TinyQwen2Config(), 25);
  LetterTokenizer tokenizer;
  GroupSampler sampler(model, &tokenizer);
  GroupSamplerOptions o = BaseOptions();
  o.sampling.temperature = 0.0;
  o.group_size = 1;
  Rollouts free_run = sampler.Sample({kPrompts[0]}, o);
  ASSERT_GE(free_run.completion_lengths[0], 4);
  // Use the text of greedy tokens 2 and 3 as the stop string: the sample must end at token 3.
  std::string text;
  for (int j = 0; j < 4; ++j) {
    text += tokenizer.Decode({static_cast<int32_t>(free_run.completion_ids[0][j].item<int64_t>())});
  }
  const std::string stop = text.substr(2, 2);
  ASSERT_EQ(text.find(stop), 2u) << "the stop string must first occur at tokens 2 and 3";
  o.stop_strings = {stop};
  Rollouts stopped = sampler.Sample({kPrompts[0]}, o);
  EXPECT_EQ(stopped.completion_lengths[0], 4);
  EXPECT_EQ(stopped.finish_reasons[0], FinishReason::kStop);
  for (int64_t j = 0; j < 4; ++j) {
    EXPECT_EQ(stopped.completion_ids[0][j].item<int64_t>(),
              free_run.completion_ids[0][j].item<int64_t>());
  }
}


TEST(GroupSamplerTest, RowsStopWhereTheContextIsFull) {
  // max_position_embeddings is no weight shape, so both models get the same weights.
  ModelConfig config = TinyQwen2Config();
  CausalLm unlimited = MakeRandomModel(config, 31);
  config.max_position_embeddings = 10;
  CausalLm limited = MakeRandomModel(config, 31);
  GroupSamplerOptions o = BaseOptions();  // 12 new tokens, no EOS
  Rollouts full = GroupSampler(unlimited, nullptr).Sample(kPrompts, o);
  Rollouts cut = GroupSampler(limited, nullptr).Sample(kPrompts, o);

  // Prompts of 5 and 3 tokens leave 5 and 7 completion tokens in a context of 10.
  EXPECT_EQ(full.context_stops, 0);
  EXPECT_EQ(cut.context_stops, 2 * o.group_size);
  for (int64_t row = 0; row < 2 * o.group_size; ++row) {
    const int64_t room = row < o.group_size ? 5 : 7;
    ASSERT_EQ(cut.completion_lengths[row], room) << "row " << row;
    EXPECT_EQ(cut.finish_reasons[row], FinishReason::kLength);
    std::vector<int64_t> prefix = RowTokens(full, row);
    prefix.resize(room);
    EXPECT_EQ(RowTokens(cut, row), prefix) << "row " << row;
  }

  // A max_new_tokens far beyond the context allocates caches for the context only.
  o.max_new_tokens = int64_t{1} << 40;
  Rollouts huge = GroupSampler(limited, nullptr).Sample(kPrompts, o);
  EXPECT_EQ(huge.completion_lengths, cut.completion_lengths);

  // A max_new_tokens that ends exactly at the context is no context stop.
  o.max_new_tokens = 5;
  Rollouts exact = GroupSampler(limited, nullptr).Sample({kPrompts[0]}, o);
  EXPECT_EQ(exact.context_stops, 0);
  EXPECT_EQ(exact.completion_lengths[0], 5);
}

TEST(GroupSamplerTest, PromptThatFillsTheContextIsAnError) {
  ModelConfig config = TinyQwen2Config();
  config.max_position_embeddings = 10;
  EXPECT_TRUE(CheckPromptFitsContext(9, config, "example 7").ok());
  absl::Status status = CheckPromptFitsContext(10, config, "example 7");
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.message().find("example 7: the prompt has 10 tokens"), std::string::npos)
      << status.message();
  EXPECT_NE(status.message().find("max_position_embeddings"), std::string::npos);
  config.max_position_embeddings = 0;  // unknown: no limit
  EXPECT_TRUE(CheckPromptFitsContext(100000, config, "example 7").ok());
}

}  // namespace
}  // namespace aha
