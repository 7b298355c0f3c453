#!/usr/bin/env bash
# Installs the dependencies, builds aha with its tests and runs them with ctest.
# Usage: scripts/test.sh [extra ctest arguments, e.g. -R Sampler]
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install_deps.sh
source scripts/blas_env.sh

build_dir=${AHA_BUILD_DIR:-build}
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build "$build_dir" -j"$(nproc)"
ctest --test-dir "$build_dir" --output-on-failure -j"$(nproc)" --timeout 900 "$@"
