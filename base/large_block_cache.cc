#include "base/large_block_cache.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <unordered_map>
#include <vector>

#include <c10/core/CPUAllocator.h>
#include <c10/util/Exception.h>

namespace aha {

struct LargeBlockCache::Block {
  const LargeBlockCache* owner;
  c10::DataPtr memory;  // from the wrapped allocator
  size_t bytes;
};

namespace {

// Every large block that exists, cached or in use, by its data pointer.
std::mutex& BlockTableMutex() {
  static auto* mutex = new std::mutex;
  return *mutex;
}

std::unordered_map<void*, LargeBlockCache::Block*>& BlockTable() {
  static auto* table = new std::unordered_map<void*, LargeBlockCache::Block*>;
  return *table;
}

}  // namespace

LargeBlockCache::LargeBlockCache(size_t max_cached_bytes)
    : backing_(c10::GetDefaultCPUAllocator()), max_cached_bytes_(max_cached_bytes) {}

LargeBlockCache::~LargeBlockCache() { Release(); }

c10::DataPtr LargeBlockCache::allocate(size_t bytes) const { return Allocate(bytes); }
c10::DataPtr LargeBlockCache::allocate(size_t bytes) { return Allocate(bytes); }

void LargeBlockCache::copy_data(void* dest, const void* src, size_t count) const {
  std::memcpy(dest, src, count);
}

c10::DataPtr LargeBlockCache::Allocate(size_t bytes) const {
  if (bytes < kMinBlockBytes) return backing_->allocate(bytes);
  Block* block = nullptr;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = free_.lower_bound(bytes);
    if (it != free_.end() && it->first <= bytes + bytes / 8) {
      block = it->second.second;
      stats_.cached_bytes -= block->bytes;
      free_.erase(it);
      ++stats_.hits;
    } else {
      ++stats_.misses;
    }
  }
  if (block == nullptr) {
    c10::DataPtr memory;
    try {
      memory = backing_->allocate(bytes);
    } catch (const c10::Error&) {
      // Out of memory: the cached blocks may be what is missing.
      Release();
      memory = backing_->allocate(bytes);
    }
    block = new Block{this, std::move(memory), bytes};
    try {
      std::lock_guard<std::mutex> lock(BlockTableMutex());
      BlockTable()[block->memory.get()] = block;
    } catch (...) {
      delete block;  // frees the memory: without a table entry nothing could return it
      throw;
    }
  }
  void* data = block->memory.get();
  return c10::DataPtr(data, data, &LargeBlockCache::Delete, c10::Device(c10::DeviceType::CPU));
}

c10::DeleterFnPtr LargeBlockCache::raw_deleter() const { return &LargeBlockCache::Delete; }

void LargeBlockCache::Delete(void* data) {
  Block* block = nullptr;
  {
    std::lock_guard<std::mutex> lock(BlockTableMutex());
    auto it = BlockTable().find(data);
    if (it != BlockTable().end()) block = it->second;
  }
  if (block != nullptr) {
    block->owner->Put(block);
  } else {
    c10::GetDefaultCPUAllocator()->raw_deleter()(data);  // a small allocation
  }
}

void LargeBlockCache::Free(Block* block) {
  {
    std::lock_guard<std::mutex> lock(BlockTableMutex());
    BlockTable().erase(block->memory.get());
  }
  delete block;
}

// Runs inside a deleter, which must not throw: when the cache cannot take the block (it is
// larger than the whole limit, or the bookkeeping fails to allocate), the block is freed.
void LargeBlockCache::Put(Block* block) const {
  if (block->bytes > max_cached_bytes_) {
    Free(block);
    return;
  }
  std::vector<Block*> evicted;
  bool cached = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    try {
      evicted.reserve(free_.size() + 1);  // so that the push_back below cannot throw
      free_.emplace(block->bytes, std::make_pair(++clock_, block));
      cached = true;
    } catch (const std::bad_alloc&) {
      // Not cached: freed below.
    }
    if (cached) stats_.cached_bytes += block->bytes;
    while (stats_.cached_bytes > max_cached_bytes_ && !free_.empty()) {
      auto oldest = std::min_element(free_.begin(), free_.end(), [](const auto& a, const auto& b) {
        return a.second.first < b.second.first;
      });
      stats_.cached_bytes -= oldest->first;
      evicted.push_back(oldest->second.second);
      free_.erase(oldest);
    }
  }
  if (!cached) Free(block);
  for (Block* b : evicted) Free(b);  // outside the lock
}

LargeBlockCacheStats LargeBlockCache::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

void LargeBlockCache::Release() const {
  std::vector<Block*> blocks;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& [bytes, entry] : free_) blocks.push_back(entry.second);
    free_.clear();
    stats_.cached_bytes = 0;
  }
  for (Block* b : blocks) Free(b);
}

namespace {

const LargeBlockCache* installed_cache = nullptr;

void Install() {
  size_t max_mb = 4096;
  if (const char* env = std::getenv("AHA_LARGE_BLOCK_CACHE_MB")) {
    char* end = nullptr;
    const unsigned long long value = std::strtoull(env, &end, 10);
    if (end == env || *end != '\0') {
      std::fprintf(stderr,
                   "aha: AHA_LARGE_BLOCK_CACHE_MB=%s is not a whole number of megabytes; "
                   "using %zu\n", env, max_mb);
    } else {
      max_mb = static_cast<size_t>(value);
    }
  }
  if (max_mb == 0) return;
  // Never more than a quarter of the memory: the machine's, or a container's cgroup limit
  // when it is lower.
  const long pages = sysconf(_SC_PHYS_PAGES), page_bytes = sysconf(_SC_PAGESIZE);
  size_t memory = pages > 0 && page_bytes > 0 ? static_cast<size_t>(pages) * page_bytes : 0;
  std::ifstream cgroup("/sys/fs/cgroup/memory.max");  // cgroup v2; "max" when unlimited
  unsigned long long cgroup_bytes = 0;
  if (cgroup >> cgroup_bytes && cgroup_bytes > 0 && (memory == 0 || cgroup_bytes < memory)) {
    memory = static_cast<size_t>(cgroup_bytes);
  }
  size_t max_bytes = max_mb << 20;
  if (memory > 0) max_bytes = std::min(max_bytes, memory / 4);
  // Never destroyed: tensors freed during static destruction still return their blocks.
  static auto* cache = new LargeBlockCache(max_bytes);
  c10::SetCPUAllocator(cache, /*priority=*/1);
  installed_cache = cache;
}

}  // namespace

void InstallLargeBlockCache() {
  static const bool installed = (Install(), true);
  (void)installed;
}

const LargeBlockCache* InstalledLargeBlockCache() { return installed_cache; }

}  // namespace aha
