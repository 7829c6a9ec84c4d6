#pragma once
// What `init` and `new service` will do, decided before anything is written: files to create
// (never over an existing one), edits of existing files (their whole new text), and the steps
// left to the user (a snippet to paste where an edit was not safe). Printing it is `--dry-run`;
// writing it is all the files or, on the first failure, an error naming the file. Any thread.

#include <filesystem>
#include <iosfwd>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "runtime/core/result.h"

namespace ticketctl::scaffold {

struct FileChange {
  std::filesystem::path path;  // absolute
  std::string content;         // the whole new text
  bool created = false;        // a new file, else an edit
  std::string summary;         // what changed, for the report ("added images.app/auth")
};

// An edit that could not be made safely: paste `snippet` into `file` after line `line`.
struct ManualStep {
  std::filesystem::path file;
  int line = 0;
  std::string reason;
  std::string snippet;
};

struct Plan {
  std::vector<FileChange> changes;
  std::vector<ManualStep> manual;
  std::vector<std::string> notes;  // what was guessed, what to do next
};

// Builds a plan over a working copy: a file edited twice gets both edits.
class PlanBuilder {
 public:
  // The file as the plan has it so far, else as on disk; nullopt when neither has it.
  std::optional<std::string> read(const std::filesystem::path& path) const;
  bool exists(const std::filesystem::path& path) const;
  // Refuses (AlreadyExists) when the file exists on disk or in the plan.
  Result<bool> create(const std::filesystem::path& path, std::string content, std::string summary);
  void edit(const std::filesystem::path& path, std::string content, std::string summary);
  void manual(ManualStep step) { plan_.manual.push_back(std::move(step)); }
  void note(std::string text) { plan_.notes.push_back(std::move(text)); }
  const Plan& plan() const { return plan_; }
  Plan take() { return std::move(plan_); }

 private:
  Plan plan_;
  std::map<std::filesystem::path, size_t> index_;  // path -> position in plan_.changes
};

// Writes the plan: parent directories (0755), new files with O_EXCL (a file that appeared since
// the plan was made is not overwritten), edits through a temporary file renamed over the
// original. Stops at the first failure.
Result<bool> write_plan(const Plan& plan);

// "created NAME/src/app.js", "edited ticketctl.yaml: ...", the manual steps and notes; paths
// relative to `base`. With `contents`, each file's new text follows its line (--dry-run).
void print_plan(const Plan& plan, const std::filesystem::path& base, bool contents,
                std::ostream& out);

}  // namespace ticketctl::scaffold
