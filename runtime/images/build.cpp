#include "runtime/images/build.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <deque>
#include <fstream>
#include <memory>
#include <sstream>

extern char** environ;

namespace ticketctl::images {
namespace fs = std::filesystem;
namespace {

class Sha256 {
 public:
  Sha256() : ctx_(EVP_MD_CTX_new(), EVP_MD_CTX_free) {
    EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr);
  }
  void add(std::string_view bytes) { EVP_DigestUpdate(ctx_.get(), bytes.data(), bytes.size()); }
  // Length-prefixed, so ("ab","c") and ("a","bc") differ.
  void add_field(std::string_view bytes) {
    add(fmt::format("{}:", bytes.size()));
    add(bytes);
  }
  std::string hex() {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_DigestFinal_ex(ctx_.get(), digest, &n);
    std::string out;
    for (unsigned int i = 0; i < n; ++i) out += fmt::format("{:02x}", digest[i]);
    return out;
  }

 private:
  std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> ctx_;
};

bool add_file(Sha256& sha, const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return false;
  char buf[65536];
  while (in.read(buf, sizeof buf) || in.gcount() > 0)
    sha.add(std::string_view(buf, static_cast<size_t>(in.gcount())));
  return true;
}

// Temp file + rename, mode 0600: the kubelet never reads half a record.
Result<bool> write_atomically(const fs::path& file, const std::string& content) {
  auto fail = [&] {
    return Error{ErrorCode::Internal,
                 fmt::format("cannot write {}: {}", file.string(), std::strerror(errno))};
  };
  std::error_code ec;
  fs::create_directories(file.parent_path(), ec);
  const fs::path tmp = file.string() + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return fail();
  ::fchmod(fd, 0600);
  for (size_t done = 0; done < content.size();) {
    const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const Error e = fail();
      ::close(fd);
      return e;
    }
    done += static_cast<size_t>(n);
  }
  ::close(fd);
  if (::rename(tmp.c_str(), file.c_str()) != 0) return fail();
  return true;
}

std::string now_rfc3339() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace

bool is_ignored_dir_name(std::string_view name) {
  return name == "node_modules" || name == ".git";
}

std::string inputs_hash(const fs::path& context, const std::vector<std::string>& command,
                        const std::vector<fs::path>& skip) {
  Sha256 sha;
  for (const std::string& word : command) sha.add_field(word);
  sha.add("|");
  std::vector<fs::path> skipped;
  for (const fs::path& s : skip) skipped.push_back(fs::weakly_canonical(s));
  std::vector<std::pair<std::string, fs::path>> files;
  std::error_code ec;
  fs::recursive_directory_iterator it(context, fs::directory_options::skip_permission_denied, ec);
  for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    const fs::directory_entry& e = *it;
    const bool is_dir = e.is_directory(ec) && !e.is_symlink(ec);
    if (is_dir && (is_ignored_dir_name(e.path().filename().string()) ||
                   std::find(skipped.begin(), skipped.end(), fs::weakly_canonical(e.path())) !=
                       skipped.end())) {
      it.disable_recursion_pending();
      continue;
    }
    if (is_dir) continue;
    files.emplace_back(e.path().lexically_relative(context).generic_string(), e.path());
  }
  std::sort(files.begin(), files.end());
  for (const auto& [relative, path] : files) {
    sha.add_field(relative);
    std::error_code lec;
    if (fs::is_symlink(fs::symlink_status(path, lec))) {
      sha.add_field("->" + fs::read_symlink(path, lec).string());
    } else if (fs::is_regular_file(path, lec)) {
      if (!add_file(sha, path)) sha.add_field("unreadable");
    }
    sha.add("|");
  }
  return sha.hex();
}

