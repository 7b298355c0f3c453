// Tokenizer throughput: MB/s of Tokenizer::Encode on one thread, over documents read from a
// JSON Lines file. scripts/bench_tokenizer_peer.py measures the Hugging Face `tokenizers`
// package on the same documents, so the two numbers compare directly.
//
//   tokenizer_bench --tokenizer ../shared/tokenizers/qwen3 \
//                   --jsonl ../shared/datasets/gsm8k/train.jsonl --repeats 5
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"
#include "policy/tokenizer.h"

namespace {

// Each line's string fields joined with "\n", in file order: the peer script builds the same
// document from the same line.
std::vector<std::string> ReadDocuments(const std::string& path) {
  std::vector<std::string> documents;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    const nlohmann::ordered_json row =
        nlohmann::ordered_json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!row.is_object()) continue;
    std::string document;
    for (const auto& [key, value] : row.items()) {
      if (!value.is_string()) continue;
      if (!document.empty()) document += "\n";
      document += value.get<std::string>();
    }
    documents.push_back(std::move(document));
  }
  return documents;
}

const char* FlagValue(int argc, char** argv, const char* name, const char* fallback) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], name) == 0) return argv[i + 1];
  }
  return fallback;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string tokenizer_dir = FlagValue(argc, argv, "--tokenizer", "");
  const std::string jsonl = FlagValue(argc, argv, "--jsonl", "");
  const int repeats = std::max(1, std::atoi(FlagValue(argc, argv, "--repeats", "5")));
  if (tokenizer_dir.empty() || jsonl.empty()) {
    std::fprintf(stderr,
                 "usage: tokenizer_bench --tokenizer DIR --jsonl FILE [--repeats N]\n");
    return 2;
  }
  const auto load_start = std::chrono::steady_clock::now();
  absl::StatusOr<std::unique_ptr<aha::Tokenizer>> tokenizer = aha::LoadTokenizer(tokenizer_dir);
  if (!tokenizer.ok()) {
    std::fprintf(stderr, "tokenizer_bench: %s\n",
                 std::string(tokenizer.status().message()).c_str());
    return 1;
  }
  const double load_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - load_start).count();
  const std::vector<std::string> documents = ReadDocuments(jsonl);
  size_t bytes = 0;
  for (const std::string& document : documents) bytes += document.size();

  // The first pass fills the word cache, as a long-running trainer's would be; every pass is
  // timed and the best one is reported.
  double best_seconds = 1e30;
  size_t tokens = 0;
  for (int r = 0; r < repeats; ++r) {
    tokens = 0;
    const auto start = std::chrono::steady_clock::now();
    for (const std::string& document : documents) tokens += (*tokenizer)->Encode(document).size();
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (r == 0) std::printf("first pass (cold cache): %.1f MB/s\n", bytes / seconds / 1e6);
    best_seconds = std::min(best_seconds, seconds);
  }
  std::printf("aha: %zu documents, %.2f MB, %zu tokens, load %.2f s, encode %.1f MB/s "
              "(best of %d)\n",
              documents.size(), bytes / 1e6, tokens, load_seconds, bytes / best_seconds / 1e6,
              repeats);
  return 0;
}
