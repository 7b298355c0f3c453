#!/usr/bin/env python3
"""Write a tiny random Qwen2 model folder with a real Hugging Face tokenizer.

The model has the tokenizer's full vocabulary (151936 rows for Qwen's). So aha loads the folder
as it loads a downloaded Qwen2.5 checkpoint. A short `aha train` run on it exercises the real
tokenizer, the JSONL datasets and the rewards end to end in seconds. Its outputs are random
text.

Usage: python3 scripts/make_tiny_qwen2.py --tokenizer ../shared/tokenizers/qwen3 --out DIR
Needs: pip install torch transformers safetensors
"""
import argparse
import os
import shutil

import torch
from transformers import Qwen2Config, Qwen2ForCausalLM


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokenizer", required=True,
                        help="folder with tokenizer.json and tokenizer_config.json")
    parser.add_argument("--out", required=True, help="model folder to write")
    parser.add_argument("--vocab-size", type=int, default=151936,
                        help="embedding rows; at least the tokenizer's largest id + 1")
    args = parser.parse_args()

    torch.manual_seed(0)
    config = Qwen2Config(vocab_size=args.vocab_size, hidden_size=64, intermediate_size=128,
                         num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                         max_position_embeddings=1024, tie_word_embeddings=True)
    Qwen2ForCausalLM(config).save_pretrained(args.out, safe_serialization=True)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(os.path.join(args.tokenizer, name), os.path.join(args.out, name))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
