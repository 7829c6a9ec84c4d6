// `edit`: the object as YAML in the user's editor ($KUBE_EDITOR, else $EDITOR, else vi). What was
// saved is checked here (so errors name the file's lines), and what the user changed is sent as
// a JSON merge patch, as kubectl edit sends a patch: a controller's write meanwhile (a new
// Deployment's revision annotation, status) does not turn the edit into a Conflict, and fields
// the user did not touch keep whatever they hold by then. A file that is refused, here or by
// the API, is opened again with the errors as comments at its top, as kubectl edit does.

#include <fmt/format.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>

#include "cli/api_verbs.h"
#include "cli/commands.h"
#include "cli/connection.h"
#include "runtime/core/strings.h"
#include "runtime/manifest/loader.h"
#include "runtime/manifest/yaml_writer.h"

namespace ticketctl::cli {
namespace {

constexpr const char* kHeader =
    "# Please edit the object below. Lines beginning with a '#' will be ignored,\n"
    "# and an empty file will abort the edit. If an error occurs while saving this file will be\n"
    "# reopened with the relevant failures.\n"
    "#\n";

struct EditArgs {
  std::vector<std::string> words;
  std::string ns = "default";
  StateDirArg state;
};

// The text without its comment lines: what the user changed, if anything.
std::string without_comments(const std::string& text) {
  std::istringstream in(text);
  std::string out;
  for (std::string line; std::getline(in, line);)
    if (!line.starts_with('#')) out += line + '\n';
  return out;
}

bool blank(const std::string& text) {
  return text.find_first_not_of(" \t\r\n") == std::string::npos;
}

std::string editor() {
  for (const char* var : {"KUBE_EDITOR", "EDITOR"})
    if (const char* v = std::getenv(var); v && *v) return v;
  return "vi";
}

// Runs the editor on `file` as kubectl does: through the shell, so "code --wait" works. The
// editor shares the terminal; the file name goes as an argument, never into the command text.
int run_editor(const std::string& command, const std::string& file) {
  std::cout << std::flush;
  const pid_t pid = ::fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    const std::string script = command + " \"$1\"";
    ::execl("/bin/sh", "sh", "-c", script.c_str(), "sh", file.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

Result<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error{ErrorCode::Internal, fmt::format("cannot read {}", path)};
  std::ostringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

// The file the editor opens: private to the user, removed when the edit ends.
class EditFile {
 public:
  EditFile() {
    const char* tmp = std::getenv("TMPDIR");
    std::string templ = std::string(tmp && *tmp ? tmp : "/tmp") + "/ticketctl-edit-XXXXXX.yaml";
    const int fd = ::mkstemps(templ.data(), 5);  // mode 0600
    if (fd >= 0) {
      ::close(fd);
      path_ = templ;
    }
  }
  ~EditFile() {
    if (!path_.empty()) ::unlink(path_.c_str());
  }
  EditFile(const EditFile&) = delete;
  EditFile& operator=(const EditFile&) = delete;
  const std::string& path() const { return path_; }
  bool write(const std::string& text) const {
    std::ofstream out(path_, std::ios::binary | std::ios::trunc);
    out << text;
    return static_cast<bool>(out.flush());
  }

 private:
  std::string path_;
};

std::string as_comments(const std::string& text) {
  std::istringstream in(text);
  std::string out;
  for (std::string line; std::getline(in, line);) out += "# " + line + '\n';
  return out;
}

// What the user edited: the object without what the system writes on its own.
Json user_visible(Json o) {
  o.erase("status");
  if (o.contains("metadata") && o["metadata"].is_object())
    for (const char* k : {"resourceVersion", "generation", "managedFields"}) o["metadata"].erase(k);
  return o;
}

// RFC 7386: the merge patch that turns `from` into `to`. Objects are compared key by key; a key
// `to` lacks becomes null (delete); anything else that differs, lists included, is replaced whole.
Json merge_patch_between(const Json& from, const Json& to) {
  if (!from.is_object() || !to.is_object()) return to;
  Json patch = Json::object();
  for (const auto& [key, value] : from.items())
    if (!to.contains(key)) patch[key] = nullptr;
  for (const auto& [key, value] : to.items()) {
    const auto was = from.find(key);
    if (was == from.end()) {
      patch[key] = value;
    } else if (*was != value) {
      Json inner = was->is_object() && value.is_object() ? merge_patch_between(*was, value) : value;
      if (!inner.is_object() || !inner.empty() || !value.is_object()) patch[key] = std::move(inner);
    }
  }
  return patch;
}

// What the saved file says (its text without comment lines), checked as `apply` would check it:
// the edited object, or the problems, one per line. Each problem names its line as it will be in
// the reopened file, which puts the header and these problems above the same text.
Result<Json> read_edited(const std::string& file, const std::string& text, const Json& current,
                         const std::string& ns) {
  manifest::LoadOptions options;
  options.default_namespace = ns;
  const manifest::LoadResult loaded = manifest::load_text(file, text, options);
  std::vector<std::pair<size_t, std::string>> found;  // line in `text` (0: none), problem
  for (const Diagnostic& d : loaded.diagnostics.items()) {
    if (d.severity != Severity::Error) continue;
    std::string what = (d.field.empty() ? "" : d.field + ": ") + d.message;
    std::replace(what.begin(), what.end(), '\n', ' ');
    found.emplace_back(d.pos.line, std::move(what));
  }
  if (found.empty() && loaded.objects.size() != 1)
    found.emplace_back(0, "the file must hold exactly one object");
  if (!found.empty()) {
    // The reopened file: the header, "NAME was not valid:", a line per problem, "#", the text.
    const size_t above =
        static_cast<size_t>(std::count(kHeader, kHeader + std::strlen(kHeader), '\n')) + 1 +
        found.size() + 1;
    std::vector<std::string> problems;
    for (const auto& [line, what] : found)
      problems.push_back(line > 0 ? fmt::format("line {}: {}", line + above, what) : what);
    return Error{ErrorCode::Invalid, join(problems, "\n* ")};
  }
  const Json& edited = loaded.objects[0].body;
  // What names the object cannot change: that would be another object.
  for (const auto& [where, field] : {std::pair{"", "apiVersion"},
                                     {"", "kind"},
                                     {"metadata", "name"},
                                     {"metadata", "namespace"}}) {
    const Json& before = *where ? json_at(json_at(current, where), field) : json_at(current, field);
    const Json& after = *where ? json_at(json_at(edited, where), field) : json_at(edited, field);
    if (!before.is_null() && before != after)
      return Error{ErrorCode::Invalid,
                   fmt::format("{}{}{} cannot be changed (it was {}): edit makes no new objects",
                               where, *where ? "." : "", field, before.dump())};
  }
  return edited;
}

}  // namespace

Handler attach_edit(CLI::App& verb) {
  auto a = std::make_shared<EditArgs>();
  verb.add_option("resource", a->words, "TYPE/NAME or TYPE NAME")->required();
  verb.add_option("-n,--namespace", a->ns, "Namespace")->capture_default_str();
  a->state.attach(verb);
  verb.footer(
      "Opens the object as YAML in $KUBE_EDITOR, else $EDITOR, else vi; on save and exit what you\n"
      "changed is sent as a merge patch (fields you did not touch keep what they hold by then).\n"
      "An invalid object is reopened with the errors at the top; saving it unchanged then gives\n"
      "up (exit 1). Nothing changed, or an empty file: \"Edit cancelled\", exit 0.");
  return [a] {
    Result<std::vector<ObjectRef>> refs = parse_object_refs(a->words);
    if (!refs.ok()) {
      std::cerr << "error: " << refs.error().message << '\n';
      return kExitUsage;
    }
    if (refs.value().size() != 1 || refs.value()[0].name.empty()) {
      std::cerr << "error: edit takes exactly one object: TYPE/NAME or TYPE NAME\n";
      return kExitUsage;
    }
    const ObjectRef& ref = refs.value()[0];
    Result<api::ApiClient> client = a->state.connect();
    if (!client.ok()) {
      std::cerr << "error: " << client.error().message << '\n';
      return kExitFailure;
    }
    const std::string path = ref.resource->path(a->ns, ref.name);
    Result<Json> current = client.value().get(path);
    if (!current.ok()) {
      std::cerr << server_error(current.error()) << '\n';
      return kExitFailure;
    }
    const std::string name = ref.resource->kubectl_kind() + "/" + ref.name;
    const std::string original = manifest::to_yaml(current.value());
    EditFile file;
    if (file.path().empty() || !file.write(std::string(kHeader) + original)) {
      std::cerr << "error: cannot write a temporary file for the editor\n";
      return kExitFailure;
    }
    const std::string command = editor();
    std::string last_refused;  // what the API refused last, to tell a give-up from a retry
    while (true) {
      if (run_editor(command, file.path()) != 0) {
        std::cerr << "error: there was a problem with the editor \"" << command << "\"\n";
        return kExitFailure;
      }
      Result<std::string> saved = read_file(file.path());
      if (!saved.ok()) {
        std::cerr << "error: " << saved.error().message << '\n';
        return kExitFailure;
      }
      const std::string edited = without_comments(saved.value());
      if (blank(edited)) {
        std::cout << "Edit cancelled, saved file was empty.\n";
        return kExitOk;
      }
      if (edited == without_comments(original)) {
        std::cout << "Edit cancelled, no changes made.\n";
        return kExitOk;
      }
      if (edited == last_refused) {
        std::cerr << "error: Edit cancelled, no valid changes were saved.\n";
        return kExitFailure;
      }
      Result<Json> checked = read_edited(file.path(), edited, current.value(), a->ns);
      std::string refusal;
      if (!checked.ok()) {
        refusal = checked.error().message;
      } else {
        const Json patch =
            merge_patch_between(user_visible(current.value()), user_visible(checked.value()));
        if (patch.empty()) {
          std::cout << "Edit cancelled, no changes made.\n";
          return kExitOk;
        }
        Result<Json> patched =
            client.value().patch(path, "application/merge-patch+json", patch.dump());
        if (patched.ok()) {
          std::cout << name << " edited\n";
          return kExitOk;
        }
        refusal = patched.error().message;
        if (patched.error().code != ErrorCode::Invalid) {
          // Gone meanwhile, a server failure or no answer: not the file's fault, reopening would
          // not help.
          std::cerr << "error: " << name << ": " << refusal << '\n';
          return kExitFailure;
        }
      }
      last_refused = edited;
      if (!file.write(std::string(kHeader) +
                      as_comments(fmt::format("{} was not valid:\n* {}", name, refusal)) + "#\n" +
                      edited)) {
        std::cerr << "error: cannot write " << file.path() << '\n';
        return kExitFailure;
      }
    }
  };
}

}  // namespace ticketctl::cli
