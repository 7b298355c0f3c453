#!/usr/bin/env python3
"""Generate the Hugging Face parity fixtures in tests/fixtures/hf.

Each fixture folder contains a tiny random model saved by transformers (config.json,
model.safetensors, generation_config.json), a character vocab.json so that aha's LoadPolicy
finds a tokenizer, and expected.safetensors with transformers' outputs for fixed inputs:

  input_ids       (N, T) int64, left-padded with id 0
  attention_mask  (N, T) int64, 1 on real tokens
  position_ids    (N, T) int64, counting from 0 at each row's first real token
  logits          (N, T, V) float32, transformers' forward pass on those inputs
  greedy_ids      (N, 12) int64, generate(do_sample=False) continuation of each row

The llama3 fixture also contains offset_input_ids (1, T), offset_position_ids (1, T) starting at
3000 and offset_logits (1, T, V), to check the Llama 3 RoPE scaling at large positions, plus
offset_logits_float64_angles: the same forward pass with the rotary angles computed in float64.

The output is deterministic for a given torch and transformers version (seeded weights and
inputs). tests/policy/hf_parity_test.cc compares aha against these files.

Usage: python3 scripts/make_hf_fixtures.py [--out tests/fixtures/hf]
       python3 scripts/make_hf_fixtures.py --compare-saved DIR
Needs: pip install torch transformers safetensors
"""
import argparse
import json
import math
import os
import shutil
import sys

import torch
import transformers
from safetensors.torch import load_file, save_file
from transformers import (AutoModelForCausalLM, LlamaConfig, LlamaForCausalLM, Qwen2Config,
                          Qwen2ForCausalLM, Qwen3Config, Qwen3ForCausalLM)

VOCAB_SIZE = 128
NEW_TOKENS = 12
PAD_ID = 0
# No generated token may be this id, so generation never stops early. The vocab.json names it
# as the tokenizer's EOS, and aha's test passes the same id.
UNUSED_EOS_ID = VOCAB_SIZE - 1
# Greedy decoding is compared token for token, so each step's best logit must beat the second
# by more than the expected numeric difference between two implementations.
MIN_GREEDY_MARGIN = 1e-3
OFFSET_START = 3000
SEED_ATTEMPTS = 20


class SeedRejected(Exception):
    """The seeded model or input would make a weak or flaky fixture; the next seed is tried."""


def qwen2_model():
    """Qwen2: q/k/v bias, 4 query heads on 2 key/value heads, tied embeddings."""
    config = Qwen2Config(
        vocab_size=VOCAB_SIZE, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
        rope_theta=10000.0, rms_norm_eps=1e-6, tie_word_embeddings=True)
    return Qwen2ForCausalLM(config)


def qwen3_model():
    """Qwen3: q/k RMSNorm, head_dim 16 although hidden / heads is 8, untied lm_head."""
    config = Qwen3Config(
        vocab_size=VOCAB_SIZE, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, head_dim=16, max_position_embeddings=256,
        rope_theta=1000000.0, rms_norm_eps=1e-6, tie_word_embeddings=False)
    return Qwen3ForCausalLM(config)


def llama3_model():
    """Llama with Llama 3.1 RoPE scaling, rope_theta 500000 and an untied lm_head."""
    rope = {"rope_type": "llama3", "rope_theta": 500000.0, "factor": 8.0,
            "low_freq_factor": 1.0, "high_freq_factor": 4.0,
            "original_max_position_embeddings": 512}
    config = LlamaConfig(
        vocab_size=VOCAB_SIZE, hidden_size=64, intermediate_size=96, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, head_dim=16, max_position_embeddings=4096,
        rms_norm_eps=1e-5, tie_word_embeddings=False, rope_theta=500000.0, rope_scaling=rope,
        rope_parameters=rope)
    return LlamaForCausalLM(config)


# name: (builder, first seed tried, saved dtype, row lengths, with offset logits)
FIXTURES = {
    "qwen2": (qwen2_model, 11, torch.float32, (40, 23), False),
    "qwen3": (qwen3_model, 12, torch.float32, (37, 9), False),
    "qwen3_bf16": (qwen3_model, 13, torch.bfloat16, (30, 17), False),
    "llama3": (llama3_model, 14, torch.float32, (100, 61), True),
}


def randomize(model, generator):
    """Replace transformers' small initial weights with larger random ones.

    With the default std of 0.02 every logit is close to zero, so neither a logit difference
    nor a greedy choice would reveal a wrong layer. Norm weights are drawn away from 1 so that
    a missing or misapplied norm weight changes the output.
    """
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if parameter.dim() == 1 and "norm" in name:
                parameter.copy_(torch.empty_like(parameter).uniform_(0.5, 1.5, generator=generator))
            elif parameter.dim() == 1:
                parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.2)
            else:
                fan_in = parameter.shape[1]
                parameter.copy_(torch.randn(parameter.shape, generator=generator) / fan_in ** 0.5)
        # The embedding matrix also serves as the output projection when tied: a larger scale
        # gives logits of a few units.
        model.get_input_embeddings().weight.mul_(2.0)


