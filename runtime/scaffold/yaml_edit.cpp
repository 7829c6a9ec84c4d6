#include "runtime/scaffold/yaml_edit.h"

#include <fmt/format.h>

#include <cctype>

namespace ticketctl::scaffold {
namespace {

struct Line {
  size_t begin = 0, end = 0;  // end excludes the newline
};

std::vector<Line> lines_of(std::string_view text) {
  std::vector<Line> out;
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t nl = text.find('\n', pos);
    const size_t end = nl == std::string_view::npos ? text.size() : nl;
    out.push_back({pos, end});
    pos = end + 1;
  }
  return out;
}

std::vector<std::string> split_lines(std::string_view text) {
  std::vector<std::string> out;
  for (const Line& l : lines_of(text)) out.emplace_back(text.substr(l.begin, l.end - l.begin));
  while (!out.empty() && out.back().find_first_not_of(" \t\r") == std::string::npos) out.pop_back();
  return out;
}

size_t indent_of(std::string_view line) {
  size_t i = 0;
  while (i < line.size() && line[i] == ' ') ++i;
  return i;
}

// Blank and comment-only lines belong to no block: they never end one, and an insertion goes
// before the comments that follow a block's last entry.
bool is_filler(std::string_view line) {
  const size_t i = line.find_first_not_of(" \t\r");
  return i == std::string_view::npos || line[i] == '#';
}

bool is_document_marker(std::string_view line) {
  return (line.starts_with("---") || line.starts_with("...")) &&
         (line.size() == 3 || line[3] == ' ' || line[3] == '\t' || line[3] == '\r');
}

bool is_dash_at(std::string_view line, size_t column) {
  return line.size() > column && line[column] == '-' &&
         (line.size() == column + 1 || line[column + 1] == ' ');
}

Result<YAML::Node> parse(std::string_view text, const char* what) {
  try {
    return YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    return Error{ErrorCode::Invalid,
                 fmt::format("{} is not valid YAML (line {}: {})", what, e.mark.line + 1, e.msg)};
  }
}

std::string dump(const YAML::Node& n) {
  YAML::Emitter out;
  out << n;
  return out.c_str();
}

// The last line (0-based) holding content of the block that starts on `first`, where a line
// continues the block while it is indented more than `column`, or as much and `same_column_ok`
// says it is one of the block's own entries.
size_t last_line_of_block(std::string_view doc, const std::vector<Line>& lines, size_t first,
                          size_t column,
                          const std::function<bool(std::string_view)>& same_column_ok) {
  size_t last = first;
  for (size_t i = first + 1; i < lines.size(); ++i) {
    const std::string_view line = doc.substr(lines[i].begin, lines[i].end - lines[i].begin);
    if (is_document_marker(line)) break;
    if (is_filler(line)) continue;
    const size_t ind = indent_of(line);
    if (ind > column || (ind == column && same_column_ok(line)))
      last = i;
    else
      break;
  }
  return last;
}

Insertion insertion_after(std::string_view doc, const std::vector<Line>& lines, size_t last,
                          std::string text) {
  Insertion ins;
  ins.after_line = static_cast<int>(last) + 1;
  ins.offset = lines[last].end;
  if (ins.offset < doc.size()) {
    ++ins.offset;  // after the newline
  } else {
    std::string with_newline = "\n";  // the file ends without one
    with_newline += text;
    text = std::move(with_newline);
  }
  ins.text = std::move(text);
  return ins;
}

// Anchors and aliases are refused: the check after an edit compares subtrees, and an alias
// expands there (a few lines of aliases can stand for gigabytes).
bool uses_aliases(std::string_view doc) {
  for (const Line& l : lines_of(doc)) {
    const std::string_view line = doc.substr(l.begin, l.end - l.begin);
    for (size_t i = 0; i + 1 < line.size(); ++i) {
      if (line[i] == '#' && (i == 0 || line[i - 1] == ' ')) break;  // a comment
      const bool starts =
          i == 0 || std::string_view(" \t:-[{,").find(line[i - 1]) != std::string_view::npos;
      if (starts && (line[i] == '&' || line[i] == '*') &&
          (std::isalnum(static_cast<unsigned char>(line[i + 1])) || line[i + 1] == '_'))
        return true;
    }
  }
  return false;
}

Result<YAML::Node> locate_in(std::string_view doc, const Locate& locate, const char* what) {
  if (uses_aliases(doc))
    return Error{ErrorCode::Invalid, "it uses YAML anchors or aliases (&name, *name)"};
  Result<YAML::Node> root = parse(doc, what);
  if (!root.ok()) return root;
  YAML::Node n = locate(root.value());
  if (!n.IsDefined()) return Error{ErrorCode::NotFound, "the place to insert into is not there"};
  return n;
}

}  // namespace

