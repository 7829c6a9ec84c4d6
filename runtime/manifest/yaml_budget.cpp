#include "runtime/manifest/yaml_budget.h"

#include <fmt/format.h>
#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/exceptions.h>
#include <yaml-cpp/mark.h>
#include <yaml-cpp/parser.h>

#include <algorithm>
#include <cstdint>
#include <sstream>
#include <vector>

#include "runtime/core/limits.h"

namespace ticketctl::manifest {
namespace {

// Counts stay exact up to here; a bomb's counts saturate instead of overflowing.
constexpr uint64_t kSaturated = uint64_t{1} << 62;

uint64_t add(uint64_t a, uint64_t b) {
  return std::min(a + std::min(b, kSaturated), kSaturated);
}

std::string count_text(uint64_t n) {
  return n >= kSaturated ? std::string("more than 10^18") : fmt::format("{}", n);
}

// Thrown out of the parser's callbacks to stop it at the first broken budget.
struct OverBudget {
  YAML::Mark mark;
  std::string message;
};

// Follows the event stream with a stack of open collections. Each node's expanded size (itself
// plus everything under it, aliases expanded, map keys included, as go-yaml's decoder counts
// them) and height are known when it closes, so an alias costs what its anchor's node cost.
class BudgetHandler : public YAML::EventHandler {
 public:
  void OnDocumentStart(const YAML::Mark& mark) override {
    // yaml-cpp 0.7 does not consume a ',' outside any [ ] or { }: the next document starts where
    // this one did, forever, and each is kept (a 1-byte input grew past 12 GB). A document that
    // starts where the previous one started has made no progress.
    if (started_ && mark.pos <= last_start_)
      throw OverBudget{mark,
                       "',' outside any [ ] or { }: a flow entry separator must sit inside "
                       "a flow sequence or mapping"};
    started_ = true;
    last_start_ = mark.pos;
    anchors_.clear();
    stack_.clear();
    decoded_ = aliased_ = 0;
  }
  void OnDocumentEnd() override {}

  void OnAnchor(const YAML::Mark&, const std::string& name) override { pending_name_ = name; }

  void OnNull(const YAML::Mark&, YAML::anchor_t anchor) override { leaf(anchor); }
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t anchor,
                const std::string&) override {
    leaf(anchor);
  }

  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    if (anchor >= anchors_.size() || !anchors_[anchor].closed) {
      const std::string name = anchor < anchors_.size() ? anchors_[anchor].name : "";
      throw OverBudget{mark, fmt::format("alias *{} refers to a node that contains it", name)};
    }
    const Anchor& a = anchors_[anchor];
    if (stack_.size() + a.height > limits::kMaxNestingDepth)
      throw OverBudget{mark, depth_message(fmt::format(" once alias *{} is expanded", a.name))};
    // The alias itself, then every node its expansion decodes.
    decoded_ = add(decoded_, 1 + a.size);
    aliased_ = add(aliased_, a.size);
    close_child(1 + a.size, a.height);
    if (aliased_ > limits::kAliasMinAliased && decoded_ > limits::kAliasMinDecoded &&
        static_cast<double>(aliased_) / static_cast<double>(decoded_) >
            limits::allowed_alias_ratio(decoded_))
      throw OverBudget{
          mark, fmt::format("excessive aliasing: expanding alias *{} brings this document to {} "
                            "nodes, {} of them copies made by aliases (the Kubernetes API server "
                            "refuses documents where aliases make more than {:.0f}% of the nodes)",
                            a.name, count_text(decoded_), count_text(aliased_),
                            limits::allowed_alias_ratio(decoded_) * 100)};
  }

  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    open(mark, anchor);
  }
  void OnSequenceEnd() override { close(); }
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value) override {
    open(mark, anchor);
  }
  void OnMapEnd() override { close(); }

  static std::string depth_message(std::string_view how) {
    return fmt::format(
        "nesting deeper than {} levels{}: ticketctl reads no YAML or JSON nested "
        "deeper (see docs/limits.md)",
        limits::kMaxNestingDepth, how);
  }

 private:
  struct Anchor {
    std::string name;
    bool closed = false;
    uint64_t size = 0;  // nodes decoded for it, aliases inside expanded
    size_t height = 0;  // collections nested inside it, itself included
  };
  struct Open {
    YAML::anchor_t anchor;
    uint64_t size;  // so far, itself included
    size_t height;  // deepest child so far
  };

  void name_anchor(YAML::anchor_t anchor) {
    if (anchor == YAML::NullAnchor) return;
    if (anchors_.size() <= anchor) anchors_.resize(anchor + 1);
    anchors_[anchor] = Anchor{pending_name_, false, 0, 0};
  }

  void finish_anchor(YAML::anchor_t anchor, uint64_t size, size_t height) {
    if (anchor == YAML::NullAnchor || anchor >= anchors_.size()) return;
    anchors_[anchor].closed = true;
    anchors_[anchor].size = size;
    anchors_[anchor].height = height;
  }

  void close_child(uint64_t size, size_t height) {
    if (stack_.empty()) return;
    stack_.back().size = add(stack_.back().size, size);
    stack_.back().height = std::max(stack_.back().height, height);
  }

  void leaf(YAML::anchor_t anchor) {
    name_anchor(anchor);
    decoded_ = add(decoded_, 1);
    finish_anchor(anchor, 1, 0);
    close_child(1, 0);
  }

  void open(const YAML::Mark& mark, YAML::anchor_t anchor) {
    name_anchor(anchor);
    if (stack_.size() + 1 > limits::kMaxNestingDepth) throw OverBudget{mark, depth_message("")};
    decoded_ = add(decoded_, 1);
    stack_.push_back(Open{anchor, 1, 0});
  }

  void close() {
    if (stack_.empty()) return;
    const Open done = stack_.back();
    stack_.pop_back();
    finish_anchor(done.anchor, done.size, done.height + 1);
    close_child(done.size, done.height + 1);
  }

  std::vector<Anchor> anchors_;  // by the parser's anchor id, which counts from 1 per document
  bool started_ = false;
  int last_start_ = 0;
  std::vector<Open> stack_;
  std::string pending_name_;
  uint64_t decoded_ = 0;
  uint64_t aliased_ = 0;
};

