// Environment parsing for the rendezvous: torchrun's and SLURM's variables.
#include "dist/rendezvous.h"

#include <optional>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"

extern char** environ;

namespace aha::dist {
namespace {

std::optional<std::string> Lookup(const EnvMap& env, const std::string& name) {
  auto it = env.find(name);
  if (it == env.end() || it->second.empty()) return std::nullopt;
  return it->second;
}

// Reads integer variable `name` into `value` when it is set; `min` and `max` bound it.
absl::Status ReadInt(const EnvMap& env, const std::string& name, int min, int max, int& value) {
  std::optional<std::string> text = Lookup(env, name);
  if (!text) return absl::OkStatus();
  int parsed = 0;
  if (!absl::SimpleAtoi(*text, &parsed) || parsed < min || parsed > max) {
    return absl::InvalidArgumentError(absl::StrCat("environment variable ", name, "=", *text,
                                                   " must be an integer in [", min, ", ", max,
                                                   "]"));
  }
  value = parsed;
  return absl::OkStatus();
}

absl::Status ReadRankVariables(const EnvMap& env, DistEnv& out) {
  const bool has_rank = Lookup(env, "RANK").has_value();
  const bool has_world = Lookup(env, "WORLD_SIZE").has_value();
  if (has_rank != has_world) {
    return absl::InvalidArgumentError(absl::StrCat(
        "environment variable ", has_rank ? "RANK" : "WORLD_SIZE", " is set but ",
        has_rank ? "WORLD_SIZE" : "RANK",
        " is not; set both, or start the ranks with `aha launch` or torchrun"));
  }
  out.source = "RANK/WORLD_SIZE";
  RETURN_IF_ERROR(ReadInt(env, "WORLD_SIZE", 1, 1 << 20, out.world_size));
  RETURN_IF_ERROR(ReadInt(env, "RANK", 0, out.world_size - 1, out.rank));
  out.local_rank = out.rank;
  return ReadInt(env, "LOCAL_RANK", 0, out.world_size - 1, out.local_rank);
}

absl::Status ReadSlurmVariables(const EnvMap& env, DistEnv& out) {
  out.source = "SLURM";
  RETURN_IF_ERROR(ReadInt(env, "SLURM_NTASKS", 1, 1 << 20, out.world_size));
  RETURN_IF_ERROR(ReadInt(env, "SLURM_PROCID", 0, out.world_size - 1, out.rank));
  RETURN_IF_ERROR(ReadInt(env, "SLURM_LOCALID", 0, out.world_size - 1, out.local_rank));
  if (Lookup(env, "MASTER_ADDR")) return absl::OkStatus();
  if (std::optional<std::string> nodes = Lookup(env, "SLURM_JOB_NODELIST")) {
    absl::StatusOr<std::string> host = FirstSlurmHost(*nodes);
    if (!host.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "environment variable SLURM_JOB_NODELIST: ", host.status().message(),
          "; set MASTER_ADDR to the host of rank 0"));
    }
    out.master_addr = *host;
  } else if (std::optional<std::string> launch = Lookup(env, "SLURM_LAUNCH_NODE_IPADDR")) {
    out.master_addr = *launch;
  } else if (out.world_size > 1) {
    return absl::InvalidArgumentError(
        "SLURM sets SLURM_NTASKS > 1 but neither SLURM_JOB_NODELIST nor "
        "SLURM_LAUNCH_NODE_IPADDR; set MASTER_ADDR to the host of rank 0");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<DistEnv> ParseDistEnv(const EnvMap& env) {
  DistEnv out;
  if (Lookup(env, "RANK") || Lookup(env, "WORLD_SIZE")) {
    RETURN_IF_ERROR(ReadRankVariables(env, out));
  } else if (Lookup(env, "SLURM_PROCID") && Lookup(env, "SLURM_NTASKS")) {
    RETURN_IF_ERROR(ReadSlurmVariables(env, out));
  }
  if (!out.distributed()) {
    out.store = StoreKind::kNone;
    return out;
  }

  if (std::optional<std::string> addr = Lookup(env, "MASTER_ADDR")) out.master_addr = *addr;
  RETURN_IF_ERROR(ReadInt(env, "MASTER_PORT", 1, 65535, out.master_port));
  RETURN_IF_ERROR(ReadInt(env, "TORCHELASTIC_RESTART_COUNT", 0, 1 << 20, out.restart_count));
  if (std::optional<std::string> file = Lookup(env, "AHA_STORE_FILE")) {
    out.store = StoreKind::kFile;
    out.store_file = *file;
  } else if (Lookup(env, "TORCHELASTIC_USE_AGENT_STORE").value_or("") == "True") {
    out.store = StoreKind::kTorchrunAgent;
  } else {
    out.store = StoreKind::kTcp;
  }
  if (out.store != StoreKind::kFile && out.source == "RANK/WORLD_SIZE" &&
      !Lookup(env, "MASTER_ADDR")) {
    return absl::InvalidArgumentError(absl::StrCat(
        "WORLD_SIZE=", out.world_size, " but MASTER_ADDR is not set; set MASTER_ADDR and "
        "MASTER_PORT to the address where rank 0 listens, or start the ranks with `aha launch`"));
  }
  return out;
}

EnvMap ProcessEnv() {
  EnvMap env;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    absl::string_view text(*entry);
    const size_t equals = text.find('=');
    if (equals == absl::string_view::npos) continue;
    env[std::string(text.substr(0, equals))] = std::string(text.substr(equals + 1));
  }
  return env;
}

absl::StatusOr<std::string> FirstSlurmHost(absl::string_view nodelist) {
  // Copies characters up to the first top-level comma; inside each [...] keeps only the first
  // entry of the first range ("03-05,09" gives "03").
  std::string host;
  size_t i = 0;
  while (i < nodelist.size() && nodelist[i] != ',') {
    if (nodelist[i] == ']') break;
    if (nodelist[i] != '[') {
      host += nodelist[i++];
      continue;
    }
    const size_t close = nodelist.find(']', i);
    if (close == absl::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat("unbalanced '[' in node list \"", nodelist,
                                                     "\""));
    }
    absl::string_view inside = nodelist.substr(i + 1, close - i - 1);
    absl::string_view first = inside.substr(0, inside.find_first_of(",-"));
    if (first.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("empty range in node list \"", nodelist,
                                                     "\""));
    }
    host += std::string(first);
    i = close + 1;
  }
  if (i < nodelist.size() && nodelist[i] == ']') {
    return absl::InvalidArgumentError(absl::StrCat("unbalanced ']' in node list \"", nodelist,
                                                   "\""));
  }
  if (host.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("node list \"", nodelist, "\" has no host"));
  }
  return host;
}

bool IsLoopbackAddress(absl::string_view address) {
  return address == "localhost" || address == "::1" || absl::StartsWith(address, "127.");
}

}  // namespace aha::dist
