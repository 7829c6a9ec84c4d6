#include "runtime/images/dockerfile.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <map>

#include "runtime/manifest/json.h"

namespace ticketctl::images {
namespace {

struct Instruction {
  int line;
  std::string keyword;  // upper case
  std::string args;
};

// Joins continuation lines (a trailing '\') and drops comments and blank lines.
std::vector<Instruction> instructions(std::string_view text) {
  std::vector<Instruction> out;
  std::string pending;
  int start_line = 0, line_no = 0;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos) eol = text.size();
    std::string line(text.substr(pos, eol - pos));
    pos = eol + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const size_t first = line.find_first_not_of(" \t");
    if (first == std::string::npos || line[first] == '#') {
      if (pos > text.size()) break;
      continue;  // comments may sit between continuation lines
    }
    if (pending.empty()) start_line = line_no;
    const size_t last = line.find_last_not_of(" \t");
    if (line[last] == '\\') {
      pending += line.substr(0, last) + " ";
    } else {
      pending += line;
      const size_t kw_start = pending.find_first_not_of(" \t");
      const size_t kw_end = pending.find_first_of(" \t", kw_start);
      std::string keyword = pending.substr(kw_start, kw_end - kw_start);
      std::transform(keyword.begin(), keyword.end(), keyword.begin(),
                     [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
      std::string args = kw_end == std::string::npos ? "" : pending.substr(kw_end);
      args.erase(0, args.find_first_not_of(" \t"));
      out.push_back({start_line, std::move(keyword), std::move(args)});
      pending.clear();
    }
    if (pos > text.size()) break;
  }
  return out;
}

// $VAR, ${VAR}, ${VAR:-default} and ${VAR:+alt}, from ARG and ENV values seen so far.
std::string substitute(std::string_view s, const std::map<std::string, std::string>& vars) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size() && s[i + 1] == '$') {
      out += '$';
      ++i;
      continue;
    }
    if (s[i] != '$' || i + 1 >= s.size()) {
      out += s[i];
      continue;
    }
    std::string name, modifier, word;
    size_t j = i + 1;
    if (s[j] == '{') {
      const size_t close = s.find('}', j);
      if (close == std::string_view::npos) {
        out += s.substr(i);
        break;
      }
      std::string inner(s.substr(j + 1, close - j - 1));
      const size_t colon = inner.find(':');
      name = inner.substr(0, colon);
      if (colon != std::string::npos && colon + 1 < inner.size()) {
        modifier = inner.substr(colon + 1, 1);
        word = inner.substr(colon + 2);
      }
      i = close;
    } else {
      while (j < s.size() && (std::isalnum(static_cast<unsigned char>(s[j])) || s[j] == '_')) ++j;
      name = std::string(s.substr(i + 1, j - i - 1));
      if (name.empty()) {
        out += '$';
        continue;
      }
      i = j - 1;
    }
    auto it = vars.find(name);
    const bool set = it != vars.end() && !it->second.empty();
    if (modifier == "-")
      out += set ? it->second : word;
    else if (modifier == "+")
      out += set ? word : "";
    else if (it != vars.end())
      out += it->second;
  }
  return out;
}

// Splits `a=1 "b=two words" c='x'` (ENV's and ARG's key=value form) into words.
std::vector<std::string> words(std::string_view s) {
  std::vector<std::string> out;
  std::string cur;
  char quote = 0;
  bool any = false;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (quote) {
      if (c == quote)
        quote = 0;
      else if (c == '\\' && quote == '"' && i + 1 < s.size())
        cur += s[++i];
      else
        cur += c;
    } else if (c == '"' || c == '\'') {
      quote = c;
      any = true;
    } else if (c == '\\' && i + 1 < s.size()) {
      cur += s[++i];
      any = true;
    } else if (c == ' ' || c == '\t') {
      if (any || !cur.empty()) out.push_back(cur);
      cur.clear();
      any = false;
    } else {
      cur += c;
      any = true;
    }
  }
  if (any || !cur.empty()) out.push_back(cur);
  return out;
}

// ENTRYPOINT and CMD: a JSON array is the exec form; anything else runs through /bin/sh -c.
Result<std::vector<std::string>> command(const Instruction& in, const std::string& file) {
  if (!in.args.empty() && in.args.front() == '[') {
    const Json parsed = Json::parse(in.args, nullptr, false);
    if (!parsed.is_discarded() && parsed.is_array() &&
        std::all_of(parsed.begin(), parsed.end(), [](const Json& v) { return v.is_string(); }))
      return parsed.get<std::vector<std::string>>();
    return Error{ErrorCode::Invalid, fmt::format("{}:{}: {} is not a JSON array of strings: {}",
                                                 file, in.line, in.keyword, in.args)};
  }
  if (in.args.empty()) return std::vector<std::string>{};
  return std::vector<std::string>{"/bin/sh", "-c", in.args};
}

