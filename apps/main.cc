// The `aha` binary: dispatches to the subcommand named by the first argument.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <new>
#include <string>
#include <vector>

#include <c10/util/Exception.h>

#include "apps/command.h"
#include "base/blas_check.h"
#include "base/large_block_cache.h"

namespace aha::cli {

std::vector<Command>& MutableCommands() {
  static std::vector<Command> commands;
  return commands;
}

bool RegisterCommand(const Command& command) {
  MutableCommands().push_back(command);
  return true;
}

const std::vector<Command>& Commands() { return MutableCommands(); }

namespace {

void PrintUsage(std::FILE* out) {
  std::vector<Command> commands = Commands();
  std::sort(commands.begin(), commands.end(),
            [](const Command& a, const Command& b) { return std::strcmp(a.name, b.name) < 0; });
  std::fprintf(out, "usage: aha COMMAND [ARGS...]\n\ncommands:\n");
  for (const Command& c : commands) std::fprintf(out, "  %-12s %s\n", c.name, c.summary);
  std::fprintf(out, "\nRun `aha COMMAND --help` for a command's options.\n");
}

// Debian's OpenBLAS 0.3.21 can mistake recent AVX-512 CPUs for older cores and pick slower
// kernels. OPENBLAS_CORETYPE overrides the choice, but OpenBLAS reads it only when it loads,
// before main, so when it is unset on such a CPU the binary runs itself again with it set.
// AHA_NO_REEXEC=1 turns this off.
void ReexecWithFastBlas(char** argv) {
  if (std::getenv("OPENBLAS_CORETYPE") != nullptr || std::getenv("AHA_NO_REEXEC") != nullptr) {
    return;
  }
#if defined(__x86_64__)
  if (!__builtin_cpu_supports("avx512f")) return;
  setenv("OPENBLAS_CORETYPE", "SkylakeX", 1);
  setenv("AHA_NO_REEXEC", "1", 1);
  execv("/proc/self/exe", argv);
  // execv returns only on failure; carry on with the slower kernels.
#else
  (void)argv;
#endif
}

// The text of an exception that no code caught, without LibTorch's C++ backtrace.
std::string UncaughtText(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const c10::Error& e) {
    return e.what_without_backtrace();
  } catch (const std::bad_alloc&) {
    return "out of memory (std::bad_alloc): an input asks for more memory than this machine has";
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "an exception of unknown type";
  }
}

// Whether `text` is an allocation failure: std::bad_alloc, or LibTorch's CPU or CUDA allocator.
bool IsOutOfMemory(const std::string& text) {
  for (const char* marker : {"std::bad_alloc", "can't allocate memory", "not enough memory",
                             "CUDA out of memory"}) {
    if (text.find(marker) != std::string::npos) return true;
  }
  return false;
}

void PrintUncaught(const char* command, const std::string& text) {
  // Only the training commands write checkpoints.
  const std::string name = command;
  const bool trains = name == "train" || name == "sft" || name == "pretrain" ||
                      name == "pipeline" || name == "launch";
  const char* checkpoints_kept =
      trains ? "Checkpoints written before this point are kept. " : "";
  if (IsOutOfMemory(text)) {
    // The sizes in the config or the flags set how much memory a run needs, so the user can
    // fix this by changing them. It is not a fault to report.
    std::fprintf(stderr,
                 "aha %s: out of memory: %s\n%sLower the sizes that multiply into the "
                 "memory asked for: prompts per step, group size, new tokens and micro-batch "
                 "rows (grpo.prompts_per_step, grpo.group_size, grpo.max_new_tokens, "
                 "grpo.micro_batch_rows; --n and --max-new-tokens for generate).\n",
                 command, text.c_str(), checkpoints_kept);
    return;
  }
  std::fprintf(stderr,
               "aha %s: stopped by an error that aha does not check for yet: %s\n"
               "%sPlease report this with the command line and the input files.\n",
               command, text.c_str(), checkpoints_kept);
}

const char* running_command = "";

// An exception that escapes a thread other than main's ends the process through
// std::terminate; this prints it the same way before aborting.
[[noreturn]] void TerminateWithMessage() {
  if (std::exception_ptr error = std::current_exception()) {
    PrintUncaught(running_command, UncaughtText(error));
  }
  std::abort();
}

}  // namespace
}  // namespace aha::cli

int main(int argc, char** argv) {
  using aha::cli::Commands;
  aha::cli::ReexecWithFastBlas(argv);
  aha::InstallLargeBlockCache();
  if (argc < 2) {
    aha::cli::PrintUsage(stderr);
    return 2;
  }
  std::string name = argv[1];
  if (name == "help" || name == "--help" || name == "-h") {
    aha::cli::PrintUsage(stdout);
    return 0;
  }
  for (const std::string& warning : aha::CheckMathLibraryWarnings()) {
    std::fprintf(stderr, "aha: warning: %s\n", warning.c_str());
  }
  for (const auto& command : Commands()) {
    if (name == command.name) {
      std::vector<std::string> args(argv + 2, argv + argc);
      aha::cli::running_command = command.name;
      std::set_terminate(aha::cli::TerminateWithMessage);
      try {
        return command.run(args);
      } catch (...) {
        aha::cli::PrintUncaught(command.name, aha::cli::UncaughtText(std::current_exception()));
        return 1;
      }
    }
  }
  std::fprintf(stderr, "aha: unknown command '%s'\n\n", name.c_str());
  aha::cli::PrintUsage(stderr);
  return 2;
}
