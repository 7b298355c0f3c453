#include "bench/policy_shapes.h"

#include <random>

#include <torch/torch.h>

#include "base/status_macros.h"
#include "bench/bench_common.h"
#include "policy/token_scoring.h"

namespace aha::bench {

ModelConfig TinyDemoConfig(int64_t hidden_size, int64_t layers) {
  ModelConfig c;
  c.vocab_size = 64;
  c.hidden_size = hidden_size;
  c.intermediate_size = 3 * hidden_size;
  c.num_hidden_layers = layers;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.head_dim = hidden_size / 4;
  c.max_position_embeddings = 2048;
  c.attention_bias = true;
  c.tie_word_embeddings = true;
  return c;
}

ModelConfig Qwen05bShapedConfig() {
  ModelConfig c;
  c.vocab_size = 151936;
  c.hidden_size = 896;
  c.intermediate_size = 4864;
  c.num_hidden_layers = 24;
  c.num_attention_heads = 14;
  c.num_key_value_heads = 2;
  c.head_dim = 64;
  c.max_position_embeddings = 32768;
  c.rope_theta = 1000000.0;
  c.attention_bias = true;
  c.tie_word_embeddings = true;
  return c;
}

std::vector<cli::FlagSpec> ShapeFlagSpecs(const std::string& default_model) {
  return {
      {"model", "tiny, qwen0.5b or both (default " + default_model + ")"},
      {"tiny-hidden", "hidden size of the tiny model; head size is hidden / 4 (default 256)"},
      {"tiny-layers", "layers of the tiny model (default 6)"},
  };
}

absl::StatusOr<std::vector<NamedShape>> ReadShapes(const cli::ParsedFlags& flags,
                                                   const std::string& default_model) {
  ASSIGN_OR_RETURN(int64_t hidden, GetPositive(flags, "tiny-hidden", 256));
  ASSIGN_OR_RETURN(int64_t layers, GetPositive(flags, "tiny-layers", 6));
  if (hidden % 8 != 0) {
    return absl::InvalidArgumentError(
        "--tiny-hidden must be a multiple of 8 (4 heads of an even size), got " +
        std::to_string(hidden));
  }
  const std::string model = flags.GetOr("model", default_model);
  std::vector<NamedShape> shapes;
  if (model == "tiny" || model == "both") {
    shapes.push_back({"tiny E" + std::to_string(hidden) + " L" + std::to_string(layers),
                      TinyDemoConfig(hidden, layers)});
  }
  if (model == "qwen0.5b" || model == "both") {
    shapes.push_back({"qwen0.5b-shaped", Qwen05bShapedConfig()});
  }
  if (shapes.empty()) {
    return absl::InvalidArgumentError("--model must be tiny, qwen0.5b or both, got '" + model +
                                      "'");
  }
  return shapes;
}

CausalLm MakeBenchModel(const ModelConfig& config, torch::ScalarType dtype, uint64_t seed) {
  torch::manual_seed(seed);
  CausalLm model(config);
  model->to(dtype);
  model->eval();
  return model;
}

std::vector<std::vector<int32_t>> RandomPrompts(int64_t count, int64_t length, int64_t vocab,
                                                uint64_t seed) {
  std::mt19937_64 engine(seed);
  std::uniform_int_distribution<int32_t> token(0, static_cast<int32_t>(vocab - 1));
  std::vector<std::vector<int32_t>> prompts(count, std::vector<int32_t>(length));
  for (auto& prompt : prompts) {
    for (int32_t& id : prompt) id = token(engine);
  }
  return prompts;
}

int64_t LayerMatmulWeights(const ModelConfig& c) {
  const int64_t q = c.num_attention_heads * c.head_dim;
  const int64_t kv = c.num_key_value_heads * c.head_dim;
  return c.num_hidden_layers *
         (c.hidden_size * q + 2 * c.hidden_size * kv + q * c.hidden_size +
          3 * c.hidden_size * c.intermediate_size);
}

int64_t ParameterCount(CausalLm& model) {
  int64_t count = 0;
  for (const auto& p : model->parameters()) count += p.numel();
  return count;
}

double ForwardFlops(const ModelConfig& c, double tokens, double key_span, double logit_tokens) {
  const double layers = 2.0 * tokens * static_cast<double>(LayerMatmulWeights(c));
  const double attention = 4.0 * c.num_hidden_layers * c.num_attention_heads * c.head_dim *
                           tokens * key_span;
  const double output = 2.0 * c.hidden_size * c.vocab_size * logit_tokens;
  return layers + attention + output;
}

bool LogitsRecomputed(const ModelConfig& c, int64_t scored_tokens) {
  return scored_tokens * c.vocab_size > kMaxSavedLogProbElements;
}

namespace {

// Output projection FLOPs of forward + backward for `scored` tokens.
double OutputTrainFlops(const ModelConfig& c, int64_t scored) {
  const double passes = LogitsRecomputed(c, scored) ? 8.0 : 6.0;
  return passes * c.hidden_size * c.vocab_size * static_cast<double>(scored);
}

}  // namespace

double TrainStepFlops(const ModelConfig& c, int64_t rows, int64_t tokens, int64_t scored) {
  const double all_tokens = static_cast<double>(rows) * tokens;
  const double layers_forward = ForwardFlops(c, all_tokens, tokens, 0);
  return 3.0 * layers_forward + OutputTrainFlops(c, rows * scored);
}

namespace {

// The layers of ScoreCompletions' forward pass, without the output projection.
double SharedPromptLayerFlops(const ModelConfig& c, int64_t prompts, int64_t rows,
                              int64_t prompt_length, int64_t completion_length) {
  const double prompt_tokens = static_cast<double>(prompts) * prompt_length;
  const double completion_tokens = static_cast<double>(rows) * (completion_length - 1);
  return ForwardFlops(c, prompt_tokens, prompt_length, 0) +
         ForwardFlops(c, completion_tokens, prompt_length + completion_length - 1, 0);
}

}  // namespace

double SharedPromptTrainStepFlops(const ModelConfig& c, int64_t prompts, int64_t rows,
                                  int64_t prompt_length, int64_t completion_length) {
  return 3.0 * SharedPromptLayerFlops(c, prompts, rows, prompt_length, completion_length) +
         OutputTrainFlops(c, rows * completion_length);
}

double SharedPromptForwardFlops(const ModelConfig& c, int64_t prompts, int64_t rows,
                                int64_t prompt_length, int64_t completion_length) {
  const double output = 2.0 * c.hidden_size * c.vocab_size * rows * completion_length;
  return SharedPromptLayerFlops(c, prompts, rows, prompt_length, completion_length) + output;
}

double DecodeBytes(const ModelConfig& c, int64_t element_bytes, int64_t prompts, int64_t rows,
                   int64_t prompt_length, int64_t steps) {
  const double weights =
      static_cast<double>(LayerMatmulWeights(c)) + double(c.hidden_size) * c.vocab_size;
  // Keys and values of one token in all layers.
  const double kv_per_token = 2.0 * c.num_hidden_layers * c.num_key_value_heads * c.head_dim;
  // Step s (0-based) reads s + 1 completion entries per row.
  const double completion_entries = double(rows) * steps * (steps + 1) / 2.0;
  const double prefix_entries = double(prompts) * prompt_length * steps;
  return element_bytes * (weights * steps + kv_per_token * (completion_entries + prefix_entries));
}

}  // namespace aha::bench
