// The synthetic pretraining corpus for a tiny model that aha pretrains itself. Each entry is a
// Countdown problem rendered exactly as the RL prompt, then a short think/answer trace. The
// trace tries combinations, checks them, sometimes catches a mistake, and ends with a marker.
// The mix of correct, wrong, reflective and badly formatted traces is configurable, so the
// pretrained model is imperfect and RL has room to improve it. Also the "cold start" SFT
// examples for the R1 variant: long careful traces that always verify and answer correctly.
#ifndef AHA_DATA_CORPUS_H_
#define AHA_DATA_CORPUS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "data/countdown.h"
#include "data/example.h"

namespace aha::data {

struct CorpusOptions {
  // The problem generator, by default the easy demo setting. The corpus draws its own
  // problems and skips the test split that GenerateCountdown makes from these options, so the
  // RL test set stays unseen. train_size is not used.
  CountdownOptions problems = DemoCountdownOptions();
  int64_t size = 20000;  // corpus entries
  // Built-in template name or inline text (see prompt_template.h), the same one RL uses.
  std::string prompt_template = "countdown-short";
  std::string end_marker = "<|endoftext|>";
  // Max characters of prompt + completion + end marker; a tiny char model's context.
  int64_t max_length = 320;
  // The same limit for the cold-start examples, whose careful traces are longer.
  int64_t cold_start_max_length = 384;
  // How a trace reaches its answer.
  //   "guided": up to max_failed_attempts random wrong tries, then the solver's solution
  //     (with probability correct_fraction) or a wrong chain. The model must guess the solution.
  //   "search": random tries, each computed and compared with the target, until one hits it.
  //     After each miss the trace gives up with give_up_probability, answering its last try;
  //     persistent_fraction of the traces never give up and search until max_length. Every
  //     token follows from what came before, so a model that has learned to copy and to
  //     compute can solve problems by trying, and RL can teach it to give up less often.
  std::string style = "guided";
  double persistent_fraction = 0.05;  // search: traces that never give up
  double give_up_probability = 0.8;   // search: chance to stop after each miss otherwise
  // search: persistent traces are careful. They open by restating the problem ("the numbers
  // are 3, 5 and 7 and the target is 22."), and only they do, so the choice to persist is the
  // trace's first token: one decision that RL can learn to make, instead of one after every
  // miss. They also never repeat a try, which keeps a model from copying its earlier lines.
  bool careful_persistence = false;
  // search, careful traces: the order of their tries. "random" draws random new tries.
  // "systematic" follows SystematicChains (data/countdown_trace.h): a fixed order, so a small
  // model can follow it line by line, and it reaches the target in fewer tries. Problems with
  // other than 3 numbers fall back to random tries.
  std::string careful_order = "random";
  // The fractions below are drawn independently per entry; correct_fraction and
  // max_failed_attempts apply to the guided style only.
  double correct_fraction = 0.5;         // the answer reaches the target with every number once
  double reflection_fraction = 0.25;     // the trace catches a slip or verifies ("wait", ...)
  double broken_format_fraction = 0.05;  // a tag is missing
  int max_failed_attempts = 3;           // wrong tries before the last one, fewer if too long
  uint64_t seed = 7;                     // trace randomness; problems use problems.seed

  // 3 numbers from 1 to 10, targets 1 to 50, integer steps: easy enough for a tiny model.
  static CountdownOptions DemoCountdownOptions();
};

struct CorpusEntry {
  Example example;
  std::string prompt;      // the rendered template
  std::string completion;  // trace, answer and end marker
  std::string answer;      // the expression in the answer, possibly wrong
  bool correct = false;        // `answer` evaluates exactly to the target using each number once
  bool reflection = false;     // the trace contains a reflection passage
  bool broken_format = false;  // a tag was left out on purpose

  std::string Text() const { return prompt + completion; }
};

// Validates the options: fractions in [0, 1], positive lengths, a known template. Whether an
// entry fits max_length is checked as it is generated.
absl::Status ValidateCorpusOptions(const CorpusOptions& options);

// Generates `options.size` entries; the same options give the same corpus on any machine.
absl::StatusOr<std::vector<CorpusEntry>> GenerateCorpus(const CorpusOptions& options);

// {"id", "text", "prompt", "completion", "answer", "nums", "target", "correct", "reflection",
// "broken_format"}: one line of the corpus file.
nlohmann::json CorpusEntryToJson(const CorpusEntry& entry);

// Generates `options.size` cold-start SFT examples: the rendered prompt and a careful trace
// that lists the numbers, tries, verifies the solution step by step and answers correctly,
// ending with the end marker. The mix fractions are not used. In the guided style the tries are
// up to max_failed_attempts misses and then the solver's solution. In the search style they
// are random tries until one hits, each miss followed by "wait, V is not T, try again.", with
// the oldest misses dropped to fit cold_start_max_length.
absl::StatusOr<std::vector<SftExample>> GenerateColdStart(const CorpusOptions& options);

}  // namespace aha::data

#endif  // AHA_DATA_CORPUS_H_
