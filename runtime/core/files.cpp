#include "runtime/core/files.h"

#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace ticketctl {
namespace fs = std::filesystem;
namespace {

Error io_error(const char* what, const fs::path& p, int err) {
  return Error{ErrorCode::Internal,
               fmt::format("cannot {} {}: {}", what, p.string(), std::strerror(err))};
}

std::string user_name(uid_t uid) {
  struct passwd pw {};
  struct passwd* found = nullptr;
  char buf[1024];
  if (::getpwuid_r(uid, &pw, buf, sizeof buf, &found) == 0 && found)
    return fmt::format("uid {} ({})", uid, found->pw_name);
  return fmt::format("uid {}", uid);
}

// Entries of the trusted tree, at most; a bigger one is refused rather than walked for minutes.
constexpr size_t kMaxEntries = 200'000;
// Symlinks followed while checking the ancestors of one path, as the kernel's ELOOP bound.
constexpr int kMaxSymlinks = 40;

class TreeCheck {
 public:
  TreeCheck(const std::vector<std::string>& opaque)
      : uid_(::geteuid()), gid_(::getegid()), opaque_(opaque) {}

  // Every component of the absolute path `p` (the last one excluded) may be trusted as a place
  // to look things up: nobody but root or the user can replace what it leads to.
  Result<bool> ancestors(const fs::path& p, int depth = 0) {
    if (depth > kMaxSymlinks)
      return Error{ErrorCode::Invalid, fmt::format("{}: too many levels of symlinks", p.string())};
    fs::path at = "/";
    std::vector<fs::path> parts(p.begin(), p.end());
    for (size_t i = 1; i + 1 < parts.size(); ++i) {
      at /= parts[i];
      struct stat st {};
      if (::lstat(at.c_str(), &st) != 0) {
        if (errno == ENOENT) return true;  // the rest will be created by the user
        return io_error("inspect", at, errno);
      }
      if (st.st_uid != 0 && st.st_uid != uid_) return foreign(at, st);
      if (S_ISLNK(st.st_mode)) {
        std::error_code ec;
        const fs::path target = fs::read_symlink(at, ec);
        if (ec) return io_error("read the symlink", at, ec.value());
        fs::path resolved = target.is_absolute() ? target : at.parent_path() / target;
        // The rest of the path continues from the link's target.
        for (size_t j = i + 1; j < parts.size(); ++j) resolved /= parts[j];
        return ancestors(resolved.lexically_normal(), depth + 1);
      }
      if (!S_ISDIR(st.st_mode))
        return Error{ErrorCode::Invalid, fmt::format("{} is not a directory", at.string())};
      if (writable_by_others(st) && !(st.st_mode & S_ISVTX)) return loose(at, st);
    }
    return true;
  }

  // `root` and everything below it belong to the user and nobody else may change them.
  Result<bool> tree(const fs::path& root) {
    struct stat st {};
    if (::lstat(root.c_str(), &st) != 0)
      return errno == ENOENT ? Result<bool>(true) : io_error("inspect", root, errno);
    if (S_ISLNK(st.st_mode)) {
      // A symlinked state directory is followed once, then judged like any other.
      if (st.st_uid != 0 && st.st_uid != uid_) return foreign(root, st);
      std::error_code ec;
      const fs::path target = fs::canonical(root, ec);
      if (ec) return io_error("resolve", root, ec.value());
      if (Result<bool> a = ancestors(target); !a.ok()) return a;
      return entry_tree(target);
    }
    return entry_tree(root);
  }

 private:
  Result<bool> entry_tree(const fs::path& root) {
    std::vector<fs::path> pending{root};
    size_t seen = 0;
    while (!pending.empty()) {
      const fs::path dir = std::move(pending.back());
      pending.pop_back();
      struct stat st {};
      if (::lstat(dir.c_str(), &st) != 0) return io_error("inspect", dir, errno);
      if (Result<bool> r = owned(dir, st); !r.ok()) return r;
      if (!S_ISDIR(st.st_mode))
        return Error{ErrorCode::Invalid, fmt::format("{} is not a directory", dir.string())};
      std::error_code ec;
      for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        if (++seen > kMaxEntries)
          return Error{ErrorCode::Invalid,
                       fmt::format("{} holds more than {} files; it cannot be checked in "
                                   "reasonable time",
                                   root.string(), kMaxEntries)};
        const fs::path p = it->path();
        struct stat est {};
        if (::lstat(p.c_str(), &est) != 0) {
          if (errno == ENOENT) continue;  // removed meanwhile (a log rotated)
          return io_error("inspect", p, errno);
        }
        if (S_ISDIR(est.st_mode)) {
          bool is_opaque = false;
          for (const std::string& o : opaque_) is_opaque = is_opaque || dir.filename() == o;
          if (is_opaque) {
            // Data of a pod's own programs: only the directory itself must be ours.
            if (Result<bool> r = owned(p, est); !r.ok()) return r;
            continue;
          }
          pending.push_back(p);
          continue;
        }
        if (Result<bool> r = owned(p, est); !r.ok()) return r;
      }
      if (ec) return io_error("list", dir, ec.value());
    }
    return true;
  }

