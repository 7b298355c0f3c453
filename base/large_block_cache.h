// A CPU allocator for LibTorch that keeps freed blocks of 32 MiB and more and hands them out
// again, instead of returning them to the operating system.
//
// glibc serves every allocation above its mmap threshold (at most 32 MiB) with its own mmap
// and unmaps it on free, so each large temporary costs a page fault per 4 KiB page on its
// first write. A training step of the 0.5B shape allocates the same large tensors every time:
// the (V, E) gradients of the tied embedding, 64 MiB logit chunks, the layers' activations.
// In bench/train_step_bench's operator profile, zero-filling one fresh 544 MB gradient took
// 1.08 s, and the step took 7.1 s without this cache and 4.7 s with it (docs/benchmarks.md).
//
// A block is reused for a request that it exceeds by at most 1/8 of the request (a request
// down to 8/9 of the block), so the cache keeps what a step's peak needed, not more. Freed blocks beyond `max_cached_bytes` go back to the system,
// oldest first. A failed allocation empties the cache and tries once more. Smaller
// allocations go straight to LibTorch's default CPU allocator, which this one wraps. Like it,
// this allocator supports raw_allocate (some of LibTorch's kernels use it for scratch space):
// a block's context is its data pointer, and a process-wide table maps it to the block.
//
// Known limit: blocks cached in one phase (training) stay held through the next (rollout)
// until reused or evicted, so resident memory can exceed what a phase needs by up to the
// limit. Linux overcommits memory, so a limit too large for the machine risks an
// out-of-memory kill rather than a failed allocation. Lower AHA_LARGE_BLOCK_CACHE_MB there.
#ifndef AHA_BASE_LARGE_BLOCK_CACHE_H_
#define AHA_BASE_LARGE_BLOCK_CACHE_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>

#include <c10/core/Allocator.h>

namespace aha {

struct LargeBlockCacheStats {
  int64_t hits = 0;          // large requests served from the cache
  int64_t misses = 0;        // large requests passed to the wrapped allocator
  size_t cached_bytes = 0;   // cached now, free for reuse
};

class LargeBlockCache : public c10::Allocator {
 public:
  static constexpr size_t kMinBlockBytes = size_t{32} << 20;

  // Every block it hands out must be freed before it is destroyed. The installed one is never
  // destroyed.
  explicit LargeBlockCache(size_t max_cached_bytes);
  ~LargeBlockCache() override;

  // LibTorch 1.13 declares allocate const and newer versions non-const. Defining both
  // overrides whichever the headers declare.
  c10::DataPtr allocate(size_t bytes) const;
  c10::DataPtr allocate(size_t bytes);
  // Required by the Allocator of newer LibTorch versions, and a plain member in 1.13.
  void copy_data(void* dest, const void* src, size_t count) const;
  c10::DeleterFnPtr raw_deleter() const override;

  LargeBlockCacheStats stats() const;
  // Returns every cached block to the wrapped allocator.
  void Release() const;

 public:
  struct Block;  // defined in the .cc file

 private:
  // Deletes what this allocator handed out, large (back to the cache) or small.
  static void Delete(void* data);
  c10::DataPtr Allocate(size_t bytes) const;
  void Put(Block* block) const;
  static void Free(Block* block);

  c10::Allocator* backing_;  // LibTorch's default CPU allocator
  size_t max_cached_bytes_;
  mutable std::mutex mutex_;
  // Free blocks by size. The counter in the value orders them by age for eviction.
  mutable std::multimap<size_t, std::pair<uint64_t, Block*>> free_;
  mutable uint64_t clock_ = 0;
  mutable LargeBlockCacheStats stats_;
};

// Installs a LargeBlockCache as this process's CPU allocator. Later calls do nothing. The
// cache keeps at most AHA_LARGE_BLOCK_CACHE_MB megabytes (default 4096, and never more than a
// quarter of the machine's or the container's memory), and 0 leaves LibTorch's allocator in
// place. Tensors
// allocated before the call are freed by their own allocator, so it is safe at any time.
void InstallLargeBlockCache();

// The cache InstallLargeBlockCache installed, or nullptr when it has not run or was turned off.
const LargeBlockCache* InstalledLargeBlockCache();

}  // namespace aha

#endif  // AHA_BASE_LARGE_BLOCK_CACHE_H_
