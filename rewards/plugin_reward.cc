// A reward loaded from a shared library through the C ABI in rewards/plugin_abi.h.
#include "rewards/plugin_reward.h"

#include <dlfcn.h>

#include <cmath>
#include <cstdio>
#include <exception>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "rewards/plugin_guard.h"

namespace aha {
namespace {

constexpr size_t kErrorBytes = 4096;

// Returns the plugin's message from `buffer`, even when it forgot the terminating NUL.
std::string PluginMessage(const std::vector<char>& buffer) {
  std::string message(buffer.data(), strnlen(buffer.data(), buffer.size()));
  return message.empty() ? "(the plugin gave no message)" : message;
}

// The text of an exception that a plugin let escape through the C ABI.
std::string EscapedException(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    return absl::StrCat("threw a C++ exception through the C ABI: ", e.what(),
                        "; catch it in the plugin and return an error instead");
  } catch (...) {
    return "threw an exception through the C ABI; catch it in the plugin and return an error "
           "instead";
  }
}

std::string CallName(const std::string& name, const std::string& path, const char* function) {
  return absl::StrCat("reward '", name, "' (plugin ", path, "): ", function);
}

}  // namespace

absl::StatusOr<std::unique_ptr<PluginReward>> PluginReward::Load(std::string name,
                                                                 const std::string& path,
                                                                 const std::string& options_json,
                                                                 ExternalRewardOptions options) {
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    return absl::NotFoundError(absl::StrCat("reward '", name, "': cannot load plugin ", path, ": ",
                                            dlerror(), "; check the `plugin:` path"));
  }
  auto fail = [&](const std::string& message) {
    dlclose(handle);
    return absl::FailedPreconditionError(
        absl::StrCat("reward '", name, "': plugin ", path, ": ", message));
  };

  dlerror();
  auto get_api =
      reinterpret_cast<AhaRewardPluginGetApiFn>(dlsym(handle, AHA_REWARD_PLUGIN_ENTRY_POINT));
  if (get_api == nullptr) {
    return fail(absl::StrCat("missing the symbol ", AHA_REWARD_PLUGIN_ENTRY_POINT,
                             "; export it with extern \"C\" as rewards/plugin_abi.h declares"));
  }

  AhaRewardPluginApi api = {};
  int32_t api_status = 0;
  try {
    PluginCallGuard guard(CallName(name, path, AHA_REWARD_PLUGIN_ENTRY_POINT),
                          options.timeout_seconds);
    api_status = get_api(AHA_REWARD_PLUGIN_ABI_VERSION, &api);
  } catch (...) {
    return fail(absl::StrCat(AHA_REWARD_PLUGIN_ENTRY_POINT, " ",
                             EscapedException(std::current_exception())));
  }
  if (api_status != 0) {
    return fail(absl::StrCat("it does not support plugin ABI version ",
                             AHA_REWARD_PLUGIN_ABI_VERSION, "; rebuild it against this aha"));
  }
  if (api.abi_version != AHA_REWARD_PLUGIN_ABI_VERSION) {
    return fail(absl::StrCat("it was built for plugin ABI version ", api.abi_version,
                             ", but this aha uses version ", AHA_REWARD_PLUGIN_ABI_VERSION,
                             "; rebuild it against rewards/plugin_abi.h"));
  }
  if (api.create == nullptr) return fail("its api has no create function");
  if (api.score_batch == nullptr) return fail("its api has no score_batch function");

  std::vector<char> error(kErrorBytes, '\0');
  void* scorer = nullptr;
  try {
    PluginCallGuard guard(CallName(name, path, "create"), options.timeout_seconds);
    scorer = api.create(options_json.c_str(), error.data(), error.size());
  } catch (...) {
    return fail(absl::StrCat("create ", EscapedException(std::current_exception())));
  }
  if (scorer == nullptr) return fail(absl::StrCat("create failed: ", PluginMessage(error)));
  return std::unique_ptr<PluginReward>(
      new PluginReward(std::move(name), path, options, handle, api, scorer));
}

PluginReward::PluginReward(std::string name, std::string path, ExternalRewardOptions options,
                           void* handle, AhaRewardPluginApi api, void* scorer)
    : name_(std::move(name)),
      path_(std::move(path)),
      options_(options),
      handle_(handle),
      api_(api),
      scorer_(scorer) {}

PluginReward::~PluginReward() {
  if (api_.destroy != nullptr) {
    try {
      PluginCallGuard guard(CallName(name_, path_, "destroy"), options_.timeout_seconds);
      api_.destroy(scorer_);
    } catch (...) {
      std::fprintf(stderr, "reward '%s': destroy %s\n", name_.c_str(),
                   EscapedException(std::current_exception()).c_str());
    }
  }
  dlclose(handle_);
}

absl::StatusOr<RewardResult> PluginReward::Score(absl::Span<const RewardSample> samples) {
  ++batch_index_;
  // The C strings point into these, so they outlive the call.
  std::vector<std::string> fields_json;
  fields_json.reserve(samples.size());
  std::vector<AhaRewardSample> c_samples;
  c_samples.reserve(samples.size());
  for (const RewardSample& sample : samples) {
    fields_json.push_back(
        sample.fields.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    c_samples.push_back({sample.prompt.c_str(), sample.completion.c_str(),
                         sample.ground_truth.c_str(), fields_json.back().c_str(),
                         sample.finish_reason == FinishReason::kLength ? AHA_FINISH_REASON_LENGTH
                                                                       : AHA_FINISH_REASON_STOP,
                         sample.num_tokens});
  }

  std::vector<double> scores(samples.size(), 0.0);
  std::vector<int32_t> abstain(samples.size(), 0);
  std::vector<char> error(kErrorBytes, '\0');
  int32_t status = 0;
  try {
    PluginCallGuard guard(CallName(name_, path_, "score_batch"), options_.timeout_seconds);
    status = api_.score_batch(scorer_, c_samples.data(), c_samples.size(), scores.data(),
                              abstain.data(), error.data(), error.size());
  } catch (...) {
    return FailBatch(name_, options_, batch_index_, samples.size(),
                     absl::StrCat("score_batch ", EscapedException(std::current_exception()),
                                  " (plugin ", path_, ")"));
  }
  if (status != 0) {
    return FailBatch(name_, options_, batch_index_, samples.size(),
                     absl::StrCat("score_batch returned ", status, ": ", PluginMessage(error),
                                  " (plugin ", path_, ")"));
  }

  RewardResult result;
  result.scores.reserve(samples.size());
  for (size_t i = 0; i < samples.size(); ++i) {
    if (abstain[i] != 0) {
      result.scores.emplace_back();
    } else {
      result.scores.push_back(scores[i]);
    }
  }
  return result;
}

}  // namespace aha
