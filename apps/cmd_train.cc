// `aha train CONFIG`: runs GRPO (R1-Zero style RL) as configured in a YAML file.
#include <torch/torch.h>

#include <cstdio>
#include <string>
#include <vector>

#include "apps/command.h"
#include "apps/flags.h"
#include "base/status_macros.h"
#include "dist/communicator.h"
#include "dist/rendezvous.h"
#include "trainer/grpo_config.h"
#include "trainer/grpo_trainer.h"

namespace aha::cli {
namespace {

const std::vector<FlagSpec> kFlags = {
    {"resume",
     "continue from OUT_DIR/checkpoint when it exists; without it, an OUT_DIR that contains a "
     "run is rejected",
     /*is_switch=*/true},
    {"steps", "override grpo.steps"},
    {"out", "override run.out_dir"},
    {"policy", "override policy.path (the model folder to start from)"},
    {"set", "override any config value, KEY.PATH=VALUE (YAML), e.g. --set optimizer.lr=1e-6; "
            "repeatable", /*is_switch=*/false, /*repeatable=*/true},
    CheckFlag(),
};

absl::Status Train(const std::string& config_path, const ParsedFlags& flags) {
  ASSIGN_OR_RETURN(GrpoRunConfig config, LoadGrpoRunConfig(config_path, flags.GetAll("set")));
  ASSIGN_OR_RETURN(int64_t steps, flags.GetInt("steps", config.grpo.steps));
  if (steps < 1) return absl::InvalidArgumentError("--steps must be >= 1");
  config.grpo.steps = steps;
  config.out_dir = flags.GetOr("out", config.out_dir);
  config.policy_path = flags.GetOr("policy", config.policy_path);
  if (flags.Has("check")) {
    RETURN_IF_ERROR(BuildGrpoRunInputs(config).status());
    PrintConfigValid("train", config_path);
    return absl::OkStatus();
  }

  // RANK/WORLD_SIZE (aha launch, torchrun) or SLURM's variables make this process one rank of
  // a data-parallel run. Without them it is the only process and opens no process group.
  ASSIGN_OR_RETURN(dist::DistEnv env, dist::ParseDistEnv(dist::ProcessEnv()));
  std::shared_ptr<dist::Communicator> communicator;
  if (env.distributed()) {
    dist::CommunicatorOptions options;
    options.timeout = std::chrono::milliseconds(
        static_cast<int64_t>(config.dist_timeout_seconds * 1000));
    options.bucket_bytes = static_cast<int64_t>(config.dist_bucket_mb * (1 << 20));
    options.cuda = config.device == "cuda";
    ASSIGN_OR_RETURN(communicator, dist::Communicator::Create(env, options));
  }
  const bool main_rank = communicator == nullptr || communicator->is_main();
  if (main_rank) {
    std::printf("aha train: %s -> %s (B=%lld prompts x G=%lld, %lld steps", config_path.c_str(),
                config.out_dir.c_str(), static_cast<long long>(config.grpo.prompts_per_step),
                static_cast<long long>(config.grpo.group_size),
                static_cast<long long>(config.grpo.steps));
    if (communicator) std::printf(", %d ranks from %s", env.world_size, env.source.c_str());
    std::printf(")\n");
  }
  TerminalProgress progress;
  ASSIGN_OR_RETURN(auto trainer, GrpoTrainer::Create(config, flags.Has("resume"),
                                                     main_rank ? &progress : nullptr,
                                                     communicator));
  return trainer->Run();
}

int RunTrain(const std::vector<std::string>& args) {
  auto flags = ParseFlags(args, kFlags);
  if (!flags.ok()) {
    std::fprintf(stderr, "aha train: %s\n", std::string(flags.status().message()).c_str());
    return 2;
  }
  if (flags->Has("help") || flags->positional().size() != 1) {
    PrintFlagHelp("train", "CONFIG.yaml [--resume] [--steps N] [--out DIR] [--policy DIR]",
                  kFlags);
    return flags->Has("help") ? 0 : 2;
  }
  absl::Status status = Train(flags->positional()[0], *flags);
  if (!status.ok()) {
    std::fprintf(stderr, "aha train: %s\n", std::string(status.message()).c_str());
    return 1;
  }
  return 0;
}

}  // namespace

AHA_COMMAND("train", "run GRPO reinforcement learning from a YAML config", RunTrain);

}  // namespace aha::cli
