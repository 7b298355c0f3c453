// One row of a dataset as the trainer sees it: the id that groups G samples, the question that
// fills a prompt template, the ground truth, and the row's fields for rewards and templates.
#ifndef AHA_DATA_EXAMPLE_H_
#define AHA_DATA_EXAMPLE_H_

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

namespace aha::data {

struct Example {
  // Stable within a dataset split: the row index for JSONL files and generated splits. All G
  // samples of one prompt carry it.
  int64_t id = 0;
  // Fills `{prompt}` in a template.
  std::string question;
  // The reference answer rewards compare against. For Countdown, the target as a string.
  std::string ground_truth;
  // A JSON object: the whole source row for JSONL files, {"nums": [ints], "target": int} for
  // Countdown. Templates read `{field}` placeholders and rewards read task data from it.
  nlohmann::json fields = nlohmann::json::object();
};

// One supervised example: the prompt and the response the model is trained to produce.
struct SftExample {
  int64_t id = 0;
  std::string prompt;
  std::string response;
};

}  // namespace aha::data

#endif  // AHA_DATA_EXAMPLE_H_