def llama3_inverse_frequencies(config):
    """Llama 3.1 scaled RoPE inverse frequencies in float64 (D/2).

    The formula of transformers' _compute_llama3_parameters, which computes it in float32.
    """
    rope = config.rope_parameters
    dim = config.head_dim
    inv_freq = 1.0 / rope["rope_theta"] ** (torch.arange(0, dim, 2, dtype=torch.float64) / dim)
    old_context = rope["original_max_position_embeddings"]
    low_freq_wavelen = old_context / rope["low_freq_factor"]
    high_freq_wavelen = old_context / rope["high_freq_factor"]
    wavelen = 2 * math.pi / inv_freq
    scaled = torch.where(wavelen > low_freq_wavelen, inv_freq / rope["factor"], inv_freq)
    smooth = ((old_context / wavelen - rope["low_freq_factor"])
              / (rope["high_freq_factor"] - rope["low_freq_factor"]))
    smoothed = (1 - smooth) * scaled / rope["factor"] + smooth * scaled
    is_medium = (wavelen >= high_freq_wavelen) & (wavelen <= low_freq_wavelen)
    return torch.where(is_medium, smoothed, scaled)


def use_float64_rope_angles(model):
    """Make the model's rotary embedding compute pos * inv_freq in float64, as aha does.

    transformers rounds the angle to float32, whose spacing near 3000 radians is 2.4e-4, so at
    large positions its logits differ from aha's by up to about 1e-4 for that reason alone.
    Only the cos/sin results are rounded to float32 here.
    """
    rotary = model.model.rotary_emb
    inv_freq = llama3_inverse_frequencies(model.config)

    def forward(x, position_ids):
        angles = position_ids[..., None].double() * inv_freq  # (N, T, D/2)
        full = torch.cat((angles, angles), dim=-1)            # (N, T, D)
        return full.cos().float().to(x.dtype), full.sin().float().to(x.dtype)

    rotary.forward = forward


def left_pad(rows):
    """Left-pad rows of ids. Returns input_ids, attention_mask and position_ids (N, T)."""
    width = max(len(row) for row in rows)
    input_ids = torch.full((len(rows), width), PAD_ID, dtype=torch.long)
    attention_mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        input_ids[i, width - len(row):] = torch.tensor(row)
        attention_mask[i, width - len(row):] = 1
    position_ids = (attention_mask.cumsum(-1) - 1).clamp(min=0)
    return input_ids, attention_mask, position_ids


def greedy_continuations(model, input_ids, attention_mask):
    """Run generate(do_sample=False) and check that no step is a near tie."""
    output = model.generate(
        input_ids=input_ids, attention_mask=attention_mask, do_sample=False,
        max_new_tokens=NEW_TOKENS, min_new_tokens=NEW_TOKENS, eos_token_id=None,
        pad_token_id=PAD_ID, output_scores=True, return_dict_in_generate=True)
    new_ids = output.sequences[:, input_ids.shape[1]:]
    for step, scores in enumerate(output.scores):
        top2 = scores.float().topk(2, dim=-1).values
        margin = (top2[:, 0] - top2[:, 1]).min().item()
        if margin < MIN_GREEDY_MARGIN:
            raise SeedRejected(f"greedy step {step} has a top-2 margin of {margin:.2e}")
    if (new_ids == UNUSED_EOS_ID).any():
        raise SeedRejected(f"generation produced the reserved EOS id {UNUSED_EOS_ID}")
    return new_ids


def check_padding_invariance(model, rows, padded_new_ids):
    """Each row generated alone, without padding, must continue the same way."""
    for i, row in enumerate(rows):
        ids = torch.tensor([row])
        alone = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids),
                               do_sample=False, max_new_tokens=NEW_TOKENS,
                               min_new_tokens=NEW_TOKENS, eos_token_id=None, pad_token_id=PAD_ID)
        if not torch.equal(alone[0, ids.shape[1]:], padded_new_ids[i]):
            sys.exit(f"row {i}: generation with left padding differs from generation alone")


def write_vocab(folder):
    """Write a character vocabulary for aha's tokenizer loader. No test encodes text."""
    tokens = ["<|endoftext|>", "<unk>"] + [chr(code) for code in range(33, 127)]
    tokens += [f"<extra_{i}>" for i in range(VOCAB_SIZE - len(tokens) - 1)] + ["<eos>"]
    assert len(tokens) == VOCAB_SIZE
    assert tokens.index("<eos>") == UNUSED_EOS_ID
    vocab = {"type": "char", "tokens": tokens, "special": ["<|endoftext|>", "<unk>"],
             "bos": None, "eos": ["<eos>"], "pad": "<|endoftext|>", "unk": "<unk>"}
    with open(os.path.join(folder, "vocab.json"), "w", encoding="utf-8") as out:
        json.dump(vocab, out, ensure_ascii=False, indent=1)
        out.write("\n")


