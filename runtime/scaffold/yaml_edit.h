#pragma once
// Edits to a user's YAML file that keep every byte of it: new lines are inserted after the last
// line of a block mapping or block sequence, indented as its existing entries, and the result
// is parsed again to check that exactly the intended entry appeared where it was meant to. What
// cannot be edited that way (flow style, a missing target, an unusual layout) is refused with
// the reason, so the caller can print the snippet to paste instead. Pure text; any thread.

#include <yaml-cpp/yaml.h>

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/core/result.h"

namespace ticketctl::scaffold {

// One YAML document of a file: [begin, end) byte offsets, and its first line (1-based) in the
// file. A document starts at a `---` line (included) or at the start of the file.
struct DocumentSpan {
  size_t begin = 0, end = 0;
  int first_line = 1;
};
std::vector<DocumentSpan> split_documents(std::string_view text);

// Finds the node to edit in a freshly parsed document; an undefined node when it is not there.
using Locate = std::function<YAML::Node(const YAML::Node& root)>;

// What an edit inserts: `text` at byte `offset` of the document, after its line `after_line`
// (1-based, relative to the document).
struct Insertion {
  size_t offset = 0;
  int after_line = 0;
  std::string text;
};

// Appends `item` (the YAML of one item, without its "- ") to the block sequence `locate` finds.
Result<Insertion> plan_sequence_append(std::string_view doc, const Locate& locate,
                                       std::string_view item);
// Appends `entries` (one or more "key: value" entries, unindented) to the block mapping
// `locate` finds; refuses when one of their keys is already there.
Result<Insertion> plan_mapping_append(std::string_view doc, const Locate& locate,
                                      std::string_view entries);

// The document with the insertion made.
std::string apply_insertion(std::string_view doc, const Insertion& insertion);

// A child of a mapping without creating it (yaml-cpp's non-const operator[] inserts).
YAML::Node child(const YAML::Node& map, const std::string& key);

}  // namespace ticketctl::scaffold
