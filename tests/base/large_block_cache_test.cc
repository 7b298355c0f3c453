// Tests LargeBlockCache: large blocks come back for a request of their size, small ones and
// poor fits do not, the byte limit evicts the oldest, and LibTorch tensors live on it.
#include "base/large_block_cache.h"

#include <cstring>

#include <c10/core/CPUAllocator.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

namespace aha {
namespace {

constexpr size_t kMiB = size_t{1} << 20;

TEST(LargeBlockCacheTest, ReusesFreedBlockOfSameSize) {
  LargeBlockCache cache(512 * kMiB);
  void* first;
  {
    c10::DataPtr block = cache.allocate(40 * kMiB);
    first = block.get();
    std::memset(first, 1, 40 * kMiB);
  }
  EXPECT_EQ(cache.stats().cached_bytes, 40 * kMiB);
  c10::DataPtr again = cache.allocate(40 * kMiB);
  EXPECT_EQ(again.get(), first);
  // A request down to 8/9 of the block also fits: 36 MiB for the 40 MiB block.
  c10::DataPtr other = cache.allocate(40 * kMiB);
  other.clear();
  c10::DataPtr smaller = cache.allocate(36 * kMiB);
  EXPECT_EQ(cache.stats().hits, 2);
  EXPECT_EQ(cache.stats().misses, 2);
  EXPECT_EQ(cache.stats().cached_bytes, 0u);
}

TEST(LargeBlockCacheTest, SkipsSmallBlocksAndPoorFits) {
  LargeBlockCache cache(512 * kMiB);
  cache.allocate(1 * kMiB).clear();
  EXPECT_EQ(cache.stats().cached_bytes, 0u);
  cache.allocate(64 * kMiB).clear();
  // A 40 MiB request would waste 24 MiB of the 64 MiB block: a new block instead.
  c10::DataPtr block = cache.allocate(40 * kMiB);
  EXPECT_EQ(cache.stats().hits, 0);
  EXPECT_EQ(cache.stats().cached_bytes, 64 * kMiB);
}

TEST(LargeBlockCacheTest, EvictsOldestBeyondLimit) {
  LargeBlockCache cache(100 * kMiB);
  c10::DataPtr a = cache.allocate(40 * kMiB);
  c10::DataPtr b = cache.allocate(50 * kMiB);
  c10::DataPtr c = cache.allocate(60 * kMiB);
  void* c_memory = c.get();
  a.clear();  // cached: 40
  b.clear();  // cached: 90
  c.clear();  // 150 > 100: the 40 and then the 50 MiB blocks go back
  EXPECT_EQ(cache.stats().cached_bytes, 60 * kMiB);
  c10::DataPtr reused = cache.allocate(60 * kMiB);
  EXPECT_EQ(reused.get(), c_memory);
  cache.Release();
  EXPECT_EQ(cache.stats().cached_bytes, 0u);
}

TEST(LargeBlockCacheTest, FreesABlockLargerThanTheLimit) {
  LargeBlockCache cache(100 * kMiB);
  c10::DataPtr cached = cache.allocate(40 * kMiB);
  cached.clear();
  cache.allocate(120 * kMiB).clear();
  // The 120 MiB block went back to the system, and the cached 40 MiB one stayed.
  EXPECT_EQ(cache.stats().cached_bytes, 40 * kMiB);
}

TEST(LargeBlockCacheTest, InstalledCacheServesTensors) {
  InstallLargeBlockCache();
  InstallLargeBlockCache();  // a second call does nothing
  ASSERT_NE(dynamic_cast<LargeBlockCache*>(c10::GetCPUAllocator()), nullptr);
  const void* first;
  {
    torch::Tensor big = torch::ones({16, kMiB / 4 * 3}, torch::kFloat32);  // 48 MiB
    first = big.data_ptr();
    EXPECT_EQ(big.sum().item<float>(), 16.0f * (kMiB / 4 * 3));
  }
  torch::Tensor again = torch::zeros({16, kMiB / 4 * 3}, torch::kFloat32);
  EXPECT_EQ(again.data_ptr(), first);
  EXPECT_EQ(again.abs().sum().item<float>(), 0.0f);  // reused memory is filled as asked
  torch::Tensor small = torch::ones({10});
  EXPECT_EQ(small.sum().item<float>(), 10.0f);
}

// Some LibTorch kernels take scratch space with raw_allocate, which needs the context to be
// the data pointer and raw_deleter to free both large and small blocks.
TEST(LargeBlockCacheTest, SupportsRawAllocate) {
  LargeBlockCache cache(512 * kMiB);
  void* large = cache.raw_allocate(40 * kMiB);
  void* small = cache.raw_allocate(1024);
  std::memset(large, 0, 40 * kMiB);
  cache.raw_deallocate(small);
  cache.raw_deallocate(large);
  EXPECT_EQ(cache.stats().cached_bytes, 40 * kMiB);
  EXPECT_EQ(cache.raw_allocate(40 * kMiB), large);
  cache.raw_deallocate(large);
}

// A large matrix product on the installed cache.
TEST(LargeBlockCacheTest, LargeMatmulRuns) {
  InstallLargeBlockCache();
  torch::Tensor a = torch::ones({2048, 4096}), b = torch::ones({4096, 2048});
  EXPECT_EQ(torch::matmul(a, b)[7][9].item<float>(), 4096.0f);
}

}  // namespace
}  // namespace aha
