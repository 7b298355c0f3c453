// A reward computed by a persistent child process that speaks JSON Lines.
#include "rewards/command_reward.h"

#include <cmath>
#include <cstdio>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/status_macros.h"

namespace aha {
namespace {

// Shows the start of a bad reply in an error message.
std::string Excerpt(const std::string& text) {
  constexpr size_t kMaxChars = 200;
  if (text.size() <= kMaxChars) return text;
  return absl::StrCat(text.substr(0, kMaxChars), "... (", text.size(), " bytes)");
}

}  // namespace

absl::StatusOr<std::vector<std::optional<double>>> ParseScoresLine(const std::string& line,
                                                                   size_t num_samples,
                                                                   int64_t request_id) {
  nlohmann::json reply = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (reply.is_discarded()) {
    // Python's json.dumps writes NaN and Infinity, which JSON does not have, and a number
    // beyond the double range does not parse either.
    return absl::InvalidArgumentError(absl::StrCat(
        "the reply is not JSON: ", Excerpt(line),
        " (NaN, Infinity and numbers beyond 1.8e308 are not JSON; reply null to abstain)"));
  }
  if (reply.is_object() && reply.contains("id") && reply.contains("scores")) {
    const nlohmann::json& id = reply["id"];
    if (!id.is_number_integer() || id.get<int64_t>() != request_id) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the reply is for request id ", id.dump(), ", but request ", request_id,
          " was sent: the command wrote a line that was not the reply to a request"));
    }
    nlohmann::json scores = std::move(reply["scores"]);
    reply = std::move(scores);
  }
  if (!reply.is_array()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the reply is neither a JSON array of scores nor {\"id\": ", request_id,
        ", \"scores\": [...]}: ", Excerpt(line)));
  }
  if (reply.size() != num_samples) {
    return absl::InvalidArgumentError(absl::StrCat("the reply has ", reply.size(),
                                                   " scores for ", num_samples, " samples"));
  }
  std::vector<std::optional<double>> scores;
  scores.reserve(num_samples);
  for (size_t i = 0; i < reply.size(); ++i) {
    const nlohmann::json& item = reply[i];
    if (item.is_null()) {
      scores.emplace_back();
      continue;
    }
    if (!item.is_number() || !std::isfinite(item.get<double>())) {
      return absl::InvalidArgumentError(absl::StrCat(
          "score ", i, " is ", item.dump(), ", expected a finite number or null"));
    }
    scores.push_back(item.get<double>());
  }
  return scores;
}

absl::StatusOr<std::unique_ptr<CommandReward>> CommandReward::Create(
    std::string name, std::vector<std::string> argv, ExternalRewardOptions options) {
  ASSIGN_OR_RETURN(std::unique_ptr<ChildProcess> child, ChildProcess::Spawn(argv));
  // A command that cannot even start (a wrong script path given to python3, a syntax error)
  // exits at once. Caught here, it is a config error that --check reports, not a failed batch
  // at every step.
  if (std::optional<std::string> ended = child->EndedWithin(std::chrono::milliseconds(150))) {
    return absl::FailedPreconditionError(absl::StrCat(
        "[", absl::StrJoin(argv, ", "), "] ", *ended,
        " right after it started, before any request; its messages are above"));
  }
  return std::unique_ptr<CommandReward>(
      new CommandReward(std::move(name), std::move(argv), options, std::move(child)));
}

CommandReward::CommandReward(std::string name, std::vector<std::string> argv,
                             ExternalRewardOptions options, std::unique_ptr<ChildProcess> child)
    : name_(std::move(name)),
      argv_(std::move(argv)),
      options_(options),
      child_(std::move(child)) {}

absl::StatusOr<std::vector<std::optional<double>>> CommandReward::Exchange(
    absl::Span<const RewardSample> samples) {
  if (child_ && child_->HasUnexpectedOutput()) {
    std::fprintf(stderr,
                 "reward '%s': the command wrote output between batches or exited; "
                 "restarting it\n",
                 name_.c_str());
    child_.reset();
  }
  if (!child_) {
    ASSIGN_OR_RETURN(child_, ChildProcess::Spawn(argv_));
  }

  nlohmann::json request = {{"id", batch_index_}, {"samples", nlohmann::json::array()}};
  for (const RewardSample& sample : samples) request["samples"].push_back(SampleToJson(sample));
  // Model output may hold invalid UTF-8 (a token cut inside a character); replace it
  // instead of failing the batch.
  std::string line = request.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  line.push_back('\n');

  auto timeout = std::chrono::duration_cast<ChildProcess::Clock::duration>(
      std::chrono::duration<double>(options_.timeout_seconds));
  absl::StatusOr<std::string> reply = child_->Exchange(line, ChildProcess::Clock::now() + timeout);
  if (!reply.ok()) {
    if (absl::IsDeadlineExceeded(reply.status())) {
      return absl::DeadlineExceededError(
          absl::StrCat("no reply within timeout_seconds = ", options_.timeout_seconds,
                       " (a command must flush stdout after each reply line: "
                       "print(..., flush=True) in Python)"));
    }
    return reply.status();
  }
  return ParseScoresLine(*reply, samples.size(), batch_index_);
}

absl::StatusOr<RewardResult> CommandReward::Score(absl::Span<const RewardSample> samples) {
  ++batch_index_;
  absl::StatusOr<std::vector<std::optional<double>>> scores = Exchange(samples);
  if (!scores.ok()) {
    // The child's state is unknown after any failure, so it starts afresh next batch.
    if (child_) child_->Kill();
    child_.reset();
    std::string reason = absl::StrCat(scores.status().message(), " (command: [",
                                      absl::StrJoin(argv_, ", "), "])");
    return FailBatch(name_, options_, batch_index_, samples.size(), reason);
  }
  RewardResult result;
  result.scores = *std::move(scores);
  return result;
}

}  // namespace aha
