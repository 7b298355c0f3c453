// Tests of the start-up BLAS checks: path classification, the warning rules, and reading the
// facts of this process after it loads libblas.so.3.
#include "base/blas_check.h"

#include <dlfcn.h>
#include <stdlib.h>

#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

namespace aha {
namespace {

bool AnyContains(const std::vector<std::string>& lines, const std::string& text) {
  for (const std::string& line : lines) {
    if (line.find(text) != std::string::npos) return true;
  }
  return false;
}

// The facts of a healthy Debian setup: OpenBLAS (OpenMP build) with the SkylakeX kernels.
MathLibraryFacts HealthyFacts() {
  MathLibraryFacts facts;
  facts.blas_path = "/usr/lib/x86_64-linux-gnu/openblas-openmp/libblas.so.3";
  facts.openblas_core = "SkylakeX";
  facts.openblas_parallel = 2;
  facts.coretype_set = true;
  facts.cpu_has_avx512 = true;
  return facts;
}

TEST(BlasCheckTest, ClassifiesDebianPaths) {
  EXPECT_EQ(ClassifyBlasPath(""), BlasKind::kNotLoaded);
  EXPECT_EQ(ClassifyBlasPath("/usr/lib/x86_64-linux-gnu/openblas-openmp/libblas.so.3"),
            BlasKind::kOpenBlas);
  EXPECT_EQ(ClassifyBlasPath("/usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3"),
            BlasKind::kOpenBlas);
  EXPECT_EQ(ClassifyBlasPath("/usr/lib/x86_64-linux-gnu/libopenblasp-r0.3.21.so"),
            BlasKind::kOpenBlas);
  EXPECT_EQ(ClassifyBlasPath("/usr/lib/x86_64-linux-gnu/blas/libblas.so.3.11.0"),
            BlasKind::kReference);
  EXPECT_EQ(ClassifyBlasPath("/usr/lib/x86_64-linux-gnu/blis-openmp/libblas.so.3"),
            BlasKind::kOther);
  EXPECT_EQ(ClassifyBlasPath("/usr/lib/x86_64-linux-gnu/atlas/libblas.so.3"), BlasKind::kOther);
}

TEST(BlasCheckTest, HealthySetupHasNoWarnings) {
  EXPECT_TRUE(MathLibraryWarnings(HealthyFacts()).empty());
}

TEST(BlasCheckTest, NoBlasLoadedHasNoWarnings) {
  MathLibraryFacts facts;
  facts.cpu_has_avx512 = true;
  EXPECT_TRUE(MathLibraryWarnings(facts).empty());
}

TEST(BlasCheckTest, ReferenceBlasWarns) {
  MathLibraryFacts facts;
  facts.blas_path = "/usr/lib/x86_64-linux-gnu/blas/libblas.so.3.11.0";
  auto warnings = MathLibraryWarnings(facts);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("reference BLAS"), std::string::npos);
  EXPECT_NE(warnings[0].find(facts.blas_path), std::string::npos);
  EXPECT_NE(warnings[0].find("update-alternatives"), std::string::npos);
}

TEST(BlasCheckTest, OldCoreOnAvx512Warns) {
  MathLibraryFacts facts = HealthyFacts();
  facts.coretype_set = false;
  facts.openblas_core = "Haswell";
  auto warnings = MathLibraryWarnings(facts);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("OPENBLAS_CORETYPE=SkylakeX"), std::string::npos);
  EXPECT_NE(warnings[0].find("Haswell"), std::string::npos);
}

TEST(BlasCheckTest, UnknownCoreOnAvx512Warns) {
  MathLibraryFacts facts = HealthyFacts();
  facts.coretype_set = false;
  facts.openblas_core = "";
  auto warnings = MathLibraryWarnings(facts);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("unknown"), std::string::npos);
}

TEST(BlasCheckTest, OldCoreIsFineWhenCoretypeSet) {
  MathLibraryFacts facts = HealthyFacts();
  facts.openblas_core = "Haswell";
  EXPECT_TRUE(MathLibraryWarnings(facts).empty());
}

TEST(BlasCheckTest, Avx512CoresNeedNoCoretype) {
  for (const char* core : {"SkylakeX", "Cooperlake", "SapphireRapids"}) {
    MathLibraryFacts facts = HealthyFacts();
    facts.coretype_set = false;
    facts.openblas_core = core;
    EXPECT_TRUE(MathLibraryWarnings(facts).empty()) << core;
  }
}

TEST(BlasCheckTest, UnsetCoretypeIsFineWithoutAvx512) {
  MathLibraryFacts facts = HealthyFacts();
  facts.coretype_set = false;
  facts.openblas_core = "Haswell";
  facts.cpu_has_avx512 = false;
  EXPECT_TRUE(MathLibraryWarnings(facts).empty());
}

TEST(BlasCheckTest, UnsetCoretypeIsIgnoredForOtherBlas) {
  MathLibraryFacts facts;
  facts.blas_path = "/usr/lib/x86_64-linux-gnu/blis-openmp/libblas.so.3";
  facts.cpu_has_avx512 = true;
  EXPECT_TRUE(MathLibraryWarnings(facts).empty());
}

TEST(BlasCheckTest, PthreadsOpenBlasWarns) {
  MathLibraryFacts facts = HealthyFacts();
  facts.blas_path = "/usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3";
  facts.openblas_parallel = 1;
  auto warnings = MathLibraryWarnings(facts);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("libopenblas0-openmp"), std::string::npos);
  EXPECT_NE(warnings[0].find("update-alternatives"), std::string::npos);
}

TEST(BlasCheckTest, ReadsLoadedBlasOfThisProcess) {
  // This test binary has no LibTorch, so load the BLAS the way LibTorch would.
  void* handle = dlopen("libblas.so.3", RTLD_NOW | RTLD_GLOBAL);
  if (handle == nullptr) GTEST_SKIP() << "libblas.so.3 is not installed: " << dlerror();

  MathLibraryFacts facts = ReadMathLibraryFacts();
  ASSERT_FALSE(facts.blas_path.empty());
  EXPECT_NE(facts.blas_path.find("libblas"), std::string::npos) << facts.blas_path;
  // The resolved path is the file the loader mapped, so /proc/self/maps lists it.
  std::ifstream maps("/proc/self/maps");
  std::stringstream contents;
  contents << maps.rdbuf();
  EXPECT_NE(contents.str().find(facts.blas_path), std::string::npos) << facts.blas_path;
  if (ClassifyBlasPath(facts.blas_path) == BlasKind::kOpenBlas) {
    EXPECT_FALSE(facts.openblas_core.empty());
    EXPECT_GE(facts.openblas_parallel, 0);
  }
  EXPECT_EQ(facts.coretype_set, getenv("OPENBLAS_CORETYPE") != nullptr);
}

TEST(BlasCheckTest, ReadsCoretypeFromEnvironment) {
  const char* saved = getenv("OPENBLAS_CORETYPE");
  std::string saved_value = saved != nullptr ? saved : "";
  unsetenv("OPENBLAS_CORETYPE");
  EXPECT_FALSE(ReadMathLibraryFacts().coretype_set);
  setenv("OPENBLAS_CORETYPE", "SkylakeX", 1);
  EXPECT_TRUE(ReadMathLibraryFacts().coretype_set);
  if (saved != nullptr) {
    setenv("OPENBLAS_CORETYPE", saved_value.c_str(), 1);
  } else {
    unsetenv("OPENBLAS_CORETYPE");
  }
}

}  // namespace
}  // namespace aha
