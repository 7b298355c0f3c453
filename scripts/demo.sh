#!/usr/bin/env bash
# The R1-Zero demo: installs the dependencies, builds aha, pretrains the tiny base model on a
# synthetic Countdown corpus (once; reused on later runs), then runs GRPO on Countdown.
# Usage: scripts/demo.sh [extra aha train flags, e.g. --steps 20]
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install_deps.sh
source scripts/blas_env.sh

build_dir=${AHA_BUILD_DIR:-build}
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build "$build_dir" -j"$(nproc)" --target aha

if [[ ! -f runs/tiny-base/config.json ]]; then
  "$build_dir/aha" pretrain --config configs/tiny_pretrain.yaml
fi
"$build_dir/aha" train configs/r1_zero_countdown.yaml "$@"
