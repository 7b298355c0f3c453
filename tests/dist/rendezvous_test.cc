#include "dist/rendezvous.h"

#include <gtest/gtest.h>

namespace aha::dist {
namespace {

TEST(RendezvousTest, EmptyEnvironmentIsSingleProcess) {
  absl::StatusOr<DistEnv> env = ParseDistEnv({});
  ASSERT_TRUE(env.ok()) << env.status();
  EXPECT_EQ(env->world_size, 1);
  EXPECT_EQ(env->rank, 0);
  EXPECT_FALSE(env->distributed());
  EXPECT_EQ(env->store, StoreKind::kNone);
}

TEST(RendezvousTest, TorchrunVariables) {
  absl::StatusOr<DistEnv> env =
      ParseDistEnv({{"RANK", "3"}, {"WORLD_SIZE", "4"}, {"LOCAL_RANK", "1"},
                    {"MASTER_ADDR", "10.0.0.7"}, {"MASTER_PORT", "29600"},
                    {"TORCHELASTIC_USE_AGENT_STORE", "True"},
                    {"TORCHELASTIC_RESTART_COUNT", "2"}});
  ASSERT_TRUE(env.ok()) << env.status();
  EXPECT_EQ(env->rank, 3);
  EXPECT_EQ(env->world_size, 4);
  EXPECT_EQ(env->local_rank, 1);
  EXPECT_EQ(env->master_addr, "10.0.0.7");
  EXPECT_EQ(env->master_port, 29600);
  EXPECT_EQ(env->store, StoreKind::kTorchrunAgent);
  EXPECT_EQ(env->restart_count, 2);
}

TEST(RendezvousTest, RanksByHandHostTcpStore) {
  absl::StatusOr<DistEnv> env =
      ParseDistEnv({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "node1"}});
  ASSERT_TRUE(env.ok()) << env.status();
  EXPECT_EQ(env->store, StoreKind::kTcp);
  EXPECT_EQ(env->master_port, kDefaultMasterPort);
  EXPECT_EQ(env->local_rank, 0);
}

TEST(RendezvousTest, StoreFileWinsOverTcp) {
  absl::StatusOr<DistEnv> env = ParseDistEnv(
      {{"RANK", "1"}, {"WORLD_SIZE", "2"}, {"AHA_STORE_FILE", "/tmp/x"}});
  ASSERT_TRUE(env.ok()) << env.status();
  EXPECT_EQ(env->store, StoreKind::kFile);
  EXPECT_EQ(env->store_file, "/tmp/x");
}

TEST(RendezvousTest, SlurmVariables) {
  absl::StatusOr<DistEnv> env =
      ParseDistEnv({{"SLURM_PROCID", "5"}, {"SLURM_NTASKS", "8"}, {"SLURM_LOCALID", "1"},
                    {"SLURM_JOB_NODELIST", "gpu[012-015,020],cpu1"}});
  ASSERT_TRUE(env.ok()) << env.status();
  EXPECT_EQ(env->source, "SLURM");
  EXPECT_EQ(env->rank, 5);
  EXPECT_EQ(env->world_size, 8);
  EXPECT_EQ(env->local_rank, 1);
  EXPECT_EQ(env->master_addr, "gpu012");
  EXPECT_EQ(env->store, StoreKind::kTcp);
}

TEST(RendezvousTest, SlurmLaunchNodeAddressAndMasterOverride) {
  absl::StatusOr<DistEnv> launch = ParseDistEnv(
      {{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "2"}, {"SLURM_LAUNCH_NODE_IPADDR", "10.1.2.3"}});
  ASSERT_TRUE(launch.ok()) << launch.status();
  EXPECT_EQ(launch->master_addr, "10.1.2.3");
  absl::StatusOr<DistEnv> master =
      ParseDistEnv({{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "2"}, {"MASTER_ADDR", "head"},
                    {"SLURM_JOB_NODELIST", "n[1-2]"}});
  ASSERT_TRUE(master.ok()) << master.status();
  EXPECT_EQ(master->master_addr, "head");
}

TEST(RendezvousTest, RankVariablesWinOverSlurm) {
  absl::StatusOr<DistEnv> env =
      ParseDistEnv({{"RANK", "1"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "127.0.0.1"},
                    {"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "1"}});
  ASSERT_TRUE(env.ok()) << env.status();
  EXPECT_EQ(env->rank, 1);
  EXPECT_EQ(env->source, "RANK/WORLD_SIZE");
}

TEST(RendezvousTest, InvalidValuesNameTheVariable) {
  struct Case {
    EnvMap env;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {{{"RANK", "0"}}, "WORLD_SIZE"},
      {{{"WORLD_SIZE", "2"}}, "RANK"},
      {{{"RANK", "x"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "a"}}, "RANK=x"},
      {{{"RANK", "2"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "a"}}, "RANK=2"},
      {{{"RANK", "0"}, {"WORLD_SIZE", "0"}}, "WORLD_SIZE=0"},
      {{{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "a"}, {"MASTER_PORT", "70000"}},
       "MASTER_PORT=70000"},
      {{{"RANK", "0"}, {"WORLD_SIZE", "2"}}, "MASTER_ADDR"},
      {{{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "2"}}, "MASTER_ADDR"},
      {{{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "2"}, {"SLURM_JOB_NODELIST", "n[1-2"}},
       "SLURM_JOB_NODELIST"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<DistEnv> env = ParseDistEnv(c.env);
    ASSERT_FALSE(env.ok()) << "expected an error mentioning " << c.expected;
    EXPECT_NE(env.status().message().find(c.expected), absl::string_view::npos)
        << env.status();
  }
}

TEST(RendezvousTest, FirstSlurmHost) {
  EXPECT_EQ(*FirstSlurmHost("node7"), "node7");
  EXPECT_EQ(*FirstSlurmHost("node[03-05,09],gpu1"), "node03");
  EXPECT_EQ(*FirstSlurmHost("a1,b2"), "a1");
  EXPECT_EQ(*FirstSlurmHost("rack[1-2]-n[07-08]"), "rack1-n07");
  EXPECT_FALSE(FirstSlurmHost("").ok());
  EXPECT_FALSE(FirstSlurmHost("n[").ok());
  EXPECT_FALSE(FirstSlurmHost("n]1").ok());
  EXPECT_FALSE(FirstSlurmHost("n[]").ok());
}

TEST(RendezvousTest, LoopbackAddresses) {
  EXPECT_TRUE(IsLoopbackAddress("127.0.0.1"));
  EXPECT_TRUE(IsLoopbackAddress("localhost"));
  EXPECT_TRUE(IsLoopbackAddress("::1"));
  EXPECT_FALSE(IsLoopbackAddress("10.0.0.1"));
}

}  // namespace
}  // namespace aha::dist
