#include "apps/flags.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include <sys/stat.h>
#include <unistd.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "base/status_macros.h"

namespace aha::cli {

std::optional<std::string> ParsedFlags::Get(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end()) return std::nullopt;
  return it->second;
}

std::string ParsedFlags::GetOr(const std::string& name, const std::string& fallback) const {
  return Get(name).value_or(fallback);
}

std::vector<std::string> ParsedFlags::GetAll(const std::string& name) const {
  auto it = all_values_.find(name);
  return it == all_values_.end() ? std::vector<std::string>{} : it->second;
}

absl::StatusOr<int64_t> ParsedFlags::GetInt(const std::string& name, int64_t fallback) const {
  auto value = Get(name);
  if (!value) return fallback;
  int64_t parsed;
  if (!absl::SimpleAtoi(*value, &parsed)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", name, " expects an integer, got '", *value, "'"));
  }
  return parsed;
}

absl::StatusOr<double> ParsedFlags::GetDouble(const std::string& name, double fallback) const {
  auto value = Get(name);
  if (!value) return fallback;
  double parsed;
  if (!absl::SimpleAtod(*value, &parsed)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", name, " expects a number, got '", *value, "'"));
  }
  return parsed;
}

absl::StatusOr<ParsedFlags> ParseFlags(const std::vector<std::string>& args,
                                       const std::vector<FlagSpec>& specs) {
  ParsedFlags parsed;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg.size() < 3 || arg.compare(0, 2, "--") != 0) {
      parsed.positional_.push_back(arg);
      continue;
    }
    std::string name = arg.substr(2);
    std::optional<std::string> value;
    if (size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    if (name == "help") {
      parsed.values_["help"] = "";
      continue;
    }
    const FlagSpec* spec = nullptr;
    for (const FlagSpec& s : specs) {
      if (s.name == name) spec = &s;
    }
    if (spec == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown flag --", name, "; run with --help to list the flags"));
    }
    if (spec->is_switch) {
      if (value) {
        return absl::InvalidArgumentError(absl::StrCat("--", name, " takes no value"));
      }
      parsed.values_[name] = "true";
      continue;
    }
    if (!value) {
      if (i + 1 >= args.size()) {
        return absl::InvalidArgumentError(absl::StrCat("--", name, " expects a value"));
      }
      // `--out --check` means a forgotten value far more often than a folder named --check.
      const std::string& next = args[i + 1];
      if (next.size() > 2 && next.compare(0, 2, "--") == 0) {
        return absl::InvalidArgumentError(absl::StrCat(
            "--", name, " expects a value, but the next argument is ", next,
            "; write --", name, "=VALUE for a value that starts with --"));
      }
      value = args[++i];
    }
    if (!spec->repeatable && parsed.values_.count(name) > 0) {
      return absl::InvalidArgumentError(absl::StrCat("--", name, " is given twice"));
    }
    parsed.values_[name] = *value;
    parsed.all_values_[name].push_back(*value);
  }
  return parsed;
}

void PrintFlagHelp(const std::string& command, const std::string& usage,
                   const std::vector<FlagSpec>& specs) {
  std::printf("usage: aha %s %s\n\n", command.c_str(), usage.c_str());
  for (const FlagSpec& s : specs) {
    std::string left = "--" + s.name + (s.is_switch ? "" : " VALUE");
    std::printf("  %-24s %s\n", left.c_str(), s.help.c_str());
  }
}

void PrintConfigValid(const std::string& command, const std::string& config_path) {
  std::printf("aha %s: %s is valid\n", command.c_str(),
              config_path.empty() ? "the command line" : config_path.c_str());
}

absl::Status CheckStdinReadable() {
  struct stat info;
  if (fstat(STDIN_FILENO, &info) == 0 && S_ISDIR(info.st_mode)) {
    return absl::InvalidArgumentError("standard input is a folder; redirect a JSONL file into it");
  }
  return absl::OkStatus();
}

