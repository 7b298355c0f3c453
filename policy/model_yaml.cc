#include "policy/model_yaml.h"

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"

namespace aha {
namespace {

absl::StatusOr<CharTokenizer> ParseCharTokenizer(YamlMap& section) {
  std::string type = "char";
  std::vector<std::string> added = {"<|endoftext|>"};
  std::string alphabet;
  std::vector<std::string> non_special;
  RETURN_IF_ERROR(section.Read("type", type));
  if (type != "char") {
    return section.Error("type", "must be 'char' for a new model; a byte-level BPE "
                                 "tokenizer comes with a Hugging Face model folder");
  }
  RETURN_IF_ERROR(section.Read("added_tokens", added));
  RETURN_IF_ERROR(section.Require("alphabet", alphabet));
  RETURN_IF_ERROR(section.Read("non_special", non_special));
  RETURN_IF_ERROR(section.CheckAllKeysRead());
  auto tokenizer = CharTokenizer::FromAlphabet(added, alphabet, non_special);
  if (!tokenizer.ok()) {
    return section.Error("alphabet", std::string(tokenizer.status().message()));
  }
  return tokenizer;
}

}  // namespace

absl::StatusOr<NewModelSpec> ParseNewModelSpec(YamlMap& root) {
  ASSIGN_OR_RETURN(YamlMap tokenizer_section, root.Child("tokenizer"));
  ASSIGN_OR_RETURN(CharTokenizer tokenizer, ParseCharTokenizer(tokenizer_section));
  NewModelSpec spec{ModelConfig{}, std::move(tokenizer)};
  ModelConfig& c = spec.config;
  ASSIGN_OR_RETURN(YamlMap m, root.Child("model"));
  RETURN_IF_ERROR(m.Read("architecture", c.architecture));
  if (c.architecture == "Qwen2ForCausalLM") {
    c.model_type = "qwen2";
    c.attention_bias = true;
  } else if (c.architecture == "Qwen3ForCausalLM") {
    c.model_type = "qwen3";
    c.qk_norm = true;
  } else if (c.architecture == "LlamaForCausalLM") {
    c.model_type = "llama";
  } else {
    return m.Error("architecture", absl::StrCat("must be Qwen2ForCausalLM, Qwen3ForCausalLM or "
                                                "LlamaForCausalLM, got '", c.architecture,
                                                "'"));
  }
  RETURN_IF_ERROR(m.Require("hidden_size", c.hidden_size));
  RETURN_IF_ERROR(m.Require("intermediate_size", c.intermediate_size));
  RETURN_IF_ERROR(m.Require("num_hidden_layers", c.num_hidden_layers));
  RETURN_IF_ERROR(m.Require("num_attention_heads", c.num_attention_heads));
  c.num_key_value_heads = c.num_attention_heads;
  RETURN_IF_ERROR(m.Read("num_key_value_heads", c.num_key_value_heads));
  if (c.num_attention_heads > 0) c.head_dim = c.hidden_size / c.num_attention_heads;
  RETURN_IF_ERROR(m.Read("head_dim", c.head_dim));
  RETURN_IF_ERROR(m.Require("max_position_embeddings", c.max_position_embeddings));
  RETURN_IF_ERROR(m.Read("rms_norm_eps", c.rms_norm_eps));
  RETURN_IF_ERROR(m.Read("rope_theta", c.rope_theta));
  c.tie_word_embeddings = true;
  RETURN_IF_ERROR(m.Read("tie_word_embeddings", c.tie_word_embeddings));
  RETURN_IF_ERROR(m.Read("init_std", spec.init_std));
  int64_t seed = 0;
  RETURN_IF_ERROR(m.Read("seed", seed));
  spec.seed = static_cast<uint64_t>(seed);
  RETURN_IF_ERROR(m.CheckAllKeysRead());
  if (spec.init_std <= 0) return m.Error("init_std", "must be positive");

  c.vocab_size = spec.tokenizer.VocabSize();
  const SpecialTokens& special = spec.tokenizer.special_tokens();
  for (int32_t id : special.eos_ids) c.eos_token_ids.push_back(id);
  if (special.bos_id) c.bos_token_id = *special.bos_id;
  if (special.pad_id) c.pad_token_id = *special.pad_id;
  RETURN_IF_ERROR(ValidateModelConfig(c, root.file()));
  return spec;
}

}  // namespace aha
