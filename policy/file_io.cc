// Whole-file reads and crash-safe writes for checkpoint files.
#include "policy/file_io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace aha {
namespace {

absl::Status ErrnoError(const std::string& what, const std::string& path) {
  return absl::UnknownError(absl::StrCat(what, " ", path, ": ", std::strerror(errno)));
}

// Writes all `size` bytes, retrying short writes and EINTR.
bool WriteAll(int fd, const uint8_t* data, size_t size) {
  while (size > 0) {
    ssize_t written = ::write(fd, data, size);
    if (written < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data += written;
    size -= static_cast<size_t>(written);
  }
  return true;
}

std::string ParentFolder(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

}  // namespace

absl::StatusOr<std::string> ReadFileToString(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return absl::NotFoundError(absl::StrCat("file not found: ", path));
    return ErrnoError("cannot open", path);
  }
  std::string contents;
  char buffer[1 << 16];
  while (true) {
    ssize_t count = ::read(fd, buffer, sizeof(buffer));
    if (count < 0 && errno == EINTR) continue;
    if (count < 0) {
      absl::Status status = ErrnoError("failed to read", path);
      ::close(fd);
      return status;
    }
    if (count == 0) break;
    contents.append(buffer, static_cast<size_t>(count));
  }
  ::close(fd);
  return contents;
}

absl::Status WriteFileAtomically(const std::string& path,
                                 const std::vector<absl::Span<const uint8_t>>& pieces) {
  // The pid and a counter keep concurrent writers, in this process or others, apart.
  static std::atomic<uint64_t> counter{0};
  const std::string temp_path =
      absl::StrCat(path, ".tmp-", ::getpid(), "-", counter.fetch_add(1));
  int fd = ::open(temp_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoError("cannot create", temp_path);

  bool ok = true;
  for (const absl::Span<const uint8_t>& piece : pieces) {
    if (!WriteAll(fd, piece.data(), piece.size())) {
      ok = false;
      break;
    }
  }
  absl::Status status;
  if (!ok) {
    status = ErrnoError("failed to write", temp_path);
  } else if (::fsync(fd) != 0) {
    status = ErrnoError("failed to flush", temp_path);
  }
  if (::close(fd) != 0 && status.ok()) status = ErrnoError("failed to close", temp_path);
  if (status.ok() && ::rename(temp_path.c_str(), path.c_str()) != 0) {
    status = ErrnoError(absl::StrCat("failed to rename ", temp_path, " to"), path);
  }
  if (!status.ok()) {
    ::unlink(temp_path.c_str());
    return status;
  }

  // Flushing the folder makes the rename itself survive a power loss. A failure here leaves a
  // complete file, so it is not reported.
  int dir_fd = ::open(ParentFolder(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    ::fsync(dir_fd);
    ::close(dir_fd);
  }
  return absl::OkStatus();
}

absl::Status WriteFileAtomically(const std::string& path, const std::string& contents) {
  return WriteFileAtomically(
      path, {absl::Span<const uint8_t>(reinterpret_cast<const uint8_t*>(contents.data()),
                                       contents.size())});
}

}  // namespace aha
