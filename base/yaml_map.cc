#include "base/yaml_map.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "base/status_macros.h"
#include "base/utf8.h"

namespace aha {
namespace {

std::string LineOf(const YAML::Node& node) {
  if (!node.IsDefined() || node.Mark().line < 0) return "";
  return absl::StrCat(":", node.Mark().line + 1);
}

// A copy of `node` whose nodes carry no position. An override's value is parsed from the
// command line, so its positions count lines of the flag's text. Errors about it must not
// name that line of the config file.
YAML::Node WithoutPositions(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Scalar: {
      YAML::Node out(node.Scalar());
      out.SetTag(node.Tag());  // "!" marks a quoted string (base/yaml_json.h)
      return out;
    }
    case YAML::NodeType::Sequence: {
      YAML::Node out(YAML::NodeType::Sequence);
      for (const YAML::Node& item : node) out.push_back(WithoutPositions(item));
      return out;
    }
    case YAML::NodeType::Map: {
      YAML::Node out(YAML::NodeType::Map);
      for (const auto& entry : node) {
        out[WithoutPositions(entry.first)] = WithoutPositions(entry.second);
      }
      return out;
    }
    default:
      return YAML::Node(node.Type());
  }
}

}  // namespace

absl::StatusOr<YamlMap> YamlMap::Create(const YAML::Node& node, std::string file,
                                        std::string path) {
  if (node.IsDefined() && !node.IsNull() && !node.IsMap()) {
    return absl::InvalidArgumentError(absl::StrCat(file, LineOf(node), ": ", path,
                                                   " must be a mapping of key: value"));
  }
  YAML::Node map = node.IsDefined() && !node.IsNull() ? node : YAML::Node(YAML::NodeType::Map);
  return YamlMap(map, std::move(file), std::move(path));
}

absl::Status YamlMap::Error(const std::string& key, const std::string& message) const {
  YAML::Node at = node_[key].IsDefined() ? node_[key] : node_;
  std::string full_key = path_.empty() ? key : absl::StrCat(path_, ".", key);
  // Override values carry no position (WithoutPositions), so the file did not set this one.
  const bool overridden = node_[key].IsDefined() && node_[key].Mark().is_null();
  return absl::InvalidArgumentError(absl::StrCat(file_, LineOf(at), ": ", full_key, " ",
                                                 message,
                                                 overridden ? " (the value given by --set)" : ""));
}

template <typename T>
absl::Status YamlMap::ReadScalar(const std::string& key, T& out, const char* type_name) {
  read_.insert(key);
  YAML::Node value = node_[key];
  if (!value.IsDefined()) return absl::OkStatus();
  if (!value.IsScalar()) return Error(key, absl::StrCat("must be ", type_name));
  try {
    out = value.as<T>();
  } catch (const YAML::Exception&) {
    return Error(key, absl::StrCat("must be ", type_name, ", got '", value.Scalar(), "'"));
  }
  return absl::OkStatus();
}

absl::Status YamlMap::Read(const std::string& key, int64_t& out) {
  return ReadScalar(key, out, "an integer");
}

absl::Status YamlMap::Read(const std::string& key, double& out) {
  absl::Status status = ReadScalar(key, out, "a number");
  if (status.ok() && !std::isfinite(out)) return Error(key, "must be a finite number");
  return status;
}

absl::Status YamlMap::Read(const std::string& key, bool& out) {
  return ReadScalar(key, out, "true or false");
}

absl::Status YamlMap::Read(const std::string& key, std::string& out) {
  return ReadScalar(key, out, "a string");
}

absl::Status YamlMap::Read(const std::string& key, std::vector<std::string>& out) {
  read_.insert(key);
  YAML::Node value = node_[key];
  if (!value.IsDefined()) return absl::OkStatus();
  if (!value.IsSequence()) return Error(key, "must be a list of strings");
  std::vector<std::string> items;
  for (const auto& item : value) {
    if (!item.IsScalar()) return Error(key, "must be a list of strings");
    items.push_back(item.Scalar());
  }
  out = std::move(items);
  return absl::OkStatus();
}

absl::Status YamlMap::Read(const std::string& key, std::vector<int64_t>& out) {
  read_.insert(key);
  YAML::Node value = node_[key];
  if (!value.IsDefined()) return absl::OkStatus();
  std::vector<int64_t> items;
  try {
    if (value.IsScalar()) {
      items.push_back(value.as<int64_t>());
    } else if (value.IsSequence()) {
      for (const auto& item : value) items.push_back(item.as<int64_t>());
    } else {
      return Error(key, "must be an integer or a list of integers");
    }
  } catch (const YAML::Exception&) {
    return Error(key, "must be an integer or a list of integers");
  }
  out = std::move(items);
  return absl::OkStatus();
}

absl::StatusOr<YamlMap> YamlMap::Child(const std::string& key) {
  read_.insert(key);
  return Create(node_[key], file_, path_.empty() ? key : absl::StrCat(path_, ".", key));
}

YAML::Node YamlMap::Raw(const std::string& key) {
  read_.insert(key);
  return node_[key];
}

absl::Status YamlMap::CheckAllKeysRead() const {
  for (const auto& entry : node_) {
    const std::string key = entry.first.Scalar();
    if (read_.count(key) == 0) {
      std::string known = absl::StrJoin(read_, ", ");
      return Error(key, absl::StrCat("is not a known key; known keys here: ", known));
    }
  }
  return absl::OkStatus();
}

