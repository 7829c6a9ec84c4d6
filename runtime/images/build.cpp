#include "runtime/images/build.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <deque>
#include <fstream>
#include <memory>
#include <sstream>
#include <utility>

#include "runtime/core/files.h"
#include "runtime/core/rfc3339.h"
#include "runtime/core/run_command.h"
#include "runtime/images/resolver.h"

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

// Temp file + rename, mode 0600 whatever the umask: the kubelet never reads half a record.
Result<bool> write_atomically(const fs::path& file, const std::string& content) {
  if (Result<bool> made = make_private_dirs(file.parent_path()); !made.ok()) return made;
  return write_private_file(file, content);
}

std::string read_first_line(const fs::path& file) {
  std::ifstream in(file);
  std::string line;
  std::getline(in, line);
  return line;
}

// An exclusive flock on a file, released when destroyed (or when the process dies).
class LockFile {
 public:
  static Result<LockFile> take(const fs::path& file) {
    (void)make_private_dirs(file.parent_path());  // a failed open below says why
    const int fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
      return Error{ErrorCode::Internal,
                   fmt::format("cannot open {}: {}", file.string(), std::strerror(errno))};
    while (::flock(fd, LOCK_EX) != 0) {
      if (errno == EINTR) continue;
      const Error e{ErrorCode::Internal,
                    fmt::format("cannot lock {}: {}", file.string(), std::strerror(errno))};
      ::close(fd);
      return e;
    }
    return LockFile(fd);
  }
  LockFile(LockFile&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  LockFile& operator=(LockFile&&) = delete;
  ~LockFile() {
    if (fd_ >= 0) ::close(fd_);
  }

 private:
  explicit LockFile(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace

bool is_ignored_dir_name(std::string_view name) {
  return name == "node_modules" || name == ".git";
}

std::string inputs_hash(const BuildPlan& plan, const std::vector<fs::path>& skip) {
  Sha256 sha;
  for (const BuildCommand& c : plan.commands) {
    for (const std::string& word : c.argv) sha.add_field(word);
    sha.add_field(c.dir.string());
    for (const auto& [k, v] : c.env) sha.add_field(k + "=" + v);
    sha.add("|");
  }
  sha.add("|");
  std::vector<fs::path> skipped;
  for (const fs::path& s : skip) skipped.push_back(fs::weakly_canonical(s));
  std::vector<fs::path> files;
  for (const fs::path& input : plan.inputs) {
    std::error_code ec;
    if (!fs::is_directory(input, ec)) {
      files.push_back(input);
      continue;
    }
    fs::recursive_directory_iterator it(input, fs::directory_options::skip_permission_denied, ec);
    for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      const fs::directory_entry& e = *it;
      const bool is_dir = e.is_directory(ec) && !e.is_symlink(ec);
      if (is_dir && (is_ignored_dir_name(e.path().filename().string()) ||
                     std::find(skipped.begin(), skipped.end(), fs::weakly_canonical(e.path())) !=
                         skipped.end())) {
        it.disable_recursion_pending();
        continue;
      }
      if (!is_dir) files.push_back(e.path());
    }
  }
  std::sort(files.begin(), files.end());
  files.erase(std::unique(files.begin(), files.end()), files.end());
  for (const fs::path& path : files) {
    sha.add_field(path.generic_string());
    std::error_code lec;
    if (fs::is_symlink(fs::symlink_status(path, lec))) {
      sha.add_field("->" + fs::read_symlink(path, lec).string());
    } else if (fs::is_regular_file(path, lec)) {
      if (!add_file(sha, path)) sha.add_field("unreadable");
    } else {
      sha.add_field("missing");
    }
    sha.add("|");
  }
  return sha.hex();
}

BuildRun run_build(const BuildCommand& command,
                   const std::function<void(std::string_view line)>& on_line, size_t keep_lines,
                   std::atomic<pid_t>* group) {
  BuildRun run;
  if (command.argv.empty()) {
    run.error = "the build command is empty";
    return run;
  }
  std::vector<std::string> argv = command.argv;
  std::vector<std::pair<std::string, std::string>> env = command.env;
  if (!program_on_path(argv[0])) {
    // The node images ship yarn and pnpm through corepack; so does Node on the host (16.9-24).
    const bool via_corepack =
        (argv[0] == "yarn" || argv[0] == "pnpm") && program_on_path("corepack");
    if (!via_corepack) {
      run.error = fmt::format("{} is not installed (not found on PATH){}", argv[0],
                              argv[0] == "yarn" || argv[0] == "pnpm"
                                  ? ", and neither is Node's corepack, which would run it"
                                  : "");
      return run;
    }
    argv.insert(argv.begin(), "corepack");
    env.emplace_back("COREPACK_ENABLE_DOWNLOAD_PROMPT", "0");
  }
  std::deque<std::string> last;
  auto emit = [&](std::string line) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (on_line) on_line(line);
    last.push_back(std::move(line));
    if (last.size() > keep_lines) last.pop_front();
  };
  std::string partial;
  RunSpec spec;
  spec.argv = std::move(argv);
  spec.dir = command.dir;
  spec.env = std::move(env);
  spec.group = group;  // none: the caller's group, where a terminal's Ctrl-C reaches it
  spec.on_output = [&](std::string_view chunk) {
    partial.append(chunk);
    size_t start = 0;
    for (size_t eol; (eol = partial.find('\n', start)) != std::string::npos; start = eol + 1)
      emit(partial.substr(start, eol - start));
    partial.erase(0, start);
    if (partial.size() > 65536) {  // a progress bar without newlines: bounded
      emit(partial);
      partial.clear();
    }
  };
  const RunResult result = run_command(spec);
  if (!result.error.empty()) {
    run.error = result.error;
    return run;
  }
  if (!partial.empty()) emit(partial);
  // A shell killed before it reported (the control plane stopping it) reads as 128+SIGTERM.
  run.exit_status = result.term_signal != 0 ? 128 + SIGTERM : result.exit_status;
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

std::vector<std::string> failure_lines(const BuildRecords& records) {
  std::ifstream in(records.failure_file());
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

Result<bool> record_success(const BuildRecords& records, const std::string& image,
                            const BuildPlan& plan, const std::string& hash) {
  nlohmann::json commands = nlohmann::json::array();
  for (const BuildCommand& c : plan.commands)
    commands.push_back({{"command", c.argv}, {"dir", c.dir.string()}});
  const nlohmann::json j = {{"image", image},
                            {"hash", hash},
                            {"from", plan.origin},
                            {"commands", commands},
                            {"builtAt", rfc3339::now_seconds()}};
  Result<bool> written = write_atomically(records.success_file(), j.dump(2) + "\n");
  if (!written.ok()) return written;
  // Gone marker: the kubelet starts the image's waiting pods within a second.
  std::error_code ec;
  fs::remove(records.failed_inputs_file(), ec);
  fs::remove(records.failure_file(), ec);
  if (ec)
    return Error{ErrorCode::Internal, fmt::format("cannot remove {}: {}",
                                                  records.failure_file().string(), ec.message())};
  return true;
}

Result<bool> record_failure(const BuildRecords& records, const std::vector<std::string>& lines,
                            const std::string& hash) {
  std::string text;
  for (const std::string& line : lines) text += line + "\n";
  if (Result<bool> w = write_atomically(records.failed_inputs_file(), hash + "\n"); !w.ok())
    return w;
  return write_atomically(records.failure_file(), text);
}

BuildReport build_if_changed(const BuildRequest& request,
                             const std::function<void(std::string_view line)>& on_line) {
  const auto start = std::chrono::steady_clock::now();
  const BuildPlan& plan = request.plan;
  BuildReport report;
  auto elapsed = [&] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                 start);
  };
  // Another process (`ticketctl build` beside the control plane) may be building this image:
  // wait for it, then look again at what it left.
  Result<LockFile> lock = LockFile::take(request.records.lock_file());
  if (!lock.ok()) {
    report.message = lock.error().message;
    return report;
  }
  const std::string before = inputs_hash(plan, request.skip);
  if (!request.force) {
    const bool failed = last_build_failed(request.records);
    if (failed && !request.retry_failed &&
        read_first_line(request.records.failed_inputs_file()) == before) {
      report.outcome = BuildOutcome::FailedBefore;
      report.last_lines = failure_lines(request.records);
      report.message = "it failed before with the same inputs";
      report.took = elapsed();
      return report;
    }
    const bool outputs_present =
        std::all_of(plan.outputs.begin(), plan.outputs.end(), [](const fs::path& p) {
          std::error_code ec;
          return fs::exists(p, ec);
        });
    if (!failed && outputs_present && last_built_hash(request.records) == before) {
      report.outcome = BuildOutcome::UpToDate;
      report.took = elapsed();
      return report;
    }
  }
  if (request.on_start) request.on_start();
  // A build stopped halfway must not look done to the next run.
  std::error_code ec;
  fs::remove(request.records.success_file(), ec);
  const auto cancelled = [&] { return request.cancelled && request.cancelled(); };
  for (const BuildCommand& command : plan.commands) {
    const BuildRun run = cancelled() ? BuildRun{} : run_build(command, on_line, 20, request.group);
    if (run.exit_status == 0) continue;
    report.took = elapsed();
    if (cancelled()) {
      report.message = "stopped";
      return report;
    }
    std::vector<std::string> lines = run.last_lines;
    report.message = run.exit_status < 0
                         ? run.error
                         : fmt::format("`{}` exited with status {} (in {})", command.text,
                                       run.exit_status, command.dir.string());
    // The kubelet shows the last lines in the pod's waiting message.
    if (lines.empty() || run.exit_status < 0) lines.push_back(report.message);
    report.outcome = BuildOutcome::Failed;
    report.last_lines = lines;
    if (const Result<bool> r = record_failure(request.records, lines, before); !r.ok())
      report.message += "; " + r.error().message;
    return report;
  }
  report.took = elapsed();
  const Result<bool> r =
      record_success(request.records, request.image, plan, inputs_hash(plan, request.skip));
  report.outcome = r.ok() ? BuildOutcome::Built : BuildOutcome::Failed;
  if (!r.ok()) report.message = r.error().message;
  return report;
}

}  // namespace ticketctl::images