// COPY/ADD/RUN: leading --flags (--from=, --chown=, --mount=...) off, then the exec form (a JSON
// array) or words.
Result<BuildStep> build_step(const Instruction& in, const std::string& file,
                             const std::map<std::string, std::string>& vars,
                             const std::vector<std::pair<std::string, std::string>>& env,
                             const std::string& workdir) {
  BuildStep step;
  step.line = in.line;
  step.keyword = in.keyword;
  step.workdir = workdir.empty() ? "/" : workdir;
  step.env = env;
  std::string_view rest = in.args;
  while (rest.starts_with("--")) {
    const size_t end = rest.find_first_of(" \t");
    const std::string_view flag = rest.substr(0, end);
    if (flag.starts_with("--from=")) step.from = std::string(flag.substr(7));
    rest = end == std::string_view::npos ? "" : rest.substr(end);
    rest.remove_prefix(std::min(rest.size(), rest.find_first_not_of(" \t")));
  }
  if (rest.starts_with("[")) {
    const Json parsed = Json::parse(rest, nullptr, false);
    if (parsed.is_discarded() || !parsed.is_array() ||
        !std::all_of(parsed.begin(), parsed.end(), [](const Json& v) { return v.is_string(); }))
      return Error{ErrorCode::Invalid, fmt::format("{}:{}: {} is not a JSON array of strings: {}",
                                                   file, in.line, in.keyword, in.args)};
    for (const std::string& w : parsed.get<std::vector<std::string>>())
      step.words.push_back(in.keyword == "RUN" ? w : substitute(w, vars));
  } else if (in.keyword == "RUN") {
    step.shell = std::string(rest);
  } else {
    step.words = words(substitute(rest, vars));
  }
  return step;
}

}  // namespace

Result<Dockerfile> parse_dockerfile(std::string_view text, const std::string& file) {
  Dockerfile d;
  std::map<std::string, std::string> global_args, vars;
  bool seen_from = false;
  for (const Instruction& in : instructions(text)) {
    if (in.keyword == "FROM") {
      // Each stage starts afresh; the last one is the image that runs.
      d = Dockerfile{};
      vars = global_args;
      seen_from = true;
    } else if (in.keyword == "ARG") {
      for (const std::string& w : words(in.args)) {
        const size_t eq = w.find('=');
        const std::string name = w.substr(0, eq);
        const std::string value = eq == std::string::npos ? "" : substitute(w.substr(eq + 1), vars);
        (seen_from ? vars : global_args)[name] = value;
      }
    } else if (in.keyword == "ENV") {
      std::vector<std::pair<std::string, std::string>> pairs;
      const std::vector<std::string> ws = words(in.args);
      if (!ws.empty() && ws[0].find('=') == std::string::npos) {
        // Legacy form: ENV KEY the rest of the line
        const size_t sp = in.args.find_first_of(" \t");
        std::string rest = sp == std::string::npos ? "" : in.args.substr(sp);
        rest.erase(0, rest.find_first_not_of(" \t"));
        pairs.emplace_back(ws[0], substitute(rest, vars));
      } else {
        for (const std::string& w : ws) {
          const size_t eq = w.find('=');
          if (eq == std::string::npos)
            return Error{ErrorCode::Invalid,
                         fmt::format("{}:{}: ENV expects KEY=VALUE, got {}", file, in.line, w)};
          pairs.emplace_back(w.substr(0, eq), substitute(w.substr(eq + 1), vars));
        }
      }
      for (auto& [k, v] : pairs) {
        vars[k] = v;
        auto same =
            std::find_if(d.env.begin(), d.env.end(), [&](const auto& e) { return e.first == k; });
        if (same != d.env.end())
          same->second = v;
        else
          d.env.emplace_back(k, v);
      }
    } else if (in.keyword == "WORKDIR") {
      const std::string dir = substitute(in.args, vars);
      d.workdir = dir.starts_with("/") || d.workdir.empty() ? dir : d.workdir + "/" + dir;
    } else if (in.keyword == "ENTRYPOINT" || in.keyword == "CMD") {
      Result<std::vector<std::string>> c = command(in, file);
      if (!c.ok()) return c.error();
      (in.keyword == "CMD" ? d.cmd : d.entrypoint) = std::move(c.value());
    } else if (in.keyword == "COPY" || in.keyword == "ADD" || in.keyword == "RUN") {
      // A RUN sees ARG values as environment variables too.
      std::vector<std::pair<std::string, std::string>> env;
      for (const auto& [k, v] : vars) env.emplace_back(k, v);
      Result<BuildStep> step = build_step(in, file, vars, env, d.workdir);
      if (!step.ok()) return step.error();
      d.steps.push_back(std::move(step.value()));
    }
  }
  if (!seen_from) return Error{ErrorCode::Invalid, fmt::format("{}: no FROM instruction", file)};
  return d;
}

}  // namespace ticketctl::images
