#!/usr/bin/env python3
"""Measures the Hugging Face `tokenizers` package's encoding throughput (MB/s, one thread) on
the same documents as bench/tokenizer_bench.cc, for docs/benchmarks.md.

  RAYON_NUM_THREADS=1 TOKENIZERS_PARALLELISM=false python3 scripts/bench_tokenizer_peer.py \
      --tokenizer ../shared/tokenizers/qwen3 --jsonl ../shared/datasets/gsm8k/train.jsonl
"""
import argparse
import json
import os
import time

os.environ.setdefault("RAYON_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from tokenizers import Tokenizer  # noqa: E402  (after the thread settings)


def read_documents(path):
    """Joins each line's string fields with a newline, in key order, like tokenizer_bench."""
    documents = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            row = json.loads(line)
            documents.append("\n".join(v for v in row.values() if isinstance(v, str)))
    return documents


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokenizer", required=True, help="folder with tokenizer.json")
    parser.add_argument("--jsonl", required=True, help="JSON Lines file of documents")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    start = time.perf_counter()
    tok = Tokenizer.from_file(os.path.join(args.tokenizer, "tokenizer.json"))
    load = time.perf_counter() - start
    documents = read_documents(args.jsonl)
    size = sum(len(d.encode("utf-8")) for d in documents)

    for name, run in [
        ("encode loop", lambda: sum(len(tok.encode(d, add_special_tokens=False).ids)
                                    for d in documents)),
        ("encode_batch", lambda: sum(len(e.ids) for e in
                                     tok.encode_batch(documents, add_special_tokens=False))),
    ]:
        best = float("inf")
        for _ in range(args.repeats):
            start = time.perf_counter()
            tokens = run()
            best = min(best, time.perf_counter() - start)
        print(f"tokenizers {name}: {len(documents)} documents, {size / 1e6:.2f} MB, "
              f"{tokens} tokens, load {load:.2f} s, encode {size / best / 1e6:.1f} MB/s "
              f"(best of {args.repeats})")


if __name__ == "__main__":
    main()
