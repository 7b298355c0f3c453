#!/usr/bin/env bash
# The R1-Zero demo: installs the dependencies, builds aha, then runs GRPO on Countdown from the
# committed tiny base model (models/countdown-tiny-base; configs/tiny_base_pipeline.yaml
# rebuilds it). The run goes to runs/r1-zero-countdown.
# Usage: scripts/demo.sh [extra aha train flags, e.g. --steps 20]
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install_deps.sh
source scripts/blas_env.sh

build_dir=${AHA_BUILD_DIR:-build}
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build "$build_dir" -j"$(nproc)" --target aha

# aha train rejects an out_dir with an earlier run, so a second demo moves the first one aside.
out_dir=runs/r1-zero-countdown
if [[ -e "$out_dir" && " $* " != *" --resume "* && " $* " != *" --out "* ]]; then
  previous="$out_dir.$(date +%Y%m%d-%H%M%S)"
  mv "$out_dir" "$previous"
  echo "demo: moved the earlier run to $previous"
fi
"$build_dir/aha" train configs/r1_zero_countdown.yaml "$@"
