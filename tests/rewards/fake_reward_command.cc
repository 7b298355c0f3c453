// A stand-in reward command for command_reward_test. It scores each sample with the length of
// its completion, except when a completion asks for a failure:
//   "abstain"  -> null for that sample       "sleep" -> sleeps 30 s before replying
//   "exit"     -> exits with status 3        "short" -> replies with one score too few
//   "garbage"  -> replies with a non-JSON line
//   "tagged"   -> replies {"id": <the request's id>, "scores": [...]} instead of a bare array
//   "twice"    -> replies tagged, then writes a second tagged line of 99s at once
// With the argument --exit-at-start it exits 0.3 s after it starts, before reading anything:
// late enough to pass the start-up check, early enough to close the pipe on the request.
#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "nlohmann/json.hpp"

int main(int argc, char** argv) {
  if (argc > 1 && std::strcmp(argv[1], "--exit-at-start") == 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    return 4;
  }
  std::string line;
  while (std::getline(std::cin, line)) {
    nlohmann::json request = nlohmann::json::parse(line);
    nlohmann::json scores = nlohmann::json::array();
    for (const auto& sample : request["samples"]) {
      std::string completion = sample["completion"];
      if (completion == "sleep") std::this_thread::sleep_for(std::chrono::seconds(30));
      if (completion == "exit") {
        std::fprintf(stderr, "fake_reward_command: exiting as asked\n");
        return 3;
      }
      if (completion == "garbage") {
        std::cout << "Traceback? not json" << std::endl;
        scores = nullptr;
        break;
      }
      if (completion == "abstain") {
        scores.push_back(nullptr);
      } else {
        scores.push_back(completion.size());
      }
    }
    if (scores.is_null()) continue;
    for (const auto& sample : request["samples"]) {
      if (sample["completion"] == "short") {
        scores.erase(scores.size() - 1);
        break;
      }
    }
    bool tagged = false, twice = false;
    for (const auto& sample : request["samples"]) {
      tagged = tagged || sample["completion"] == "tagged" || sample["completion"] == "twice";
      twice = twice || sample["completion"] == "twice";
    }
    if (!tagged) {
      std::cout << scores.dump() << std::endl;
      continue;
    }
    std::cout << nlohmann::json{{"id", request["id"]}, {"scores", scores}}.dump() << std::endl;
    if (twice) {
      const nlohmann::json stray(std::vector<int>(scores.size(), 99));
      std::cout << nlohmann::json{{"id", request["id"]}, {"scores", stray}}.dump() << std::endl;
    }
  }
  return 0;
}