YAML::Node child(const YAML::Node& map, const std::string& key) {
  if (!map.IsDefined() || !map.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
  for (auto it = map.begin(); it != map.end(); ++it)
    if (it->first.IsScalar() && it->first.Scalar() == key) return it->second;
  return YAML::Node(YAML::NodeType::Undefined);
}

std::vector<DocumentSpan> split_documents(std::string_view text) {
  std::vector<DocumentSpan> docs;
  DocumentSpan cur;
  int line_no = 1;
  bool has_content = false;
  for (const Line& l : lines_of(text)) {
    const std::string_view line = text.substr(l.begin, l.end - l.begin);
    if (line.starts_with("---") && is_document_marker(line)) {
      if (has_content || l.begin > cur.begin) {
        cur.end = l.begin;
        if (has_content) docs.push_back(cur);
      }
      cur = {l.begin, l.begin, line_no};
      has_content = false;
    } else if (!is_filler(line)) {
      has_content = true;
    }
    ++line_no;
  }
  cur.end = text.size();
  if (has_content) docs.push_back(cur);
  return docs;
}

std::string apply_insertion(std::string_view doc, const Insertion& insertion) {
  std::string out(doc.substr(0, insertion.offset));
  out += insertion.text;
  out += doc.substr(insertion.offset);
  return out;
}

Result<Insertion> plan_sequence_append(std::string_view doc, const Locate& locate,
                                       std::string_view item) {
  Result<YAML::Node> found = locate_in(doc, locate, "the file");
  if (!found.ok()) return found.error();
  const YAML::Node seq = found.value();
  if (!seq.IsSequence()) return Error{ErrorCode::Invalid, "the place to insert into is not a list"};
  if (seq.Style() == YAML::EmitterStyle::Flow || seq.size() == 0)
    return Error{ErrorCode::Invalid, "the list is written in flow style ([...])"};
  const std::vector<Line> lines = lines_of(doc);
  const size_t first = static_cast<size_t>(seq.Mark().line);
  const size_t dash = static_cast<size_t>(seq.Mark().column);
  if (first >= lines.size() ||
      !is_dash_at(doc.substr(lines[first].begin, lines[first].end - lines[first].begin), dash))
    return Error{ErrorCode::Invalid, "the list's first item is not where expected"};
  // Items continue at the column of the first item's content ("- " plus any extra spaces).
  size_t content = dash + 2;
  if (static_cast<size_t>(seq[0].Mark().line) == first &&
      static_cast<size_t>(seq[0].Mark().column) > dash)
    content = static_cast<size_t>(seq[0].Mark().column);
  const size_t last = last_line_of_block(
      doc, lines, first, dash, [dash](std::string_view line) { return is_dash_at(line, dash); });
  std::string text;
  const std::vector<std::string> item_lines = split_lines(item);
  if (item_lines.empty()) return Error{ErrorCode::Invalid, "nothing to insert"};
  for (size_t i = 0; i < item_lines.size(); ++i) {
    if (i == 0)
      text += std::string(dash, ' ') + '-' + std::string(content - dash - 1, ' ');
    else if (!item_lines[i].empty())
      text += std::string(content, ' ');
    text += item_lines[i] + '\n';
  }
  Insertion ins = insertion_after(doc, lines, last, std::move(text));

  // Check the result: the same items, then exactly the new one.
  Result<YAML::Node> expected = parse(item, "the inserted item");
  if (!expected.ok()) return expected.error();
  Result<YAML::Node> after = locate_in(apply_insertion(doc, ins), locate, "the edited file");
  if (!after.ok() || !after.value().IsSequence() || after.value().size() != seq.size() + 1)
    return Error{ErrorCode::Invalid, "inserting the item would not add exactly one list item"};
  for (size_t i = 0; i < seq.size(); ++i)
    if (dump(after.value()[i]) != dump(seq[i]))
      return Error{ErrorCode::Invalid, "inserting the item would change another item"};
  if (dump(after.value()[seq.size()]) != dump(expected.value()))
    return Error{ErrorCode::Invalid, "the inserted item would not read back as written"};
  return ins;
}

Result<Insertion> plan_mapping_append(std::string_view doc, const Locate& locate,
                                      std::string_view entries) {
  Result<YAML::Node> found = locate_in(doc, locate, "the file");
  if (!found.ok()) return found.error();
  const YAML::Node map = found.value();
  if (!map.IsMap()) return Error{ErrorCode::Invalid, "the place to insert into is not a mapping"};
  if (map.Style() == YAML::EmitterStyle::Flow || map.size() == 0)
    return Error{ErrorCode::Invalid, "the mapping is written in flow style ({...})"};
  Result<YAML::Node> expected = parse(entries, "the inserted entries");
  if (!expected.ok()) return expected.error();
  if (!expected.value().IsMap()) return Error{ErrorCode::Invalid, "nothing to insert"};
  for (auto it = expected.value().begin(); it != expected.value().end(); ++it)
    if (child(map, it->first.Scalar()).IsDefined())
      return Error{ErrorCode::AlreadyExists,
                   fmt::format("{:?} is already there", it->first.Scalar())};
  const std::vector<Line> lines = lines_of(doc);
  const size_t first = static_cast<size_t>(map.Mark().line);
  const size_t column = static_cast<size_t>(map.Mark().column);
  if (first >= lines.size()) return Error{ErrorCode::Invalid, "the mapping is not where expected"};
  const size_t last =
      last_line_of_block(doc, lines, first, column, [](std::string_view) { return true; });
  std::string text;
  for (const std::string& l : split_lines(entries))
    text += (l.empty() ? std::string() : std::string(column, ' ') + l) + '\n';
  Insertion ins = insertion_after(doc, lines, last, std::move(text));

  Result<YAML::Node> after = locate_in(apply_insertion(doc, ins), locate, "the edited file");
  if (!after.ok() || !after.value().IsMap() ||
      after.value().size() != map.size() + expected.value().size())
    return Error{ErrorCode::Invalid, "inserting the entries would not add exactly them"};
  for (auto it = map.begin(); it != map.end(); ++it)
    if (dump(child(after.value(), it->first.Scalar())) != dump(it->second))
      return Error{ErrorCode::Invalid, "inserting the entries would change another entry"};
  for (auto it = expected.value().begin(); it != expected.value().end(); ++it)
    if (dump(child(after.value(), it->first.Scalar())) != dump(it->second))
      return Error{ErrorCode::Invalid, "the inserted entries would not read back as written"};
  return ins;
}

}  // namespace ticketctl::scaffold
