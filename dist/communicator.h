// Communicator: the collectives of data-parallel training on a c10d process group (Gloo on CPU,
// NCCL in CUDA builds configured with -DAHA_WITH_NCCL=ON). Gradients and parameters travel in flat
// buckets; small metric vectors travel as one float64 tensor.
//
// Every collective must be called by every rank in the same order. A failed or timed-out
// collective returns an error instead of throwing, and the message names the ranks that did
// not reach it when the store can tell (see Impl::DescribePeers in communicator.cc).
#ifndef AHA_DIST_COMMUNICATOR_H_
#define AHA_DIST_COMMUNICATOR_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <torch/types.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "dist/rendezvous.h"

namespace aha::dist {

struct CommunicatorOptions {
  // How long the rendezvous and each collective wait for the other ranks before failing.
  std::chrono::milliseconds timeout{std::chrono::seconds(300)};
  // Gradients and parameters are copied into flat buffers of at most this many bytes, one
  // collective per buffer; a tensor larger than this gets a buffer of its own.
  int64_t bucket_bytes = int64_t{25} << 20;
  // Run collectives on CUDA tensors with NCCL; requires a build with -DAHA_WITH_NCCL=ON.
  bool cuda = false;
};

class Communicator {
 public:
  // Joins the process group that `env` describes; `env.world_size` must be above 1. Returns
  // DeadlineExceededError when the other ranks do not arrive within options.timeout, and
  // UnavailableError when the store cannot be opened or reached.
  static absl::StatusOr<std::unique_ptr<Communicator>> Create(
      const DistEnv& env, const CommunicatorOptions& options);
  ~Communicator();

  int rank() const { return rank_; }
  int world_size() const { return world_size_; }
  bool is_main() const { return rank_ == 0; }
  const CommunicatorOptions& options() const { return options_; }

  // Sums each parameter's gradient over the ranks, in place. A parameter without a gradient
  // gets a zero gradient first, so that every rank sends the same buckets.
  absl::Status AllReduceGradients(const std::vector<torch::Tensor>& parameters);

  // Copies rank 0's values of `tensors` into every rank's `tensors`, in place.
  absl::Status BroadcastFromMain(const std::vector<torch::Tensor>& tensors);

  // Element-wise sum (max) of `values` over the ranks; every rank passes the same length.
  absl::StatusOr<std::vector<double>> SumAcrossRanks(const std::vector<double>& values);
  absl::StatusOr<std::vector<double>> MaxAcrossRanks(const std::vector<double>& values);

  // Concatenates every rank's `local` (n, ...) along dim 0 in rank order: (world_size * n,
  // ...). Every rank passes the same shape and dtype.
  absl::StatusOr<torch::Tensor> AllGather(const torch::Tensor& local);

  absl::Status Barrier();

 private:
  struct Impl;
  Communicator(int rank, int world_size, CommunicatorOptions options);
  absl::StatusOr<std::vector<double>> ReduceValues(const std::vector<double>& values,
                                                   bool take_max);

  int rank_;
  int world_size_;
  CommunicatorOptions options_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace aha::dist

#endif  // AHA_DIST_COMMUNICATOR_H_