  Result<bool> owned(const fs::path& p, const struct stat& st) {
    if (st.st_uid != uid_) return foreign(p, st);
    // A symlink's own mode means nothing; what it is in matters, and that is checked. Group
    // write is the user's own when the group is their primary one (Debian's user private groups;
    // kubectl's cache writes 0660 files).
    if (!S_ISLNK(st.st_mode) &&
        ((st.st_mode & S_IWOTH) || ((st.st_mode & S_IWGRP) && st.st_gid != gid_)))
      return loose(p, st);
    return true;
  }

  bool writable_by_others(const struct stat& st) const {
    if (st.st_mode & S_IWOTH) return true;
    // A group-writable directory is the user's own when the group is theirs (Debian's user
    // private groups).
    return (st.st_mode & S_IWGRP) && st.st_gid != gid_ && st.st_gid != 0;
  }

  Error foreign(const fs::path& p, const struct stat& st) const {
    return Error{ErrorCode::Invalid,
                 fmt::format("{} belongs to {}, not to you ({}): another user could have put "
                             "it there or can change it",
                             p.string(), user_name(st.st_uid), user_name(uid_))};
  }
  Error loose(const fs::path& p, const struct stat& st) const {
    return Error{ErrorCode::Invalid,
                 fmt::format("{} is writable by other users (mode {:04o}); `chmod go-w {}` if it "
                             "is yours",
                             p.string(), st.st_mode & 07777, p.string())};
  }

  uid_t uid_;
  gid_t gid_;
  const std::vector<std::string>& opaque_;
};

}  // namespace

Result<bool> write_private_file(const fs::path& file, const std::string& content) {
  std::string tmp = file.string() + ".XXXXXX";
  // mkostemp creates with O_EXCL: it never opens what a planted file or symlink points at.
  const int fd = ::mkostemp(tmp.data(), O_CLOEXEC);
  if (fd < 0) return io_error("write", file, errno);
  const auto fail = [&](int err) {
    ::close(fd);
    ::unlink(tmp.c_str());
    return io_error("write", file, err);
  };
  if (::fchmod(fd, 0600) != 0) return fail(errno);
  size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail(errno);
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) return fail(errno);
  ::close(fd);
  // rename replaces a symlink at `file` itself, never what it points to.
  if (::rename(tmp.c_str(), file.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return io_error("write", file, err);
  }
  return true;
}

int open_private_append(const fs::path& file) {
  const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd >= 0) ::fchmod(fd, 0600);
  return fd;
}

Result<bool> make_private_dirs(const fs::path& dir) {
  fs::path at;
  for (const fs::path& part : dir) {
    at /= part;
    struct stat st {};
    if (::lstat(at.c_str(), &st) == 0) {
      if (S_ISLNK(st.st_mode) && at == dir)
        return Error{ErrorCode::Invalid, fmt::format("{} is a symlink", at.string())};
      continue;
    }
    if (errno != ENOENT) return io_error("inspect", at, errno);
    if (::mkdir(at.c_str(), 0700) != 0 && errno != EEXIST) return io_error("create", at, errno);
    // The umask may have taken bits mkdir was given; 0700 is what is meant.
    ::chmod(at.c_str(), 0700);
  }
  if (::chmod(dir.c_str(), 0700) != 0) return io_error("set the mode of", dir, errno);
  return true;
}

Result<bool> check_private_tree(const fs::path& root, const std::vector<std::string>& opaque) {
  fs::path abs = fs::absolute(root).lexically_normal();
  if (abs.filename().empty() && abs.has_parent_path()) abs = abs.parent_path();
  TreeCheck check(opaque);
  if (Result<bool> a = check.ancestors(abs); !a.ok()) return a;
  return check.tree(abs);
}

}  // namespace ticketctl
