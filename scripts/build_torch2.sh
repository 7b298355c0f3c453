#!/usr/bin/env bash
# Builds aha against the upstream LibTorch 2.x inside a pip installation of PyTorch and runs
# the tests there, on the CPU. This checks the API differences from Debian's 1.13.1 that
# only a full build and link reveal; scripts/check_torch2_headers.sh is the quick check.
# Usage: scripts/build_torch2.sh PYTHON [BUILD_DIR]
#   PYTHON     a python that imports torch, for example a virtual environment's bin/python
#   BUILD_DIR  default build-torch2
# A CUDA wheel's CMake config needs the CUDA toolkit's nvcc. Without a system toolkit, install
# the one matching the wheel's CUDA version into the same environment, for example for
# cu132: pip install "nvidia-cuda-nvcc==13.2.*" "nvidia-nvvm==13.2.*" "nvidia-cuda-crt==13.2.*".
# The build takes about 25 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${1:?usage: scripts/build_torch2.sh PYTHON [BUILD_DIR]}
build_dir=${2:-build-torch2}

cmake_prefix=$("$python" -c 'import torch; print(torch.utils.cmake_prefix_path)')
cuda_version=$("$python" -c 'import torch; print(torch.version.cuda or "")')
cuda_args=()
if [[ -n "$cuda_version" ]] && ! command -v nvcc > /dev/null; then
  # pip's CUDA packages put the toolkit in site-packages/nvidia/cuMAJOR, with versioned
  # libraries only. FindCUDA wants libcudart.so, so link a root with unversioned names.
  site=$("$python" -c 'import os, torch; print(os.path.dirname(os.path.dirname(torch.__file__)))')
  pip_cuda=$site/nvidia/cu${cuda_version%%.*}
  if [[ ! -x "$pip_cuda/bin/nvcc" ]]; then
    echo "error: torch was built for CUDA $cuda_version and no nvcc was found on PATH or in" \
         "$pip_cuda/bin; install the CUDA toolkit or pip's nvidia-cuda-nvcc (see the" \
         "comment at the top of this script)" >&2
    exit 1
  fi
  cuda_root=$(realpath -m "$build_dir/cuda-root")
  mkdir -p "$cuda_root/lib"
  for entry in bin include nvvm; do ln -sfn "$pip_cuda/$entry" "$cuda_root/$entry"; done
  for library in "$pip_cuda"/lib/*; do
    name=$(basename "$library")
    ln -sf "$library" "$cuda_root/lib/$name"
    if [[ "$name" == *.so.* ]]; then ln -sf "$library" "$cuda_root/lib/${name%%.so.*}.so"; fi
  done
  cuda_args=(-DCUDA_TOOLKIT_ROOT_DIR="$cuda_root" -DCUDAToolkit_ROOT="$cuda_root"
             -DCMAKE_CUDA_COMPILER="$cuda_root/bin/nvcc")
fi

cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$cmake_prefix" "${cuda_args[@]}"
cmake --build "$build_dir" -j"$(nproc)"
source scripts/blas_env.sh
ctest --test-dir "$build_dir" -j"$(nproc)" --output-on-failure
