// `aha launch --nproc N -- SUBCOMMAND ARGS...`: runs N ranks of a data-parallel aha command on
// this host, as torchrun --no-python would, and stops them all when one fails.
#include <cstdio>
#include <string>
#include <vector>

#include "apps/command.h"
#include "apps/flags.h"
#include "dist/launcher.h"

namespace aha::cli {
namespace {

const std::vector<FlagSpec> kFlags = {
    {"nproc", "number of ranks (processes) to start; default 2"},
    {"master_port", "MASTER_PORT passed to the ranks; default 29500. Ranks started by aha launch "
                    "meet through a file in the temp folder, so no rendezvous port is opened"},
    {"grace_seconds", "after a rank fails, seconds the others get to exit on SIGTERM before "
                      "SIGKILL; default 5"},
};

constexpr char kUsage[] =
    "--nproc N [--master_port P] [--grace_seconds S] -- SUBCOMMAND ARGS...\n"
    "  example: aha launch --nproc 2 -- train configs/r1_zero_countdown.yaml";

int RunLaunch(const std::vector<std::string>& args) {
  // Everything after "--" belongs to the subcommand, so its flags reach it untouched.
  std::vector<std::string> own_args, command;
  bool after_separator = false;
  for (const std::string& arg : args) {
    if (!after_separator && arg == "--") {
      after_separator = true;
    } else {
      (after_separator ? command : own_args).push_back(arg);
    }
  }
  auto flags = ParseFlags(own_args, kFlags);
  if (!flags.ok()) {
    std::fprintf(stderr, "aha launch: %s\n", std::string(flags.status().message()).c_str());
    return 2;
  }
  if (flags->Has("help") || command.empty() || !flags->positional().empty()) {
    PrintFlagHelp("launch", kUsage, kFlags);
    return flags->Has("help") ? 0 : 2;
  }
  dist::LaunchOptions options;
  auto nproc = flags->GetInt("nproc", 2);
  auto port = flags->GetInt("master_port", dist::kDefaultMasterPort);
  auto grace = flags->GetDouble("grace_seconds", 5.0);
  for (const absl::Status& status : {nproc.status(), port.status(), grace.status()}) {
    if (!status.ok()) {
      std::fprintf(stderr, "aha launch: %s\n", std::string(status.message()).c_str());
      return 2;
    }
  }
  if (*nproc < 1 || *nproc > 1024) {
    std::fprintf(stderr, "aha launch: --nproc must be in [1, 1024], got %lld\n",
                 static_cast<long long>(*nproc));
    return 2;
  }
  if (*port < 1 || *port > 65535) {
    std::fprintf(stderr, "aha launch: --master_port must be in [1, 65535], got %lld\n",
                 static_cast<long long>(*port));
    return 2;
  }
  if (*grace < 0) {
    std::fprintf(stderr, "aha launch: --grace_seconds must be >= 0\n");
    return 2;
  }
  options.nproc = static_cast<int>(*nproc);
  options.master_port = static_cast<int>(*port);
  options.grace = std::chrono::milliseconds(static_cast<int64_t>(*grace * 1000));
  options.args = command;

  absl::StatusOr<dist::LaunchResult> result = dist::Launch(options);
  if (!result.ok()) {
    std::fprintf(stderr, "aha launch: %s\n", std::string(result.status().message()).c_str());
    return 1;
  }
  if (result->failed_rank >= 0) {
    std::fprintf(stderr, "aha launch: failed: %s\n", result->failure.c_str());
  }
  return result->exit_code;
}

}  // namespace

AHA_COMMAND("launch", "run N ranks of a data-parallel command on this host", RunLaunch);

}  // namespace aha::cli
