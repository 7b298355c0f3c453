#!/usr/bin/env python3
"""Time one GRPO step in aha, in TRL's GRPOTrainer and a rollout in transformers' generate.

The script runs build-*/bench/grpo_step_bench first. That bench writes a random model as a
Hugging Face folder (config.json, model.safetensors and aha's char vocab.json) and times
whole steps through aha's GrpoTrainer. Then, on the same folder and with the same B, G, P,
C, mu, dtype and threads, on CPU, it times:
  (a) transformers' `generate` for B prompts x G samples (num_return_sequences=G, sampling at
      temperature 1 with top-k and top-p off, min_new_tokens = max_new_tokens = C);
  (b) TRL's GRPOTrainer (no vLLM, beta 0, so no reference model, a trivial reward), counting
      one GRPO step as mu optimizer steps, the generation happening in the first of them.
The first step of each side is a warm-up and is not counted. It prints one table with the
aha/peer time ratios (above 1 means aha is faster).

The tokenizer: aha's char vocab.json becomes a `tokenizers` WordLevel model over single
characters with a Fuse decoder. The prompts are digit strings, one token per digit in both.

Usage (the venv needs torch, transformers, trl and datasets):
  OMP_NUM_THREADS=2 OMP_WAIT_POLICY=passive /tmp/ckpt-venv/bin/python scripts/bench_peer.py \
      --bench build-perf/bench/grpo_step_bench --model tiny --batch 2 --group 8 \
      --prompt-len 64 --new-tokens 64 --updates 1 --steps 2
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bench", default="build-perf/bench/grpo_step_bench",
                        help="path of the grpo_step_bench binary")
    parser.add_argument("--model", choices=["tiny", "qwen0.5b"], default="tiny")
    parser.add_argument("--batch", type=int, default=2, help="B prompts per step")
    parser.add_argument("--group", type=int, default=8, help="G completions per prompt")
    parser.add_argument("--prompt-len", type=int, default=64, help="P prompt tokens")
    parser.add_argument("--new-tokens", type=int, default=64, help="C completion tokens")
    parser.add_argument("--updates", type=int, default=1, help="mu passes per rollout")
    parser.add_argument("--steps", type=int, default=2,
                        help="timed steps on each side, after one warm-up step")
    parser.add_argument("--threads", type=int, default=2, help="torch threads on each side")
    parser.add_argument("--dtype", choices=["fp32", "bf16"], default="fp32")
    parser.add_argument("--work-dir", default=None,
                        help="folder for the model, prompts and runs (default: a new temp dir)")
    parser.add_argument("--skip-trl", action="store_true", help="time only generate")
    return parser.parse_args()


def run_aha(args, work_dir):
    """Runs grpo_step_bench, which also writes the model folder; returns its JSON results."""
    json_path = os.path.join(work_dir, "aha.json")
    command = [args.bench, "--model", args.model, "--batch", str(args.batch),
               "--group", str(args.group), "--prompt-len", str(args.prompt_len),
               "--new-tokens", str(args.new_tokens), "--updates", str(args.updates),
               "--repeats", str(args.steps), "--warmup", "1",
               "--threads", str(args.threads), "--dtype", args.dtype,
               "--work-dir", os.path.join(work_dir, "aha"),
               "--save-hf", os.path.join(work_dir, "model"), "--json-out", json_path]
    print("$ " + " ".join(command), flush=True)
    subprocess.run(command, check=True)
    with open(json_path) as f:
        return json.load(f)


def load_tokenizer(model_dir):
    """Builds a transformers tokenizer from aha's char vocab.json (one token per character)."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    with open(os.path.join(model_dir, "vocab.json"), encoding="utf-8") as f:
        spec = json.load(f)
    if spec.get("type") != "char":
        sys.exit(f"{model_dir}/vocab.json: expected an aha char vocabulary, got type "
                 f"{spec.get('type')!r}")
    vocab = {token: i for i, token in enumerate(spec["tokens"])}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token=spec["unk"]))
    core.pre_tokenizer = pre_tokenizers.Split(Regex("(?m)."), behavior="isolated")
    core.decoder = decoders.Fuse()
    # aha's folder has no EOS token, so aha's completions run to C tokens. TRL needs an EOS
    # token, so the pad token serves, and min_new_tokens = C keeps it from being sampled.
    return PreTrainedTokenizerFast(tokenizer_object=core, unk_token=spec["unk"],
                                  pad_token=spec["pad"], eos_token=spec["pad"])


