// The name -> factory table behind AHA_REGISTER_REWARD, with the built-ins always present.
#include <algorithm>
#include <map>
#include <utility>

#include "rewards/builtin_rewards.h"
#include "rewards/reward.h"

namespace aha {
namespace {

// Built on first use, so registrars in other translation units may run in any order. The
// built-ins are added here, by a direct call, instead of through static registrars that a
// static library would drop.
std::map<std::string, RewardFactory>& Registry() {
  static auto* registry = [] {
    auto* table = new std::map<std::string, RewardFactory>();
    for (auto& [name, factory] : BuiltinRewardFactories()) table->emplace(name, std::move(factory));
    return table;
  }();
  return *registry;
}

}  // namespace

bool RegisterReward(const std::string& name, RewardFactory factory) {
  return Registry().emplace(name, std::move(factory)).second;
}

const RewardFactory* FindReward(const std::string& name) {
  auto it = Registry().find(name);
  return it == Registry().end() ? nullptr : &it->second;
}

std::vector<std::string> RegisteredRewardNames() {
  std::vector<std::string> names;
  for (const auto& [name, factory] : Registry()) names.push_back(name);
  return names;
}

}  // namespace aha
