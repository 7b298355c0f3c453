#!/usr/bin/env python3
"""An example command reward for aha: scores 1.0 when the last <answer> block contains the
ground truth, 0.0 when it does not, and abstains (null) when the sample has no ground truth.

aha starts this script once and keeps it running. For each batch it writes one JSON line
{"id": N, "samples": [{"prompt", "completion", "ground_truth", "fields", "finish_reason",
"num_tokens"}, ...]} to stdin and reads one line back: {"id": N, "scores": [...]} with one
number or null per sample (a bare array of scores is accepted too). Echoing the id lets aha
reject a stray line instead of taking it for a reply. Anything printed to stderr reaches the
user's terminal, so tracebacks show up. stdout is reserved for the replies.

Config:
  rewards:
    - name: contains_truth
      command: [python3, examples/command_reward/my_reward.py]
"""
import json
import re
import sys

ANSWER = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)


def score(sample):
    truth = sample["ground_truth"].strip()
    if not truth:
        return None
    answers = ANSWER.findall(sample["completion"])
    if not answers:
        return 0.0
    return 1.0 if truth in answers[-1] else 0.0


def main():
    for line in sys.stdin:
        request = json.loads(line)
        scores = [score(sample) for sample in request["samples"]]
        sys.stdout.write(json.dumps({"id": request["id"], "scores": scores}) + "\n")
        sys.stdout.flush()  # aha waits for this line; an unflushed reply times out


if __name__ == "__main__":
    main()
