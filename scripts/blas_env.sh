# Sourced by the scripts: settings that must be in the environment before a process that uses
# LibTorch starts.
#
# Debian's OpenBLAS 0.3.21 does not recognize recent AVX-512 CPUs and falls back to an old
# kernel set; naming the core type makes fp32 matmuls about 4.5x faster. It must be set before
# the process starts (setenv in main is too late). The aha binary also re-executes itself with
# it when it is missing.
if [[ -z "${OPENBLAS_CORETYPE:-}" ]] && grep -qw avx512f /proc/cpuinfo 2>/dev/null; then
  export OPENBLAS_CORETYPE=SkylakeX
fi
