#include "dist/communicator.h"

#include <signal.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <thread>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "dist/metric_reduction.h"
#include "tests/dist/forked_ranks.h"
#include "tests/unique_temp_path.h"

namespace aha::dist {
namespace {

using Clock = std::chrono::steady_clock;

// Reports a failed check from inside a forked rank, which gtest cannot see.
#define RANK_CHECK(cond)                                                          \
  do {                                                                            \
    if (!(cond)) {                                                                \
      std::fprintf(stderr, "rank %d: check failed: %s\n", comm.rank(), #cond);    \
      return 1;                                                                   \
    }                                                                             \
  } while (0)

#define RANK_OK(expr)                                                             \
  do {                                                                            \
    absl::Status status_ = (expr);                                                \
    if (!status_.ok()) {                                                          \
      std::fprintf(stderr, "rank %d: %s\n", comm.rank(),                          \
                   std::string(status_.message()).c_str());                      \
      return 2;                                                                   \
    }                                                                             \
  } while (0)

class CommunicatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_file_ = aha_test::UniqueTempPath("communicator_store");
    std::filesystem::remove(store_file_);
    options_.timeout = std::chrono::seconds(20);
  }
  void TearDown() override { std::filesystem::remove(store_file_); }

  std::vector<int> Run(int world, const std::function<int(Communicator&)>& body) {
    return aha_test::WaitForRanks(aha_test::ForkRanks(world, store_file_, options_, body));
  }

  std::string store_file_;
  CommunicatorOptions options_;
};

TEST_F(CommunicatorTest, AllReduceSumsGradientsInSmallBuckets) {
  options_.bucket_bytes = 64;  // 16 floats: the 40-float tensor gets a bucket of its own
  const std::vector<int> codes = Run(2, [](Communicator& comm) {
    torch::set_num_threads(1);
    std::vector<torch::Tensor> params = {torch::zeros({3}), torch::zeros({5, 8}),
                                         torch::zeros({2, 2}), torch::zeros({4})};
    for (size_t i = 0; i < params.size(); ++i) {
      params[i].set_requires_grad(true);
      if (i == 3) continue;  // no gradient on this rank
      params[i].mutable_grad() =
          torch::arange(params[i].numel(), torch::kFloat32).view(params[i].sizes()) *
          (comm.rank() + 1) + static_cast<double>(i);
    }
    RANK_OK(comm.AllReduceGradients(params));
    for (size_t i = 0; i < 3; ++i) {
      torch::Tensor base = torch::arange(params[i].numel(), torch::kFloat32)
                               .view(params[i].sizes());
      RANK_CHECK(params[i].grad().equal(base * 3 + 2.0 * i));
    }
    RANK_CHECK(params[3].grad().defined());
    RANK_CHECK(params[3].grad().equal(torch::zeros({4})));
    return 0;
  });
  EXPECT_EQ(codes, std::vector<int>({0, 0}));
}

TEST_F(CommunicatorTest, BroadcastCopiesMainRankValues) {
  options_.bucket_bytes = 32;
  const std::vector<int> codes = Run(3, [](Communicator& comm) {
    std::vector<torch::Tensor> params = {torch::full({7}, 5.0 + comm.rank()),
                                         torch::full({2, 3}, 10.0 + comm.rank(), torch::kFloat64)};
    params[0].set_requires_grad(true);
    RANK_OK(comm.BroadcastFromMain(params));
    RANK_CHECK(params[0].equal(torch::full({7}, 5.0)));
    RANK_CHECK(params[1].equal(torch::full({2, 3}, 10.0, torch::kFloat64)));
    return 0;
  });
  EXPECT_EQ(codes, std::vector<int>({0, 0, 0}));
}

TEST_F(CommunicatorTest, MetricReductionsAndAllGather) {
  const std::vector<int> codes = Run(2, [](Communicator& comm) {
    const double r = comm.rank();
    absl::StatusOr<std::vector<double>> sum = comm.SumAcrossRanks({1.5, r, -r});
    RANK_OK(sum.status());
    RANK_CHECK(*sum == std::vector<double>({3.0, 1.0, -1.0}));
    absl::StatusOr<std::vector<double>> max = comm.MaxAcrossRanks({r, -r});
    RANK_OK(max.status());
    RANK_CHECK(*max == std::vector<double>({1.0, 0.0}));
    absl::StatusOr<torch::Tensor> gathered =
        comm.AllGather(torch::full({2}, r + 1, torch::kFloat64));
    RANK_OK(gathered.status());
    RANK_CHECK(gathered->equal(torch::tensor({1.0, 1.0, 2.0, 2.0}, torch::kFloat64)));
    RANK_OK(comm.Barrier());
    return 0;
  });
  EXPECT_EQ(codes, std::vector<int>({0, 0}));
}

TEST_F(CommunicatorTest, MetricReductionCombinesRanks) {
  const std::vector<int> codes = Run(2, [](Communicator& comm) {
    const bool main = comm.is_main();
    double mean = main ? 1.0 : 4.0;   // weights 1 and 2: (1 + 8) / 3
    double unweighted = main ? 2.0 : 6.0;
    double no_weight = 5.0;
    double sum = main ? 0.25 : 0.5;
    int64_t count = main ? 3 : 4;
    double max = main ? -1.0 : -2.0;
    MetricReduction reduction;
    reduction.Mean(mean, main ? 1.0 : 2.0);
    reduction.Mean(unweighted, 1.0);
    reduction.Mean(no_weight, 0.0);
    reduction.Sum(sum);
    reduction.Sum(count);
    reduction.Max(max);
    RANK_OK(reduction.Reduce(comm));
    RANK_CHECK(mean == 3.0);
    RANK_CHECK(unweighted == 4.0);
    RANK_CHECK(no_weight == 0.0);
    RANK_CHECK(sum == 0.75);
    RANK_CHECK(count == 7);
    RANK_CHECK(max == -1.0);
    return 0;
  });
  EXPECT_EQ(codes, std::vector<int>({0, 0}));
}

// Rank 0's error message lands in this file, so the parent can check it.
std::string ReadFile(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "r");
  if (f == nullptr) return "";
  std::string text(4096, '\0');
  text.resize(std::fread(text.data(), 1, text.size(), f));
  std::fclose(f);
  return text;
}

