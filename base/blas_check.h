// Start-up checks of the math libraries that LibTorch loads: which BLAS provides sgemm_, and
// whether OpenBLAS runs kernels that suit the CPU. No LibTorch, so any binary can call them.
#ifndef AHA_BASE_BLAS_CHECK_H_
#define AHA_BASE_BLAS_CHECK_H_

#include <string>
#include <vector>

namespace aha {

enum class BlasKind {
  kNotLoaded,  // no sgemm_ in the process, for example a binary without LibTorch
  kOpenBlas,
  kReference,  // the netlib reference BLAS: plain loops, no SIMD kernels and no threads
  kOther,      // BLIS, ATLAS, MKL or an unknown library
};

// The loaded math libraries, environment and CPU features, gathered by ReadMathLibraryFacts.
struct MathLibraryFacts {
  std::string blas_path;      // resolved file that provides sgemm_; empty when none is loaded
  std::string openblas_core;  // openblas_get_corename(); empty when OpenBLAS is not loaded
  // openblas_get_parallel(): 0 single-threaded, 1 pthreads, 2 OpenMP; -1 when not OpenBLAS.
  int openblas_parallel = -1;
  bool coretype_set = false;    // OPENBLAS_CORETYPE is in the environment
  bool cpu_has_avx512 = false;  // AVX-512F
};

// Classifies a resolved BLAS path by the folder Debian's alternatives install it in:
// .../blas/libblas.so.3 is the reference BLAS, a path with "openblas" is OpenBLAS.
BlasKind ClassifyBlasPath(const std::string& path);

// Looks up sgemm_ and OpenBLAS's query functions among the libraries already loaded (it loads
// none itself), and reads the environment and the CPU features.
MathLibraryFacts ReadMathLibraryFacts();

// One line per problem found in `facts`, each saying what is wrong and how to fix it: the
// reference BLAS, OpenBLAS's pthreads build, or (with OPENBLAS_CORETYPE unset) OpenBLAS kernels
// without AVX-512 on a CPU that has it.
std::vector<std::string> MathLibraryWarnings(const MathLibraryFacts& facts);

// MathLibraryWarnings(ReadMathLibraryFacts()): the lines the aha binary prints at start-up.
std::vector<std::string> CheckMathLibraryWarnings();

}  // namespace aha

#endif  // AHA_BASE_BLAS_CHECK_H_
