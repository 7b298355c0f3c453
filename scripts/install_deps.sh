#!/usr/bin/env bash
# Installs the Debian packages that aha builds and runs with. Safe to run again:
# packages already present are skipped, so a second run costs a few seconds.
# With --with-plots it also installs matplotlib, which `aha analyze` uses for its PNG plots.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  libtorch-dev          # LibTorch 1.13.1 (CPU)
  libopenblas0-openmp   # fast BLAS for LibTorch; the pthread variant fights LibTorch's threads
  libabsl-dev libyaml-cpp-dev nlohmann-json3-dev libpcre2-dev
  libutf8proc-dev       # NFC normalization for Hugging Face tokenizers (Qwen)
  libgloo-dev           # headers that LibTorch's ProcessGroupGloo.hpp includes (dist/)
  libgtest-dev libgmock-dev libbenchmark-dev
)
if [[ "${1:-}" == "--with-plots" ]]; then
  packages+=(python3-matplotlib)   # optional: scripts/plot_run.py
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

sudo_cmd=()
if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi

if ((${#missing[@]})); then
  echo "install_deps: installing ${missing[*]}"
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# libblas.so.3 must resolve to OpenBLAS's OpenMP build: the reference BLAS is about 60x slower
# for LibTorch's matmuls, and the pthreads build fights LibTorch's OpenMP threads. Another
# package (libopenblas-dev, pulled in by numpy or matplotlib) can switch it to the pthreads
# build, so check the current choice every time. LibTorch also links libopenblas.so.0 and
# liblapack.so.3 directly (see `ldd libtorch_cpu.so`), and the same install switches those.
for library in libblas.so.3 libopenblas.so.0 liblapack.so.3; do
  alternative=$library-x86_64-linux-gnu
  blas=$(update-alternatives --query "$alternative" 2>/dev/null | awk '/^Value:/{print $2}')
  if [[ "$blas" != *openblas-openmp* ]]; then
    openmp=$(update-alternatives --list "$alternative" | grep openblas-openmp | head -1)
    if [[ -n "$openmp" ]]; then
      echo "install_deps: pointing $library at $openmp (was ${blas:-unset})"
      "${sudo_cmd[@]}" update-alternatives --set "$alternative" "$openmp"
    fi
  fi
done
echo "install_deps: done"
