// Process-group creation (store, then Gloo or NCCL), the bucketed collectives, and the
// diagnosis of a failed collective through the store.
#ifndef USE_C10D_GLOO
// ProcessGroupGloo.hpp declares its class only when this is defined, in 1.13 and 2.x alike.
#define USE_C10D_GLOO
#endif
#include "dist/communicator.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <fstream>
#include <functional>
#include <thread>

#include <torch/csrc/distributed/c10d/FileStore.hpp>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/torch.h>
#include <torch/version.h>
// A CUDA LibTorch's CMake target defines USE_C10D_NCCL for every consumer, but including
// ProcessGroupNCCL.hpp also needs NCCL's own nccl.h, so aha asks for NCCL only where the build
// says so (-DAHA_WITH_NCCL=ON) and a CUDA build without NCCL's headers still compiles.
#ifdef AHA_WITH_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace aha::dist {
namespace {

// LibTorch 2.x split the collectives out of ProcessGroup into Backend; ProcessGroupGloo and
// ProcessGroupNCCL derive from whichever of the two this version has.
#if TORCH_VERSION_MAJOR >= 2
using CollectiveBackend = c10d::Backend;
#else
using CollectiveBackend = c10d::ProcessGroup;
#endif

using Clock = std::chrono::steady_clock;

// c10::Error's what() carries a C++ backtrace; users need the first line only.
std::string ErrorText(const std::exception& e) {
  if (const auto* c10_error = dynamic_cast<const c10::Error*>(&e)) {
    return c10_error->what_without_backtrace();
  }
  return e.what();
}

std::string HostName() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0) return "unknown-host";
  return name;
}

// Whether process `pid` of this host is still running; a zombie (exited, not yet reaped by
// its parent) counts as exited.
bool ProcessRunning(int64_t pid) {
  if (kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) return false;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return true;
  const size_t paren = line.rfind(')');
  return paren == std::string::npos || paren + 2 >= line.size() || line[paren + 2] != 'Z';
}

std::string ToString(const std::vector<uint8_t>& bytes) {
  return std::string(bytes.begin(), bytes.end());
}

std::vector<uint8_t> ToBytes(const std::string& text) {
  return std::vector<uint8_t>(text.begin(), text.end());
}

absl::StatusOr<c10::intrusive_ptr<c10d::Store>> OpenStore(const DistEnv& env,
                                                          std::chrono::milliseconds timeout) {
  c10::intrusive_ptr<c10d::Store> store;
  try {
    if (env.store == StoreKind::kFile) {
      store = c10::make_intrusive<c10d::FileStore>(env.store_file, env.world_size);
      store->setTimeout(timeout);
    } else {
      c10d::TCPStoreOptions options;
      options.port = static_cast<uint16_t>(env.master_port);
      // NOTE: c10d's TCPStore server listens on every interface of rank 0's host, as
      // torch.distributed's does; `aha launch` uses a FileStore so that a one-host run opens
      // no rendezvous port.
      options.isServer = env.store == StoreKind::kTcp && env.rank == 0;
      options.numWorkers = static_cast<size_t>(env.world_size);
      options.waitWorkers = false;
      options.timeout = timeout;
      store = c10::make_intrusive<c10d::TCPStore>(env.master_addr, options);
    }
  } catch (const std::exception& e) {
    const std::string where = env.store == StoreKind::kFile
                                  ? absl::StrCat("FileStore ", env.store_file)
                                  : absl::StrCat("TCPStore ", env.master_addr, ":",
                                                 env.master_port);
    return absl::UnavailableError(absl::StrCat("rank ", env.rank, ": cannot open the rendezvous ",
                                               where, ": ", ErrorText(e)));
  }
  // Keys of a torchrun restart must not meet the previous attempt's keys.
  return c10::intrusive_ptr<c10d::Store>(c10::make_intrusive<c10d::PrefixStore>(
      absl::StrCat("aha/attempt", env.restart_count), store));
}

std::shared_ptr<::gloo::transport::Device> MakeGlooDevice(const DistEnv& env) {
  // Loopback master: every rank is on this host, so Gloo binds 127.0.0.1 and opens nothing
  // to the network.
  if (env.store == StoreKind::kFile || IsLoopbackAddress(env.master_addr)) {
    return c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1");
  }
  if (const char* interface = std::getenv("GLOO_SOCKET_IFNAME")) {
    return c10d::ProcessGroupGloo::createDeviceForInterface(interface);
  }
  return c10d::ProcessGroupGloo::createDefaultDevice();
}