absl::Status ApplyYamlOverrides(YAML::Node& root, const std::vector<std::string>& overrides) {
  for (const std::string& assignment : overrides) {
    const size_t eq = assignment.find('=');
    if (eq == std::string::npos || eq == 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "invalid override '", assignment, "': expected KEY.PATH=VALUE, such as optimizer.lr=1e-6"));
    }
    std::vector<std::string> keys = absl::StrSplit(assignment.substr(0, eq), '.');
    YAML::Node value;
    try {
      value = WithoutPositions(YAML::Load(assignment.substr(eq + 1)));
    } catch (const YAML::Exception& e) {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid value in override '", assignment, "': ", e.what()));
    }
    // yaml-cpp nodes are handles: walk the path by reassigning a copy, which still refers to
    // the nodes inside `root`.
    YAML::Node node = root;
    for (size_t i = 0; i < keys.size(); ++i) {
      if (keys[i].empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat("invalid override '", assignment, "': empty key in the path"));
      }
      if (node.IsDefined() && !node.IsNull() && !node.IsMap()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "invalid override '", assignment, "': ", keys[i - 1], " is not a mapping"));
      }
      if (i + 1 == keys.size()) {
        node[keys[i]] = value;
      } else {
        if (!node[keys[i]].IsDefined() || node[keys[i]].IsNull()) {
          node[keys[i]] = YAML::Node(YAML::NodeType::Map);
        }
        node.reset(node[keys[i]]);
      }
    }
  }
  return absl::OkStatus();
}

namespace {

// More nodes than any config has. yaml-cpp expands aliases into shared nodes, which a walk
// visits once per reference, so a nest of aliases could otherwise take forever.
constexpr int64_t kMaxConfigNodes = 1'000'000;

// Checks two things that yaml-cpp accepts silently. A key given twice in one mapping would be
// read only once, by operator[]. Text that is not UTF-8 (a file saved as Latin-1, say) would
// fail only when a run writes it into JSON.
absl::Status CheckConfigNode(const YAML::Node& node, const std::string& path, int64_t& visited) {
  if (++visited > kMaxConfigNodes) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": more than ", kMaxConfigNodes, " YAML nodes once aliases are expanded; write "
        "the config without nested aliases"));
  }
  auto error = [&](const YAML::Node& at, const std::string& message) {
    return absl::InvalidArgumentError(absl::StrCat(path, ":", at.Mark().line + 1, ": ", message));
  };
  if (node.IsScalar()) {
    if (!utf8::IsValid(node.Scalar())) {
      return error(node, "the text is not valid UTF-8; save the file as UTF-8");
    }
    return absl::OkStatus();
  }
  if (node.IsSequence()) {
    for (const YAML::Node& item : node) RETURN_IF_ERROR(CheckConfigNode(item, path, visited));
    return absl::OkStatus();
  }
  if (!node.IsMap()) return absl::OkStatus();
  std::map<std::string, int> first_line;
  for (const auto& pair : node) {
    RETURN_IF_ERROR(CheckConfigNode(pair.first, path, visited));
    if (pair.first.IsScalar()) {
      const int line = pair.first.Mark().line + 1;
      auto [it, inserted] = first_line.emplace(pair.first.Scalar(), line);
      if (!inserted) {
        return error(pair.first, absl::StrCat("the key '", pair.first.Scalar(),
                                              "' appears again (first on line ", it->second,
                                              "), and only one would be read; keep one"));
      }
    }
    RETURN_IF_ERROR(CheckConfigNode(pair.second, path, visited));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<YAML::Node> LoadYamlFile(const std::string& path) {
  // On Linux an ifstream opens a directory without an error and throws only when read.
  std::error_code error;
  if (std::filesystem::is_directory(path, error)) {
    return absl::InvalidArgumentError(
        absl::StrCat("config file ", path, " is a directory; give the path of a YAML file"));
  }
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open config file ", path));
  YAML::Node root;
  try {
    // A second document ("---" and more) would be dropped by YAML::Load without a word.
    std::vector<YAML::Node> documents = YAML::LoadAll(in);
    // An empty document after a trailing "---" has nothing to lose.
    while (documents.size() > 1 && documents.back().IsNull()) documents.pop_back();
    if (documents.size() > 1) {
      const YAML::Mark mark = documents[1].Mark();
      const std::string where =
          mark.is_null() ? std::string() : absl::StrCat(":", mark.line + 1);
      return absl::InvalidArgumentError(absl::StrCat(
          path, where, ": the file holds ", documents.size(),
          " YAML documents (separated by ---); aha reads one, so merge them into one mapping"));
    }
    if (!documents.empty()) root = documents[0];
  } catch (const YAML::ParserException& e) {
    return absl::InvalidArgumentError(absl::StrCat(path, ":", e.mark.line + 1, ":",
                                                   e.mark.column + 1, ": invalid YAML: ",
                                                   e.msg));
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot read config file ", path, ": ", e.what()));
  }
  int64_t visited = 0;
  RETURN_IF_ERROR(CheckConfigNode(root, path, visited));
  return root;
}

}  // namespace aha
