#include "base/blas_check.h"

#include <dlfcn.h>
#include <limits.h>
#include <stdlib.h>

#include <algorithm>
#include <cctype>

namespace aha {
namespace {

std::string Lowercase(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

// The file that defines `symbol` among the loaded libraries, with symbolic links resolved so
// that Debian's alternatives (libblas.so.3 -> /etc/alternatives/...) show the real library.
std::string ResolvedLibraryOf(void* symbol) {
  Dl_info info;
  if (symbol == nullptr || dladdr(symbol, &info) == 0 || info.dli_fname == nullptr) return "";
  char resolved[PATH_MAX];
  if (realpath(info.dli_fname, resolved) == nullptr) return info.dli_fname;
  return resolved;
}

bool CpuHasAvx512() {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  return __builtin_cpu_supports("avx512f");
#else
  return false;
#endif
}

// OpenBLAS core names (openblas_get_corename) whose kernels use AVX-512.
bool IsAvx512Core(const std::string& core) {
  const std::string lower = Lowercase(core);
  return lower == "skylakex" || lower == "cooperlake" || lower == "sapphirerapids";
}

}  // namespace

BlasKind ClassifyBlasPath(const std::string& path) {
  if (path.empty()) return BlasKind::kNotLoaded;
  const std::string lower = Lowercase(path);
  if (lower.find("openblas") != std::string::npos) return BlasKind::kOpenBlas;
  // Debian's libblas3 installs the reference BLAS as .../blas/libblas.so.3.
  if (lower.find("/blas/") != std::string::npos || lower.find("refblas") != std::string::npos ||
      lower.find("netlib") != std::string::npos) {
    return BlasKind::kReference;
  }
  return BlasKind::kOther;
}

MathLibraryFacts ReadMathLibraryFacts() {
  MathLibraryFacts facts;
  facts.blas_path = ResolvedLibraryOf(dlsym(RTLD_DEFAULT, "sgemm_"));
  using CoreNameFn = char* (*)();
  using ParallelFn = int (*)();
  if (auto core_name = reinterpret_cast<CoreNameFn>(dlsym(RTLD_DEFAULT, "openblas_get_corename"))) {
    const char* name = core_name();
    facts.openblas_core = name != nullptr ? name : "";
  }
  if (auto parallel = reinterpret_cast<ParallelFn>(dlsym(RTLD_DEFAULT, "openblas_get_parallel"))) {
    facts.openblas_parallel = parallel();
  }
  facts.coretype_set = getenv("OPENBLAS_CORETYPE") != nullptr;
  facts.cpu_has_avx512 = CpuHasAvx512();
  return facts;
}

std::vector<std::string> MathLibraryWarnings(const MathLibraryFacts& facts) {
  std::vector<std::string> warnings;
  const BlasKind kind = ClassifyBlasPath(facts.blas_path);
  if (kind == BlasKind::kReference) {
    warnings.push_back(
        "BLAS: sgemm_ comes from the reference BLAS (" + facts.blas_path +
        "), which has no SIMD kernels and no threads, so LibTorch's float32 matmuls run many "
        "times slower. Point libblas.so.3 at OpenBLAS: run scripts/install_deps.sh, or run "
        "`sudo update-alternatives --config libblas.so.3-$(dpkg-architecture "
        "-qDEB_HOST_MULTIARCH)` and choose openblas-openmp.");
  }
  // The core check applies whenever OpenBLAS is loaded, even if sgemm_ resolved elsewhere.
  const bool openblas = kind == BlasKind::kOpenBlas || !facts.openblas_core.empty();
  if (openblas && facts.openblas_parallel == 1) {
    warnings.push_back(
        "BLAS: OpenBLAS (" + facts.blas_path +
        ") is the pthreads build, whose thread pool competes with LibTorch's OpenMP threads for "
        "the cores. Point libblas.so.3 at the OpenMP build: install libopenblas0-openmp, then "
        "run `sudo update-alternatives --config libblas.so.3-$(dpkg-architecture "
        "-qDEB_HOST_MULTIARCH)` and choose openblas-openmp.");
  }
  if (openblas && facts.cpu_has_avx512 && !facts.coretype_set &&
      !IsAvx512Core(facts.openblas_core)) {
    const std::string core = facts.openblas_core.empty() ? "unknown" : facts.openblas_core;
    warnings.push_back(
        "BLAS: OPENBLAS_CORETYPE is not set and OpenBLAS selected its " + core +
        " kernels on this AVX-512 CPU, so its matmuls leave AVX-512 unused. Start aha with "
        "OPENBLAS_CORETYPE=SkylakeX in the environment: OpenBLAS reads it once when it loads, "
        "so setting it later in the process has no effect.");
  }
  return warnings;
}

std::vector<std::string> CheckMathLibraryWarnings() {
  return MathLibraryWarnings(ReadMathLibraryFacts());
}

}  // namespace aha