// Splits `tensors` in order into runs of one dtype and device of at most `bucket_bytes`.
std::vector<std::vector<torch::Tensor>> MakeBuckets(const std::vector<torch::Tensor>& tensors,
                                                    int64_t bucket_bytes) {
  std::vector<std::vector<torch::Tensor>> buckets;
  int64_t bytes = 0;
  for (const torch::Tensor& t : tensors) {
    const int64_t size = t.numel() * static_cast<int64_t>(t.element_size());
    const bool fits = !buckets.empty() && bytes + size <= bucket_bytes &&
                      buckets.back().front().scalar_type() == t.scalar_type() &&
                      buckets.back().front().device() == t.device();
    if (!fits) {
      buckets.emplace_back();
      bytes = 0;
    }
    buckets.back().push_back(t);
    bytes += size;
  }
  return buckets;
}

torch::Tensor Flatten(const std::vector<torch::Tensor>& bucket) {
  std::vector<torch::Tensor> flat;
  flat.reserve(bucket.size());
  for (const torch::Tensor& t : bucket) flat.push_back(t.reshape({-1}));
  return torch::cat(flat);
}

void Unflatten(const torch::Tensor& flat, const std::vector<torch::Tensor>& bucket) {
  int64_t offset = 0;
  for (const torch::Tensor& t : bucket) {
    t.copy_(flat.narrow(0, offset, t.numel()).view(t.sizes()));
    offset += t.numel();
  }
}

}  // namespace

struct Communicator::Impl {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<CollectiveBackend> group;
  std::string host;
  int64_t collectives = 0;  // collectives started by this rank, for the failure message

  // Runs one collective: records its index in the store, then waits for it.
  absl::Status Run(int rank, const char* what,
                   const std::function<c10::intrusive_ptr<c10d::Work>()>& start);
  // `failed`: the collective failed other than by timing out, e.g. a peer closed its connection.
  std::string DescribePeers(int rank, int world_size, int64_t index, bool failed);
  // The integer stored under `key`, or 0 when the key is absent.
  int64_t ReadCounter(const std::string& key);
};

int64_t Communicator::Impl::ReadCounter(const std::string& key) {
  int64_t value = 0;
  if (store->check({key})) absl::SimpleAtoi(ToString(store->get(key)), &value);
  return value;
}

absl::Status Communicator::Impl::Run(
    int rank, const char* what, const std::function<c10::intrusive_ptr<c10d::Work>()>& start) {
  const int64_t index = ++collectives;
  const auto started = Clock::now();
  try {
    store->set(absl::StrCat("progress/", rank), ToBytes(std::to_string(index)));
    start()->wait();
    store->set(absl::StrCat("done/", rank), ToBytes(std::to_string(index)));
    return absl::OkStatus();
  } catch (const std::exception& e) {
    const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
    const std::string error = ErrorText(e);
    // Gloo reports its timeouts as "Timed out waiting ...".
    const bool timed_out = absl::StrContains(error, "imed out");
    const std::string message = absl::StrCat(
        "rank ", rank, ": collective #", index, " (", what, ") ",
        timed_out ? "timed out" : "failed", " after ", absl::StrFormat("%.1f", seconds),
        " s: ", error.substr(0, error.find('\n')), ". ",
        DescribePeers(rank, group->getSize(), index, /*failed=*/!timed_out));
    if (timed_out) return absl::DeadlineExceededError(message);
    return absl::UnavailableError(message);
  }
}

