#!/usr/bin/env python3
"""Check that transformers loads a model folder with no missing or unexpected weights.

Loads MODEL_DIR with AutoModelForCausalLM.from_pretrained on the CPU, captures transformers'
log output and its loading report, and exits 1 when any weight is missing, unexpected or
mismatched in shape. With --logits-json PATH it also writes the float32 logits for a fixed
input, so a C++ forward pass can be compared with the reference.

Usage: python3 scripts/check_hf_load.py MODEL_DIR [--logits-json PATH] [--input-ids 1,2,3]
Needs: pip install torch transformers safetensors
"""
import argparse
import io
import json
import logging
import sys

import torch
import transformers
from transformers import AutoConfig, AutoModelForCausalLM

# Phrases transformers logs when weights and module disagree (4.x and 5.x wordings).
PROBLEM_PHRASES = (
    "were not used when initializing",
    "were not initialized from the model checkpoint",
    "newly initialized",
    "missing",
    "unexpected",
    "mismatched",
)


def load_with_captured_log(model_dir):
    """Load the model and return it with the captured log text and the loading report."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setLevel(logging.WARNING)
    logger = logging.getLogger("transformers")
    logger.addHandler(handler)
    previous_verbosity = transformers.logging.get_verbosity()
    transformers.logging.set_verbosity_warning()
    try:
        model, info = AutoModelForCausalLM.from_pretrained(
            model_dir, dtype=torch.float32, output_loading_info=True
        )
    finally:
        logger.removeHandler(handler)
        transformers.logging.set_verbosity(previous_verbosity)
    return model, stream.getvalue(), info


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_dir", help="folder with config.json and safetensors weights")
    parser.add_argument("--logits-json", help="write logits for --input-ids to this JSON file")
    parser.add_argument("--input-ids", default="1,5,9,2,7,3",
                        help="comma-separated token ids of the fixed input (default: %(default)s)")
    args = parser.parse_args()

    config = AutoConfig.from_pretrained(args.model_dir)
    model, log_text, info = load_with_captured_log(args.model_dir)

    problems = []
    for kind in ("missing_keys", "unexpected_keys", "mismatched_keys"):
        if info.get(kind):
            problems.append(f"{kind}: {sorted(map(str, info[kind]))}")
    for line in log_text.splitlines():
        if any(phrase in line.lower() for phrase in PROBLEM_PHRASES):
            problems.append(f"log: {line}")

    print(f"architecture: {type(model).__name__}, model_type: {config.model_type}, "
          f"parameters: {sum(p.numel() for p in model.parameters())}")
    if problems:
        print(f"FAILED: {args.model_dir} did not load cleanly:", file=sys.stderr)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        return 1

    if args.logits_json:
        input_ids = torch.tensor([[int(token) for token in args.input_ids.split(",")]])
        with torch.no_grad():
            logits = model(input_ids=input_ids).logits[0].float()  # (T, V)
        with open(args.logits_json, "w") as out:
            json.dump({"input_ids": input_ids[0].tolist(), "logits": logits.tolist()}, out)
        print(f"wrote logits {list(logits.shape)} to {args.logits_json}")
    print(f"OK: {args.model_dir} loaded with no missing, unexpected or mismatched weights")
    return 0


if __name__ == "__main__":
    sys.exit(main())
