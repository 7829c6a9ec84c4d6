#include "runtime/scaffold/plan.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <ostream>
#include <sstream>

namespace ticketctl::scaffold {
namespace fs = std::filesystem;
namespace {

// Source files are small; anything larger is not a file these commands should edit.
constexpr uintmax_t kMaxEditedFileBytes = 4 << 20;

Result<bool> write_all(int fd, const std::string& content, const fs::path& path) {
  size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0)
      return Error{ErrorCode::Internal, fmt::format("{}: {}", path.string(), std::strerror(errno))};
    done += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

std::optional<std::string> PlanBuilder::read(const fs::path& path) const {
  if (auto it = index_.find(path); it != index_.end()) return plan_.changes[it->second].content;
  std::error_code ec;
  if (!fs::is_regular_file(path, ec) || fs::file_size(path, ec) > kMaxEditedFileBytes)
    return std::nullopt;
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::stringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

bool PlanBuilder::exists(const fs::path& path) const {
  std::error_code ec;
  return index_.count(path) != 0 || fs::exists(fs::symlink_status(path, ec));
}

Result<bool> PlanBuilder::create(const fs::path& path, std::string content, std::string summary) {
  if (exists(path))
    return Error{ErrorCode::AlreadyExists, fmt::format("{} already exists", path.string())};
  index_[path] = plan_.changes.size();
  plan_.changes.push_back({path, std::move(content), true, std::move(summary)});
  return true;
}

void PlanBuilder::edit(const fs::path& path, std::string content, std::string summary) {
  if (auto it = index_.find(path); it != index_.end()) {
    FileChange& c = plan_.changes[it->second];
    c.content = std::move(content);
    c.summary += "; " + summary;
    return;
  }
  index_[path] = plan_.changes.size();
  plan_.changes.push_back({path, std::move(content), false, std::move(summary)});
}

Result<bool> write_plan(const Plan& plan) {
  for (const FileChange& c : plan.changes) {
    std::error_code ec;
    fs::create_directories(c.path.parent_path(), ec);
    if (ec)
      return Error{ErrorCode::Internal,
                   fmt::format("{}: {}", c.path.parent_path().string(), ec.message())};
    if (c.created) {
      const int fd = ::open(c.path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
      if (fd < 0)
        return Error{ErrorCode::AlreadyExists,
                     fmt::format("{}: {}", c.path.string(), std::strerror(errno))};
      Result<bool> r = write_all(fd, c.content, c.path);
      ::close(fd);
      if (!r.ok()) return r;
      continue;
    }
    // Keep the edited file's mode; write beside it and rename, so it is never half-written.
    struct stat st {};
    const mode_t mode = ::stat(c.path.c_str(), &st) == 0 ? (st.st_mode & 07777) : 0644;
    const fs::path tmp = c.path.string() + ".ticketctl-tmp";
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0)
      return Error{ErrorCode::Internal, fmt::format("{}: {}", tmp.string(), std::strerror(errno))};
    Result<bool> r = write_all(fd, c.content, tmp);
    ::fchmod(fd, mode);
    ::close(fd);
    if (!r.ok() || ::rename(tmp.c_str(), c.path.c_str()) != 0) {
      const std::string why = r.ok() ? std::strerror(errno) : r.error().message;
      ::unlink(tmp.c_str());
      return Error{ErrorCode::Internal, fmt::format("{}: {}", c.path.string(), why)};
    }
  }
  return true;
}

void print_plan(const Plan& plan, const fs::path& base, bool contents, std::ostream& out) {
  for (const FileChange& c : plan.changes) {
    const std::string rel = c.path.lexically_relative(base).string();
    out << (c.created ? "created " : "edited  ") << rel;
    if (!c.created && !c.summary.empty()) out << ": " << c.summary;
    out << '\n';
    if (contents) {
      out << "--- " << rel << '\n' << c.content;
      if (!c.content.empty() && c.content.back() != '\n') out << '\n';
    }
  }
  for (const ManualStep& m : plan.manual) {
    out << "\nto do by hand: " << m.file.lexically_relative(base).string() << ':' << m.line << ": "
        << m.reason << "; add this after line " << m.line << ":\n"
        << m.snippet;
    if (!m.snippet.empty() && m.snippet.back() != '\n') out << '\n';
  }
  if (!plan.notes.empty()) out << '\n';
  for (const std::string& n : plan.notes) out << n << '\n';
}

}  // namespace ticketctl::scaffold