absl::Status CheckStdoutWritten() {
  if (std::fflush(stdout) == 0 && !std::ferror(stdout)) return absl::OkStatus();
  return absl::DataLossError(absl::StrCat("writing the output failed: ", std::strerror(errno)));
}

absl::Status MoveEarlierOutputAside(const std::string& path) {
  std::error_code error;
  const std::filesystem::file_status status = std::filesystem::status(path, error);
  if (!std::filesystem::exists(status)) return absl::OkStatus();
  if (std::filesystem::is_directory(status) &&
      std::filesystem::directory_iterator(path, error) == std::filesystem::directory_iterator()) {
    return absl::OkStatus();
  }
  const std::string base = absl::StrCat(path, ".", absl::FormatTime("%Y%m%d-%H%M%S",
                                                                     absl::Now(),
                                                                     absl::LocalTimeZone()));
  std::string aside = base;
  for (int n = 2; std::filesystem::exists(aside, error); ++n) aside = absl::StrCat(base, "-", n);
  std::filesystem::rename(path, aside, error);
  if (error) {
    return absl::FailedPreconditionError(absl::StrCat(
        path, " holds an earlier output, and moving it aside to ", aside, " failed: ",
        error.message(), "; move it yourself or choose another output path"));
  }
  std::printf("moved the earlier output %s aside to %s\n", path.c_str(), aside.c_str());
  return absl::OkStatus();
}

absl::Status CheckOutputFolderPath(const std::string& out_dir, const std::string& out_key) {
  std::error_code error;
  if (std::filesystem::exists(out_dir, error) && !std::filesystem::is_directory(out_dir, error)) {
    return absl::InvalidArgumentError(absl::StrCat(out_key, " ", out_dir, " is a file; give the "
                                                   "path of a folder"));
  }
  return absl::OkStatus();
}

absl::Status PrepareOutputFolder(const std::string& out_dir, const std::string& out_key) {
  RETURN_IF_ERROR(CheckOutputFolderPath(out_dir, out_key));
  std::error_code error;
  RETURN_IF_ERROR(MoveEarlierOutputAside(out_dir));
  std::filesystem::create_directories(out_dir, error);
  if (error) {
    return absl::InvalidArgumentError(absl::StrCat(out_key, " ", out_dir, ": cannot create the "
                                                   "folder: ", error.message()));
  }
  return absl::OkStatus();
}

absl::Status CheckOutputIsNoInput(const std::string& out, const std::string& out_key,
                                  const std::vector<std::string>& input_files,
                                  const std::string& model_dir) {
  std::error_code error;
  for (const std::string& input : input_files) {
    if (!input.empty() && std::filesystem::equivalent(input, out, error)) {
      return absl::InvalidArgumentError(absl::StrCat(
          out_key, " ", out, " is the input file ", input, ", which writing would destroy; "
          "choose another path"));
    }
  }
  if (model_dir.empty() || !std::filesystem::exists(out, error)) return absl::OkStatus();
  const std::filesystem::path folder = std::filesystem::weakly_canonical(model_dir, error);
  const std::filesystem::path file = std::filesystem::weakly_canonical(out, error);
  if (!error && std::filesystem::equivalent(file.parent_path(), folder, error)) {
    return absl::InvalidArgumentError(absl::StrCat(
        out_key, " ", out, " is a file of the model folder ", model_dir, ", which writing would "
        "destroy; choose a path outside it"));
  }
  return absl::OkStatus();
}

absl::Status CheckOutputIsNotModel(const std::string& model_dir, const std::string& model_key,
                                   const std::string& out_dir) {
  std::error_code error;
  if (model_dir.empty() || !std::filesystem::equivalent(model_dir, out_dir, error)) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "out_dir ", out_dir, " is the model folder that ", model_key, " names, whose weights the "
      "run would overwrite; choose another out_dir (or --out)"));
}

}  // namespace aha::cli
