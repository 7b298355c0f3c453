// Rendezvous settings of a data-parallel run, read from the environment that torchrun, SLURM or
// `aha launch` sets. Pure functions over an environment map, so tests pass fake maps.
//
// Precedence: RANK/WORLD_SIZE (torchrun, `aha launch`, or set by hand), then SLURM's
// SLURM_PROCID/SLURM_NTASKS (one srun task per rank), then a single process.
#ifndef AHA_DIST_RENDEZVOUS_H_
#define AHA_DIST_RENDEZVOUS_H_

#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace aha::dist {

inline constexpr int kDefaultMasterPort = 29500;

// How the ranks find each other before the process group connects.
enum class StoreKind {
  kNone,           // world size 1: no store, no process group
  kFile,           // AHA_STORE_FILE: a c10d FileStore that every rank of one host opens
  kTcp,            // rank 0 hosts a c10d TCPStore on MASTER_ADDR:MASTER_PORT
  kTorchrunAgent,  // torchrun already hosts the TCPStore there; every rank is a client
};

struct DistEnv {
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;
  std::string master_addr = "127.0.0.1";
  int master_port = kDefaultMasterPort;
  StoreKind store = StoreKind::kNone;
  std::string store_file;  // kFile
  int restart_count = 0;   // TORCHELASTIC_RESTART_COUNT: keys of a restarted group stay apart
  std::string source = "single process";  // "RANK/WORLD_SIZE", "SLURM" or "single process"

  bool distributed() const { return world_size > 1; }
};

using EnvMap = std::map<std::string, std::string>;

// Parses the variables above. Returns InvalidArgumentError naming the variable for a
// non-integer or out-of-range value, RANK without WORLD_SIZE (or the reverse), and a world
// size above 1 without any rendezvous address.
absl::StatusOr<DistEnv> ParseDistEnv(const EnvMap& env);

// This process's environment as a map.
EnvMap ProcessEnv();

// The first host of a SLURM node list: "node[03-05,09],gpu1" gives "node03", and
// "rack[1-2]-n[07-08]" gives "rack1-n07". Returns InvalidArgumentError for an empty list or
// unbalanced brackets.
absl::StatusOr<std::string> FirstSlurmHost(absl::string_view nodelist);

// Whether `address` is "localhost", an IPv4 address in 127.0.0.0/8 or "::1".
bool IsLoopbackAddress(absl::string_view address);

}  // namespace aha::dist

#endif  // AHA_DIST_RENDEZVOUS_H_
