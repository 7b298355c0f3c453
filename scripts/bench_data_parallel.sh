#!/usr/bin/env bash
# Compares one GRPO step of the tiny model (configs/tiny_model.yaml, random weights) run as
# 1 process x 2 threads against 2 ranks x 1 thread started by `aha launch`, on the same global
# batch. Prints the wall time of each run and the mean seconds per step from metrics.jsonl,
# without the first step (warm-up).
#
# Usage: scripts/bench_data_parallel.sh [BUILD_DIR]   (BUILD_DIR defaults to build-dist)
# STEPS (default 6), PROMPTS (default 8) and TOKENS (max_new_tokens, default 64) size the run.
set -euo pipefail
build_dir=${1:-build-dist}
steps=${STEPS:-6}
prompts=${PROMPTS:-8}
tokens=${TOKENS:-64}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
aha="$build_dir/aha"
if grep -q -w avx512f /proc/cpuinfo 2>/dev/null; then
  export OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-SkylakeX}
fi
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$aha" init --config configs/tiny_model.yaml --out "$work/tiny-init" > /dev/null
common=(configs/r1_zero_countdown.yaml --policy "$work/tiny-init" --steps "$steps"
        --set "grpo.prompts_per_step=$prompts" --set "grpo.max_new_tokens=$tokens"
        --set log.eval_before_training=false --set log.eval_prompts=0
        --set log.samples_every=0 --set optimizer.warmup_steps=0)

# Mean of seconds_generate + seconds_reward + seconds_train over steps 2..N.
step_seconds() {
  python3 - "$1" <<'PY'
import json, sys
steps = [json.loads(line) for line in open(sys.argv[1]) if '"step"' in line]
steps = [s for s in steps if "seconds_train" in s][1:]
total = [s["seconds_generate"] + s["seconds_reward"] + s["seconds_train"] for s in steps]
train = [s["seconds_train"] for s in steps]
print(f"{sum(total) / len(total):.2f} s/step (train {sum(train) / len(train):.2f} s)")
PY
}

echo "load before the runs: $(uptime)"
echo "B=$prompts prompts x G=8, max_new_tokens=$tokens, $steps steps"
start=$(date +%s.%N)
OMP_NUM_THREADS=2 "$aha" train "${common[@]}" --out "$work/one" --set run.threads=2 > /dev/null
end=$(date +%s.%N)
echo "1 process x 2 threads: wall $(echo "$end - $start" | bc) s, $(step_seconds "$work/one/metrics.jsonl")"

start=$(date +%s.%N)
OMP_NUM_THREADS=1 "$aha" launch --nproc 2 -- train "${common[@]}" --out "$work/two" \
  --set run.threads=1 > /dev/null
end=$(date +%s.%N)
echo "2 ranks x 1 thread:    wall $(echo "$end - $start" | bc) s, $(step_seconds "$work/two/metrics.jsonl")"
echo "load after the runs: $(uptime)"
