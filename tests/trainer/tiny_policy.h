// A tiny character-level policy for the LM training and evaluation tests.
#ifndef AHA_TESTS_TRAINER_TINY_POLICY_H_
#define AHA_TESTS_TRAINER_TINY_POLICY_H_

#include <memory>
#include <string>

#include <torch/torch.h>

#include "policy/char_tokenizer.h"
#include "policy/policy_io.h"
#include "policy/transformer.h"

namespace aha::testing {

// Lower-case letters, digits and a little punctuation; "<|endoftext|>" is EOS and pad.
inline std::unique_ptr<CharTokenizer> MakeTinyTokenizer() {
  auto tokenizer = CharTokenizer::FromAlphabet({"<|endoftext|>"},
                                               "abcdefghijklmnopqrstuvwxyz0123456789 .,!?=+-*/");
  return std::make_unique<CharTokenizer>(*std::move(tokenizer));
}

// A 2-layer Qwen2-shaped model over `vocab_size` ids with seeded weights.
inline CausalLm MakeTinyModel(int64_t vocab_size, uint64_t seed, int64_t hidden_size = 32) {
  ModelConfig c;
  c.architecture = "Qwen2ForCausalLM";
  c.model_type = "qwen2";
  c.vocab_size = vocab_size;
  c.hidden_size = hidden_size;
  c.intermediate_size = 2 * hidden_size;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.head_dim = hidden_size / 4;
  c.max_position_embeddings = 256;
  c.attention_bias = true;
  c.tie_word_embeddings = true;
  CausalLm model(c);
  InitializeWeights(*model, 0.1, seed);
  return model;
}

inline Policy MakeTinyPolicy(uint64_t seed) {
  Policy policy;
  policy.tokenizer = MakeTinyTokenizer();
  policy.model = MakeTinyModel(policy.tokenizer->VocabSize(), seed);
  policy.config = policy.model->config();
  return policy;
}

}  // namespace aha::testing

#endif  // AHA_TESTS_TRAINER_TINY_POLICY_H_