// Names the peers that exited, never reached collective `index` or did not finish it, from the
// keys each rank writes to the store: "pid/R" (host and pid, at start), "progress/R" (the latest
// collective it started) and "done/R" (the latest it finished).
std::string Communicator::Impl::DescribePeers(int rank, int world_size, int64_t index,
                                              bool failed) {
  struct Peer {
    int rank = 0;
    int64_t progress = 0, done = 0;
    int64_t pid = 0;  // 0 unless it runs on this host
    bool exited = false;
  };
  std::vector<Peer> peers;
  try {
    store->setTimeout(std::chrono::seconds(5));
    for (int r = 0; r < world_size; ++r) {
      if (r == rank) continue;
      Peer peer;
      peer.rank = r;
      peer.progress = ReadCounter(absl::StrCat("progress/", r));
      peer.done = ReadCounter(absl::StrCat("done/", r));
      std::vector<std::string> identity =
          absl::StrSplit(ToString(store->get(absl::StrCat("pid/", r))), ' ');
      if (identity.size() != 2 || identity[0] != host ||
          !absl::SimpleAtoi(identity[1], &peer.pid)) {
        peer.pid = 0;
      }
      peers.push_back(peer);
    }
  } catch (const std::exception& e) {
    return absl::StrCat("The rendezvous store is unreachable (", ErrorText(e),
                        "), so rank 0, which hosts a TCPStore, has probably exited");
  }
  // A killed process closes its sockets before it turns into a zombie, so right after a failed
  // (not timed out) collective a dead peer can still look alive. Every local peer that does
  // gets up to a second, shared by all of them, to be seen exiting.
  const auto exit_deadline = Clock::now() + std::chrono::seconds(failed ? 1 : 0);
  for (;;) {
    bool waiting = false;
    for (Peer& peer : peers) {
      if (peer.pid != 0 && !peer.exited) peer.exited = !ProcessRunning(peer.pid);
      waiting = waiting || (peer.pid != 0 && !peer.exited);
    }
    if (!waiting || Clock::now() >= exit_deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::vector<std::string> findings;
  for (const Peer& peer : peers) {
    if (peer.exited) {
      findings.push_back(absl::StrCat("rank ", peer.rank, " (pid ", peer.pid, ") has exited"));
    } else if (peer.progress < index) {
      findings.push_back(absl::StrCat("rank ", peer.rank, " has not reached this collective "
                                      "(its latest is #", peer.progress, "): it hangs or is "
                                      "slower than the timeout"));
    } else if (peer.progress == index && peer.done < index) {
      // NOTE: with more than 2 ranks, a healthy rank that waits in this collective for a
      // stuck third rank is listed here too.
      findings.push_back(absl::StrCat("rank ", peer.rank, " started this collective but has "
                                      "not finished it: it may be stopped or hang inside it"));
    }
  }
  if (findings.empty()) return "Every other rank reached this collective and is running.";
  return absl::StrCat(absl::StrJoin(findings, "; "), ".");
}

Communicator::Communicator(int rank, int world_size, CommunicatorOptions options)
    : rank_(rank), world_size_(world_size), options_(options), impl_(std::make_unique<Impl>()) {}

Communicator::~Communicator() = default;

absl::StatusOr<std::unique_ptr<Communicator>> Communicator::Create(
    const DistEnv& env, const CommunicatorOptions& options) {
  if (!env.distributed() || env.store == StoreKind::kNone) {
    return absl::InvalidArgumentError(absl::StrCat(
        "a communicator needs a world size above 1 and a rendezvous store; got world size ",
        env.world_size));
  }
  std::unique_ptr<Communicator> comm(new Communicator(env.rank, env.world_size, options));
  Impl& impl = *comm->impl_;
  impl.host = HostName();
  auto store = OpenStore(env, options.timeout);
  if (!store.ok()) return store.status();
  impl.store = *store;
  // A socket write to a peer that has just died raises SIGPIPE, which killed this rank before
  // it could name the peer (seen in the killed-rank test). Ignored, the write fails with EPIPE
  // and the collective reports it. This holds for the whole process from here on (see
  // docs/distributed.md). Reward commands get the default back when they are spawned.
  std::signal(SIGPIPE, SIG_IGN);

  const auto started = Clock::now();
  try {
    impl.store->set(absl::StrCat("pid/", env.rank),
                    ToBytes(absl::StrCat(impl.host, " ", static_cast<int64_t>(getpid()))));
    if (options.cuda) {
#ifdef AHA_WITH_NCCL
      auto nccl_options = c10d::ProcessGroupNCCL::Options::create();
      nccl_options->timeout = options.timeout;
      impl.group = c10::make_intrusive<c10d::ProcessGroupNCCL>(impl.store, env.rank,
                                                                env.world_size, nccl_options);
#else
      return absl::FailedPreconditionError(
          "run.device is cuda, but aha was built without NCCL; rebuild "
          "against a CUDA LibTorch with -DAHA_WITH_NCCL=ON");
#endif
    } else {
      auto gloo_options = c10d::ProcessGroupGloo::Options::create(options.timeout);
      gloo_options->devices.push_back(MakeGlooDevice(env));
      impl.group = c10::make_intrusive<c10d::ProcessGroupGloo>(impl.store, env.rank,
                                                                env.world_size, gloo_options);
    }
  } catch (const std::exception& e) {
    const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
    return absl::DeadlineExceededError(absl::StrCat(
        "rank ", env.rank, ": the ", env.world_size, " ranks did not connect within ",
        absl::StrFormat("%.1f", seconds), " s (", ErrorText(e).substr(0, 300),
        "); check that every rank started with the same WORLD_SIZE and rendezvous (",
        env.source, ")"));
  }
  return comm;
}

absl::Status Communicator::AllReduceGradients(const std::vector<torch::Tensor>& parameters) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> grads;
  grads.reserve(parameters.size());
  for (const torch::Tensor& p : parameters) {
    torch::Tensor& grad = const_cast<torch::Tensor&>(p).mutable_grad();
    if (!grad.defined()) grad = torch::zeros_like(p);
    grads.push_back(grad);
  }
  for (const auto& bucket : MakeBuckets(grads, options_.bucket_bytes)) {
    std::vector<torch::Tensor> flat = {Flatten(bucket)};
    absl::Status status = impl_->Run(rank_, "all-reduce of gradients",
                                     [&] { return impl_->group->allreduce(flat); });
    if (!status.ok()) return status;
    Unflatten(flat[0], bucket);
  }
  return absl::OkStatus();
}

absl::Status Communicator::BroadcastFromMain(const std::vector<torch::Tensor>& tensors) {
  torch::NoGradGuard no_grad;
  for (const auto& bucket : MakeBuckets(tensors, options_.bucket_bytes)) {
    std::vector<torch::Tensor> flat = {Flatten(bucket)};
    c10d::BroadcastOptions broadcast;
    broadcast.rootRank = 0;
    absl::Status status = impl_->Run(rank_, "broadcast of parameters from rank 0",
                                     [&] { return impl_->group->broadcast(flat, broadcast); });
    if (!status.ok()) return status;
    Unflatten(flat[0], bucket);
  }
  return absl::OkStatus();
}

namespace {

std::vector<double> ToVector(const torch::Tensor& t) {
  torch::Tensor cpu = t.to(torch::kCPU, torch::kFloat64).contiguous();
  return std::vector<double>(cpu.data_ptr<double>(), cpu.data_ptr<double>() + cpu.numel());
}

}  // namespace

absl::StatusOr<std::vector<double>> Communicator::SumAcrossRanks(
    const std::vector<double>& values) {
  return ReduceValues(values, /*take_max=*/false);
}

absl::StatusOr<std::vector<double>> Communicator::MaxAcrossRanks(
    const std::vector<double>& values) {
  return ReduceValues(values, /*take_max=*/true);
}

absl::StatusOr<std::vector<double>> Communicator::ReduceValues(const std::vector<double>& values,
                                                               bool take_max) {
  // Every rank passes the same length, so every rank skips an empty reduction.
  if (values.empty()) return values;
  std::vector<torch::Tensor> tensors = {torch::tensor(values, torch::kFloat64)};
  c10d::AllreduceOptions reduce;
  reduce.reduceOp = take_max ? c10d::ReduceOp::MAX : c10d::ReduceOp::SUM;
  absl::Status status = impl_->Run(rank_, take_max ? "max of metrics" : "sum of metrics",
                                   [&] { return impl_->group->allreduce(tensors, reduce); });
  if (!status.ok()) return status;
  return ToVector(tensors[0]);
}

absl::StatusOr<torch::Tensor> Communicator::AllGather(const torch::Tensor& local) {
  std::vector<torch::Tensor> inputs = {local.contiguous()};
  std::vector<std::vector<torch::Tensor>> outputs(1);
  for (int r = 0; r < world_size_; ++r) outputs[0].push_back(torch::empty_like(inputs[0]));
  absl::Status status = impl_->Run(rank_, "all-gather",
                                   [&] { return impl_->group->allgather(outputs, inputs); });
  if (!status.ok()) return status;
  return torch::cat(outputs[0], 0);
}

absl::Status Communicator::Barrier() {
  return impl_->Run(rank_, "barrier", [&] { return impl_->group->barrier(); });
}

}  // namespace aha::dist
