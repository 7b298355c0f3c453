#ifndef AHA_POLICY_CPU_THREADS_H_
#define AHA_POLICY_CPU_THREADS_H_

#include <cstdint>

namespace aha {

// Sets LibTorch's intra-op thread count and returns the count in use. A positive `requested`
// wins. With 0, and OMP_NUM_THREADS and MKL_NUM_THREADS unset (LibTorch reads those itself),
// each process takes the CPUs it may run on (its affinity mask, so `taskset` and cpusets
// count), shared out among LOCAL_WORLD_SIZE local ranks when `aha launch` set it.
//
// Why not LibTorch's own default: Debian's LibTorch 1.13 chose 1 thread on the 2-core
// development VM, where 2 made `aha eval` 1.4x faster.
int ConfigureCpuThreads(int64_t requested);

// Returns the count ConfigureCpuThreads(0) picks: 0 when OMP_NUM_THREADS or MKL_NUM_THREADS is
// set, else the usable CPUs divided by LOCAL_WORLD_SIZE, at least 1. CPU quotas (cgroup
// cpu.max, `docker --cpus`) are not counted, only the affinity mask.
int AutomaticCpuThreads();

}  // namespace aha

#endif  // AHA_POLICY_CPU_THREADS_H_