BuildRun run_build(const std::vector<std::string>& command, const fs::path& context,
                   const std::function<void(std::string_view line)>& on_line, size_t keep_lines) {
  BuildRun run;
  if (command.empty()) {
    run.error = "the build command is empty";
    return run;
  }
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) {
    run.error = fmt::format("pipe: {}", std::strerror(errno));
    return run;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_adddup2(&actions, out[1], 2);
  posix_spawn_file_actions_addchdir_np(&actions, context.c_str());
  // `dev` blocks SIGINT/SIGTERM to read them from a signalfd; the build gets the defaults.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, defaults;
  sigemptyset(&none);
  sigemptyset(&defaults);
  for (int sig : {SIGINT, SIGTERM, SIGPIPE, SIGCHLD}) sigaddset(&defaults, sig);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  std::vector<char*> argv;
  std::vector<std::string> words = command;
  for (std::string& w : words) argv.push_back(w.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  const int rc = ::posix_spawnp(&pid, argv[0], &actions, &attr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  ::close(out[1]);
  if (rc != 0) {
    ::close(out[0]);
    run.error =
        fmt::format("cannot run {} in {}: {}", command[0], context.string(), std::strerror(rc));
    return run;
  }
  std::deque<std::string> last;
  auto emit = [&](std::string line) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (on_line) on_line(line);
    last.push_back(std::move(line));
    if (last.size() > keep_lines) last.pop_front();
  };
  std::string partial;
  char buf[8192];
  for (;;) {
    const ssize_t n = ::read(out[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    partial.append(buf, static_cast<size_t>(n));
    size_t start = 0;
    for (size_t eol; (eol = partial.find('\n', start)) != std::string::npos; start = eol + 1)
      emit(partial.substr(start, eol - start));
    partial.erase(0, start);
  }
  if (!partial.empty()) emit(partial);
  ::close(out[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  run.exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  run.last_lines.assign(last.begin(), last.end());
  return run;
}

std::optional<std::string> last_built_hash(const BuildRecords& records) {
  std::ifstream in(records.success_file());
  if (!in) return std::nullopt;
  const nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
  if (!j.is_object() || !j.contains("hash") || !j["hash"].is_string()) return std::nullopt;
  return j["hash"].get<std::string>();
}

bool last_build_failed(const BuildRecords& records) {
  std::error_code ec;
  return fs::exists(records.failure_file(), ec);
}

Result<bool> record_success(const BuildRecords& records, const std::string& image,
                            const std::vector<std::string>& command, const std::string& hash) {
  const nlohmann::json j = {
      {"image", image}, {"hash", hash}, {"command", command}, {"builtAt", now_rfc3339()}};
  Result<bool> written = write_atomically(records.success_file(), j.dump(2) + "\n");
  if (!written.ok()) return written;
  // Gone marker: the kubelet starts the image's waiting pods within a second.
  std::error_code ec;
  fs::remove(records.failure_file(), ec);
  if (ec)
    return Error{ErrorCode::Internal, fmt::format("cannot remove {}: {}",
                                                  records.failure_file().string(), ec.message())};
  return true;
}

Result<bool> record_failure(const BuildRecords& records, const std::vector<std::string>& lines) {
  std::string text;
  for (const std::string& line : lines) text += line + "\n";
  return write_atomically(records.failure_file(), text);
}

BuildReport build_if_changed(const BuildRequest& request,
                             const std::function<void(std::string_view line)>& on_line) {
  const auto start = std::chrono::steady_clock::now();
  const project::ImageSetting& s = *request.setting;
  BuildReport report;
  auto elapsed = [&] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                 start);
  };
  if (!request.force && !last_build_failed(request.records) &&
      last_built_hash(request.records) == inputs_hash(s.context, s.build, request.skip)) {
    report.outcome = BuildOutcome::UpToDate;
    report.took = elapsed();
    return report;
  }
  const BuildRun run = run_build(s.build, s.context, on_line);
  report.took = elapsed();
  if (run.exit_status == 0) {
    const Result<bool> r = record_success(request.records, request.image, s.build,
                                          inputs_hash(s.context, s.build, request.skip));
    report.outcome = r.ok() ? BuildOutcome::Built : BuildOutcome::Failed;
    if (!r.ok()) report.message = r.error().message;
    return report;
  }
  std::vector<std::string> lines = run.last_lines;
  report.message = run.exit_status < 0 ? run.error
                                       : fmt::format("`{}` exited with status {}",
                                                     fmt::join(s.build, " "), run.exit_status);
  // The kubelet shows the last line in the pod's waiting message.
  if (lines.empty() || run.exit_status < 0) lines.push_back(report.message);
  report.outcome = BuildOutcome::Failed;
  if (const Result<bool> r = record_failure(request.records, lines); !r.ok())
    report.message += "; " + r.error().message;
  return report;
}

}  // namespace ticketctl::images