def make_fixture(out_dir, name, builder, seed, dtype, lengths, with_offset):
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    model = builder()
    randomize(model, generator)
    model.generation_config.eos_token_id = None
    model.generation_config.pad_token_id = PAD_ID

    folder = os.path.join(out_dir, name)
    shutil.rmtree(folder, ignore_errors=True)
    model.to(dtype).save_pretrained(folder, safe_serialization=True)
    write_vocab(folder)

    # The reference is the saved folder read back in float32, so a bfloat16 fixture compares
    # aha's dtype conversion against transformers' on the same stored bits.
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()

    # Ids from 1 to V-2: never the pad id 0 and never the reserved EOS id.
    rows = [torch.randint(1, VOCAB_SIZE - 1, (length,), generator=generator).tolist()
            for length in lengths]
    input_ids, attention_mask, position_ids = left_pad(rows)
    with torch.no_grad():
        logits = model(input_ids=input_ids, attention_mask=attention_mask,
                       position_ids=position_ids).logits.float()
        new_ids = greedy_continuations(model, input_ids, attention_mask)
        check_padding_invariance(model, rows, new_ids)

    expected = {"input_ids": input_ids, "attention_mask": attention_mask,
                "position_ids": position_ids, "logits": logits.contiguous(),
                "greedy_ids": new_ids.contiguous()}
    if with_offset:
        offset_ids = torch.tensor([rows[0]])
        offset_positions = torch.arange(len(rows[0])).unsqueeze(0) + OFFSET_START
        with torch.no_grad():
            offset_logits = model(input_ids=offset_ids, position_ids=offset_positions).logits
            use_float64_rope_angles(model)
            offset_logits_64 = model(input_ids=offset_ids, position_ids=offset_positions).logits
        expected.update({"offset_input_ids": offset_ids, "offset_position_ids": offset_positions,
                         "offset_logits": offset_logits.float().contiguous(),
                         "offset_logits_float64_angles": offset_logits_64.float().contiguous()})
    # One metadata key, because the safetensors writer orders several keys differently from
    # run to run and the file would change on every regeneration.
    metadata = {"generator": f"scripts/make_hf_fixtures.py with transformers "
                             f"{transformers.__version__} and torch {torch.__version__}"}
    save_file(expected, os.path.join(folder, "expected.safetensors"), metadata=metadata)
    size = sum(os.path.getsize(os.path.join(folder, f)) for f in os.listdir(folder))
    print(f"{name}: {type(model).__name__}, seed {seed}, saved {dtype}, rows {list(lengths)}, "
          f"{size / 1024:.0f} KiB")


def compare_saved(saved_dir, fixtures_dir):
    """Load the folders aha saved from the fixtures into transformers and compare logits.

    hf_parity_test writes them under saved_dir when AHA_HF_PARITY_EXPORT_DIR is set. Returns
    the number of folders that failed to load cleanly or to reproduce the fixture's logits.
    """
    failures = 0
    for name in FIXTURES:
        folder = os.path.join(saved_dir, name)
        if not os.path.isdir(folder):
            print(f"{name}: {folder} not found, skipped")
            continue
        model, info = AutoModelForCausalLM.from_pretrained(
            folder, dtype=torch.float32, output_loading_info=True)
        problems = {kind: info[kind] for kind in ("missing_keys", "unexpected_keys",
                                                  "mismatched_keys") if info.get(kind)}
        expected = load_file(os.path.join(fixtures_dir, name, "expected.safetensors"))
        with torch.no_grad():
            logits = model.eval()(input_ids=expected["input_ids"],
                                  attention_mask=expected["attention_mask"],
                                  position_ids=expected["position_ids"]).logits
        valid = expected["attention_mask"].bool()
        diff = (logits - expected["logits"]).abs().amax(-1)[valid].max().item()
        ok = not problems and diff <= 1e-5
        failures += not ok
        print(f"{name}: {type(model).__name__} from {folder}: loading problems {problems or 'none'}, "
              f"max abs logit difference to the fixture {diff:.3g}: {'OK' if ok else 'FAILED'}")
    return failures


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "hf"),
        help="output folder (default: tests/fixtures/hf in this repository)")
    parser.add_argument("--compare-saved", metavar="DIR",
                        help="instead of generating, load the folders that hf_parity_test saved "
                             "under DIR (AHA_HF_PARITY_EXPORT_DIR) and compare their logits "
                             "with the fixtures in --out")
    args = parser.parse_args()
    if args.compare_saved:
        return 1 if compare_saved(args.compare_saved, args.out) else 0
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    transformers.utils.logging.disable_progress_bar()
    for name, (builder, first_seed, dtype, lengths, with_offset) in FIXTURES.items():
        for seed in range(first_seed, first_seed + 1000 * SEED_ATTEMPTS, 1000):
            try:
                make_fixture(args.out, name, builder, seed, dtype, lengths, with_offset)
                break
            except SeedRejected as reason:
                print(f"{name}: seed {seed} rejected: {reason}")
        else:
            print(f"{name}: no usable seed in {SEED_ATTEMPTS} attempts", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
