#!/usr/bin/env bash
# Compiles (syntax only) every source that includes LibTorch against another LibTorch's
# headers, to check the API differences between Debian's 1.13.1 and upstream 2.x without a
# full build. Usage: scripts/check_torch2_headers.sh TORCH_DIR, where TORCH_DIR holds include/,
# for example the `torch` folder of a pip installation
# (python3 -c 'import torch, os; print(os.path.dirname(torch.__file__))').
set -euo pipefail
cd "$(dirname "$0")/.."
torch_dir=${1:?usage: scripts/check_torch2_headers.sh TORCH_DIR}
std=c++17
if grep -q "C++20 or later" "$torch_dir/include/ATen/ATen.h"; then std=c++20; fi
failed=0
for source in $(grep -l -E '#include <(torch|ATen)/' $(git ls-files '*.cc')); do
  if ! g++ -std=$std -fsyntax-only -D_GLIBCXX_USE_CXX11_ABI=1 -DAHA_SOURCE_DIR='"."' \
       -DAHA_SHARED_DIR='"../shared"' -I. -I"$torch_dir/include" \
       -I"$torch_dir/include/torch/csrc/api/include" "$source" 2>/tmp/check_torch2.err; then
    echo "FAILED: $source"; head -20 /tmp/check_torch2.err; failed=1
  fi
done
echo "checked against $torch_dir with -std=$std"
exit $failed