def load_model(model_dir, dtype):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=dtype)
    model.generation_config.eos_token_id = None
    model.generation_config.pad_token_id = None
    return model


def read_prompts(work_dir):
    with open(os.path.join(work_dir, "aha", "prompts.jsonl")) as f:
        return [json.loads(line)["question"] for line in f if line.strip()]


def time_generate(args, model, tokenizer, prompts):
    """Seconds of each transformers generate call for B prompts x G samples (warm-up first)."""
    import torch

    seconds = []
    for i in range(args.steps + 1):
        batch = prompts[i * args.batch % len(prompts):][:args.batch]
        inputs = tokenizer(batch, return_tensors="pt", add_special_tokens=False)
        assert inputs["input_ids"].shape == (args.batch, args.prompt_len), inputs["input_ids"].shape
        start = time.perf_counter()
        with torch.no_grad():
            out = model.generate(**inputs, do_sample=True, temperature=1.0, top_k=0, top_p=1.0,
                                 num_return_sequences=args.group,
                                 max_new_tokens=args.new_tokens,
                                 min_new_tokens=args.new_tokens, pad_token_id=0)
        seconds.append(time.perf_counter() - start)
        expected = (args.batch * args.group, args.prompt_len + args.new_tokens)
        assert tuple(out.shape) == expected, (tuple(out.shape), expected)
    return seconds[1:]


def time_trl(args, model, tokenizer, prompts, work_dir):
    """Per GRPO step (mu optimizer steps): total, generate, reward and generate+score seconds."""
    from datasets import Dataset
    from transformers import TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    rows = args.batch * args.group
    steps = (args.steps + 1) * args.updates

    # The parity of the distinct characters varies between random completions, so the
    # advantages are rarely all zero, whatever the vocabulary size.
    def trivial_reward(completions, **kwargs):
        return [float(len(set(c)) % 2) for c in completions]

    config = GRPOConfig(
        output_dir=os.path.join(work_dir, "trl"), use_cpu=True, report_to="none",
        save_strategy="no", logging_steps=1, max_steps=steps, seed=0,
        per_device_train_batch_size=rows, gradient_accumulation_steps=1,
        num_generations=args.group, num_iterations=args.updates,
        max_completion_length=args.new_tokens,
        generation_kwargs={"min_new_tokens": args.new_tokens},
        temperature=1.0, top_k=0, top_p=1.0, beta=0.0, learning_rate=1e-6,
        lr_scheduler_type="constant",
        bf16=False, dataloader_num_workers=0, shuffle_dataset=False)
    dataset = Dataset.from_list([{"prompt": p} for p in prompts])
    trainer = GRPOTrainer(model=model, reward_funcs=trivial_reward, args=config,
                          train_dataset=dataset, processing_class=tokenizer)

    # Phase times come from wrapping the trainer's own methods on this instance.
    phase = {"generate": [], "reward": [], "generate_and_score": []}

    def timed(name, fn):
        def wrapper(*a, **kw):
            start = time.perf_counter()
            result = fn(*a, **kw)
            phase[name].append(time.perf_counter() - start)
            return result
        return wrapper

    trainer._generate = timed("generate", trainer._generate)
    trainer._calculate_rewards = timed("reward", trainer._calculate_rewards)
    trainer._generate_and_score_completions = timed(
        "generate_and_score", trainer._generate_and_score_completions)

    step_seconds = []

    class StepTimer(TrainerCallback):
        def on_step_begin(self, *unused, **kw):
            self.start = time.perf_counter()

        def on_step_end(self, *unused, **kw):
            step_seconds.append(time.perf_counter() - self.start)

    trainer.add_callback(StepTimer())
    trainer.train()
    if len(phase["generate"]) != args.steps + 1:
        sys.exit(f"TRL generated {len(phase['generate'])} times, expected {args.steps + 1}")
    lengths = [entry["completions/mean_length"] for entry in trainer.state.log_history
               if "completions/mean_length" in entry]
    grpo_steps = []
    for i in range(args.steps + 1):
        total = sum(step_seconds[i * args.updates:(i + 1) * args.updates])
        grpo_steps.append({"total": total, "generate": phase["generate"][i],
                           "reward": phase["reward"][i],
                           "generate_and_score": phase["generate_and_score"][i]})
    return grpo_steps[1:], lengths