TEST_F(CommunicatorTest, KilledRankIsNamedByTheOthers) {
  options_.timeout = std::chrono::seconds(15);
  const std::string message_file = store_file_ + ".message";
  const auto start = Clock::now();
  const std::vector<int> codes = Run(2, [&](Communicator& comm) {
    RANK_OK(comm.Barrier());
    if (comm.rank() == 1) raise(SIGKILL);
    absl::Status status = comm.AllReduceGradients({torch::ones({4}).requires_grad_()});
    std::FILE* f = std::fopen(message_file.c_str(), "w");
    std::fputs(std::string(status.message()).c_str(), f);
    std::fclose(f);
    return status.ok() ? 1 : 0;
  });
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  EXPECT_EQ(codes, std::vector<int>({0, 128 + SIGKILL}));
  const std::string message = ReadFile(message_file);
  std::filesystem::remove(message_file);
  std::printf("rank 0 reported: %s\n", message.c_str());
  EXPECT_NE(message.find("rank 1 (pid"), std::string::npos) << message;
  EXPECT_NE(message.find("has exited"), std::string::npos) << message;
  EXPECT_LT(seconds, 15.0) << message;
}

TEST_F(CommunicatorTest, HungRankTimesOutWithItsName) {
  options_.timeout = std::chrono::seconds(3);
  const std::string message_file = store_file_ + ".message";
  const auto start = Clock::now();
  const std::vector<pid_t> pids = aha_test::ForkRanks(2, store_file_, options_, [&](Communicator& comm) {
    if (comm.rank() == 1) {
      std::this_thread::sleep_for(std::chrono::seconds(60));
      return 0;
    }
    absl::Status status = comm.SumAcrossRanks({1.0}).status();
    std::FILE* f = std::fopen(message_file.c_str(), "w");
    std::fputs(std::string(status.message()).c_str(), f);
    std::fclose(f);
    return absl::IsDeadlineExceeded(status) ? 0 : 1;
  });
  const std::vector<int> main_code = aha_test::WaitForRanks({pids[0]});
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  kill(pids[1], SIGKILL);
  aha_test::WaitForRanks({pids[1]});
  EXPECT_EQ(main_code[0], 0);
  const std::string message = ReadFile(message_file);
  std::filesystem::remove(message_file);
  std::printf("rank 0 reported: %s\n", message.c_str());
  EXPECT_NE(message.find("rank 1 has not reached this collective"), std::string::npos)
      << message;
  EXPECT_LT(seconds, 20.0) << message;
}

TEST_F(CommunicatorTest, MissingRankFailsTheRendezvous) {
  options_.timeout = std::chrono::seconds(2);
  // Only rank 0 of a world of 2 starts.
  DistEnv env;
  env.world_size = 2;
  env.store = StoreKind::kFile;
  env.store_file = store_file_;
  const auto start = Clock::now();
  absl::StatusOr<std::unique_ptr<Communicator>> comm = Communicator::Create(env, options_);
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  ASSERT_FALSE(comm.ok());
  EXPECT_TRUE(absl::IsDeadlineExceeded(comm.status())) << comm.status();
  EXPECT_NE(comm.status().message().find("did not connect"), std::string::npos)
      << comm.status();
  EXPECT_LT(seconds, 15.0);
}

TEST_F(CommunicatorTest, SingleProcessIsRejected) {
  DistEnv env;
  EXPECT_FALSE(Communicator::Create(env, options_).ok());
}

}  // namespace
}  // namespace aha::dist
