#!/usr/bin/env bash
# Builds and runs the policy benchmarks (machine limits, rollout, train step, shared prefix)
# and prints their markdown tables. Fast settings by default; pass --full for the sizes
# recorded in docs/benchmarks.md.
#
# grpo_step_bench (whole GRPO steps through GrpoTrainer) is not run here. Its comparison is
# scripts/bench_peer.py, which needs a Python venv with TRL; docs/benchmarks.md has the
# commands.
#
# Usage: scripts/run_benchmarks.sh [--full] [BUILD_DIR]   (BUILD_DIR defaults to build-bench)
set -euo pipefail

mode=(--quick)
if [[ "${1:-}" == "--full" ]]; then
  mode=()
  shift
fi
build_dir=${1:-build-bench}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

# OpenBLAS reads OPENBLAS_CORETYPE once, when it loads, so it must be in the environment of the
# bench process. It pins the AVX-512 kernels, in case OpenBLAS does not recognize the CPU.
if grep -q -w avx512f /proc/cpuinfo 2>/dev/null; then
  export OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-SkylakeX}
fi
threads=${THREADS:-2}
export OMP_NUM_THREADS=$threads
# With libgomp's default spin-waiting, a thread whose core is taken by another process stalls
# every parallel region. On a busy 2-core machine that made the rollout bench 30x slower.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}

if [[ ! -f "$build_dir/build.ninja" ]]; then
  cmake -S . -B "$build_dir" -G Ninja
fi
ninja -C "$build_dir" -j2 matmul_peak_bench rollout_bench train_step_bench shared_prefix_bench

echo "load before the runs: $(uptime)"
for bench in matmul_peak_bench rollout_bench train_step_bench shared_prefix_bench; do
  echo
  echo "## $bench ${mode[*]:-} --threads $threads"
  "$build_dir/bench/$bench" "${mode[@]}" --threads "$threads"
done