def main():
    args = parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    work_dir = args.work_dir or tempfile.mkdtemp(prefix="bench_peer_")
    os.makedirs(work_dir, exist_ok=True)
    aha = run_aha(args, work_dir)

    import datasets
    import torch
    import transformers
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    dtype = torch.bfloat16 if args.dtype == "bf16" else torch.float32
    versions = f"torch {torch.__version__}, transformers {transformers.__version__}, " \
               f"datasets {datasets.__version__}"
    if not args.skip_trl:
        import trl
        versions += f", trl {trl.__version__}"
    print(f"peer: Python {platform.python_version()}, {versions}, threads "
          f"{torch.get_num_threads()}, dtype {dtype}", flush=True)

    model_dir = os.path.join(work_dir, "model")
    tokenizer = load_tokenizer(model_dir)
    prompts = read_prompts(work_dir)
    model = load_model(model_dir, dtype)
    model.eval()
    generate_s = time_generate(args, model, tokenizer, prompts)
    print("generate s: " + ", ".join(f"{s:.3f}" for s in generate_s), flush=True)

    trl_steps = []
    if not args.skip_trl:
        trl_steps, lengths = time_trl(args, model, tokenizer, prompts, work_dir)
        for i, s in enumerate(trl_steps):
            print(f"TRL step {i + 1}: {s['total']:.3f} s (generate {s['generate']:.3f}, reward "
                  f"{s['reward']:.4f}, generate+score {s['generate_and_score']:.3f})")
        if not lengths or any(abs(x - args.new_tokens) > 1e-6 for x in lengths):
            sys.exit(f"TRL completion lengths {lengths}, expected {args.new_tokens}")

    tokens = args.batch * args.group * args.new_tokens
    print()
    print(f"{aha['model']} {args.dtype}, B x G {args.batch} x {args.group}, P {args.prompt_len}, "
          f"C {args.new_tokens}, mu {args.updates}, threads {args.threads}, load "
          f"{os.getloadavg()[0]:.1f}; fastest of {args.steps} timed steps")
    print()
    print("| phase | aha s | peer | peer s | aha/peer speed-up |")
    print("| --- | --- | --- | --- | --- |")
    rollout_peer = min(generate_s)
    print(f"| rollout (B x G x C = {tokens} tokens) | {aha['generate_s']:.3f} | transformers "
          f"generate | {rollout_peer:.3f} | {rollout_peer / aha['generate_s']:.2f}x |")
    if trl_steps:
        fastest = min(trl_steps, key=lambda s: s["total"])
        trl_generate = min(s["generate"] for s in trl_steps)
        trl_train = min(s["total"] - s["generate_and_score"] for s in trl_steps)
        trl_total = fastest["total"]
        print(f"| rollout in the trainer | {aha['generate_s']:.3f} | TRL `_generate` | "
              f"{trl_generate:.3f} | {trl_generate / aha['generate_s']:.2f}x |")
        print(f"| training (mu {args.updates}, optimizer included) | {aha['train_s']:.3f} | TRL "
              f"steps minus generate+score | {trl_train:.3f} | "
              f"{trl_train / aha['train_s']:.2f}x |")
        print(f"| whole GRPO step | {aha['step_s_min']:.3f} | TRL GRPOTrainer | "
              f"{trl_total:.3f} | {trl_total / aha['step_s_min']:.2f}x |")
    print(f"\naha train: {100 * aha['train_gflops'] / aha['peak_gflops']:.1f}% of the "
          f"{aha['peak_gflops']:.1f} GFLOP/s matmul peak; rollout "
          f"{100 * aha['rollout_gflops'] / aha['peak_gflops']:.1f}%")


if __name__ == "__main__":
    main()