// yaml-cpp's scanner queues the tokens of flow collections ('[', '{') until it knows whether they
// start a key, so text like 100,000 '[' costs it time and memory before the first event reaches
// the handler. Flow nesting is therefore counted on the raw text first: brackets outside quoted
// scalars and comments. A plain scalar's brackets count too, which can only overstate the depth.
std::optional<YamlBudgetError> check_flow_depth(std::string_view text) {
  size_t depth = 0;
  int line = 0, column = 0;
  char quote = 0;
  bool comment = false;
  for (size_t i = 0; i < text.size(); ++i, ++column) {
    const char c = text[i];
    if (c == '\n') {
      ++line;
      column = -1;
      comment = false;
      continue;
    }
    if (comment) continue;
    if (quote) {
      if (quote == '"' && c == '\\') {
        ++i;
        ++column;
      } else if (c == quote) {
        quote = 0;
      }
      continue;
    }
    if (c == '#' && (i == 0 || text[i - 1] == ' ' || text[i - 1] == '\t')) {
      comment = true;
    } else if (c == '"' ||
               (c == '\'' && (i == 0 || std::string_view(" \t[{,:-").find(text[i - 1]) !=
                                            std::string_view::npos))) {
      quote = c;
    } else if (c == '[' || c == '{') {
      if (++depth > limits::kMaxNestingDepth)
        return YamlBudgetError{line, column, BudgetHandler::depth_message("")};
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return std::nullopt;
}

}  // namespace

std::optional<YamlBudgetError> check_yaml_budget(std::string_view text) {
  if (auto over = check_flow_depth(text)) return over;
  std::istringstream in{std::string(text)};
  YAML::Parser parser(in);
  BudgetHandler handler;
  try {
    while (parser.HandleNextDocument(handler)) {
    }
  } catch (const OverBudget& e) {
    return YamlBudgetError{e.mark.line, e.mark.column, e.message};
  } catch (const YAML::DeepRecursion& e) {
    // yaml-cpp's own guard, should the limit above ever be raised past it.
    return YamlBudgetError{e.mark.line, e.mark.column, BudgetHandler::depth_message("")};
  } catch (const YAML::Exception&) {
    return std::nullopt;  // a syntax error: the real parse reports it
  }
  return std::nullopt;
}

}  // namespace ticketctl::manifest
