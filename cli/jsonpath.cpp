#include "cli/jsonpath.h"

#include <fmt/format.h>

#include <vector>

namespace ticketctl::cli {
namespace {

using Nodes = std::vector<const Json*>;

Error syntax(std::string_view what, std::string_view where) {
  return Error{ErrorCode::Invalid, fmt::format("error parsing jsonpath {}: {}", where, what)};
}

// How kubectl prints a result: strings raw, everything else as JSON.
std::string text_of(const Json& v) {
  return v.is_string() ? v.get<std::string>() : v.dump();
}

void descend(const Json& v, const std::string& name, Nodes& out) {
  if (v.is_object()) {
    if (auto it = v.find(name); it != v.end()) out.push_back(&*it);
    for (const auto& [k, child] : v.items()) descend(child, name, out);
  } else if (v.is_array()) {
    for (const Json& child : v) descend(child, name, out);
  }
}

Json literal(std::string_view s) {
  if (s.size() >= 2 && (s.front() == '"' || s.front() == '\'') && s.back() == s.front())
    return std::string(s.substr(1, s.size() - 2));
  const Json parsed = Json::parse(s, nullptr, false);
  return parsed.is_discarded() ? Json(std::string(s)) : parsed;
}

Result<Nodes> evaluate(std::string_view path, const Json& root, const Json& current);

// [?(@.a.b == "x")] and [?(@.a)]: keeps the elements the condition holds for.
Result<bool> holds(std::string_view cond, const Json& element, const Json& root) {
  static constexpr std::string_view kOps[] = {"==", "!=", "<=", ">=", "<", ">"};
  for (std::string_view op : kOps) {
    const size_t at = cond.find(op);
    if (at == std::string_view::npos) continue;
    auto trim = [](std::string_view s) {
      while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
      while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
      return s;
    };
    Result<Nodes> left = evaluate(trim(cond.substr(0, at)), root, element);
    if (!left.ok()) return left.error();
    const Json right = literal(trim(cond.substr(at + op.size())));
    for (const Json* l : left.value()) {
      if (op == "==" && *l == right) return true;
      if (op == "!=" && *l != right) return true;
      if (op == "<" && *l < right) return true;
      if (op == ">" && *l > right) return true;
      if (op == "<=" && *l <= right) return true;
      if (op == ">=" && *l >= right) return true;
    }
    return false;
  }
  Result<Nodes> exists = evaluate(cond, root, element);
  if (!exists.ok()) return exists.error();
  return !exists.value().empty();
}

Result<Nodes> evaluate(std::string_view path, const Json& root, const Json& current) {
  Nodes nodes;
  size_t i = 0;
  if (!path.empty() && path[0] == '$') {
    nodes.push_back(&root);
    ++i;
  } else if (!path.empty() && path[0] == '@') {
    nodes.push_back(&current);
    ++i;
  } else {
    nodes.push_back(&current);
  }
  while (i < path.size()) {
    Nodes next;
    if (path.compare(i, 2, "..") == 0) {
      i += 2;
      const size_t end = path.find_first_of(".[", i);
      const std::string name(path.substr(i, end - i));
      for (const Json* n : nodes) descend(*n, name, next);
      i = end == std::string_view::npos ? path.size() : end;
    } else if (path[i] == '.') {
      ++i;
      const size_t end = path.find_first_of(".[", i);
      const std::string name(path.substr(i, end == std::string_view::npos ? end : end - i));
      for (const Json* n : nodes) {
        if (name == "*" && n->is_object()) {
          for (const Json& v : *n) next.push_back(&v);
        } else if (name.empty()) {
          next.push_back(n);
        } else if (n->is_object() && n->contains(name)) {
          next.push_back(&(*n)[name]);
        }
      }
      i = end == std::string_view::npos ? path.size() : end;
    } else if (path[i] == '[') {
      const size_t close = path.find(']', i);
      if (close == std::string_view::npos) return syntax("unclosed [", path);
      std::string_view inside = path.substr(i + 1, close - i - 1);
      if (inside.empty()) return syntax("empty []", path);
      if (inside.starts_with("?(")) {
        // A filter may contain ']' in its literal; look for the ")]" that ends it.
        const size_t end = path.find(")]", i);
        if (end == std::string_view::npos) return syntax("unclosed filter", path);
        inside = path.substr(i + 3, end - i - 3);
        for (const Json* n : nodes) {
          if (!n->is_array()) continue;
          for (const Json& e : *n) {
            Result<bool> ok = holds(inside, e, root);
            if (!ok.ok()) return ok.error();
            if (ok.value()) next.push_back(&e);
          }
        }
        i = end + 2;
      } else {
        for (const Json* n : nodes) {
          if (inside == "*") {
            if (n->is_array() || n->is_object())
              for (const Json& v : *n) next.push_back(&v);
          } else if (inside.front() == '\'' || inside.front() == '"') {
            const std::string key(inside.substr(1, inside.size() - 2));
            if (n->is_object() && n->contains(key)) next.push_back(&(*n)[key]);
          } else if (n->is_array()) {
            const long size = static_cast<long>(n->size());
            const size_t colon = inside.find(':');
            auto index = [&](std::string_view s, long fallback) {
              if (s.empty()) return fallback;
              long v = std::strtol(std::string(s).c_str(), nullptr, 10);
              return v < 0 ? v + size : v;
            };
            if (colon == std::string_view::npos) {
              const long k = index(inside, 0);
              if (k >= 0 && k < size) next.push_back(&(*n)[static_cast<size_t>(k)]);
            } else {
              const long from = std::max(0L, index(inside.substr(0, colon), 0));
              const long to = std::min(size, index(inside.substr(colon + 1), size));
              for (long k = from; k < to; ++k) next.push_back(&(*n)[static_cast<size_t>(k)]);
            }
          }
        }
        i = close + 1;
      }
    } else {
      return syntax(fmt::format("unexpected '{}' at {}", path[i], i), path);
    }
    nodes = std::move(next);
  }
  return nodes;
}

struct Piece {
  enum Kind { Text, Expr, Range, End } kind;
  std::string value;
};

Result<std::vector<Piece>> parse(std::string_view tmpl) {
  std::vector<Piece> pieces;
  size_t i = 0;
  while (i < tmpl.size()) {
    const size_t open = tmpl.find('{', i);
    if (open == std::string_view::npos) {
      pieces.push_back({Piece::Text, std::string(tmpl.substr(i))});
      break;
    }
    if (open > i) pieces.push_back({Piece::Text, std::string(tmpl.substr(i, open - i))});
    const size_t close = tmpl.find('}', open);
    if (close == std::string_view::npos) return syntax("unclosed {", tmpl);
    std::string_view expr = tmpl.substr(open + 1, close - open - 1);
    while (!expr.empty() && expr.front() == ' ') expr.remove_prefix(1);
    while (!expr.empty() && expr.back() == ' ') expr.remove_suffix(1);
    if (expr.starts_with("range ")) {
      pieces.push_back({Piece::Range, std::string(expr.substr(6))});
    } else if (expr == "end") {
      pieces.push_back({Piece::End, {}});
    } else if (expr.size() >= 2 && expr.front() == '"' && expr.back() == '"') {
      // A string literal; \n and \t as kubectl reads them.
      std::string s;
      for (size_t k = 1; k + 1 < expr.size(); ++k) {
        if (expr[k] == '\\' && k + 2 < expr.size()) {
          const char c = expr[++k];
          s += c == 'n' ? '\n' : c == 't' ? '\t' : c;
        } else {
          s += expr[k];
        }
      }
      pieces.push_back({Piece::Text, s});
    } else {
      pieces.push_back({Piece::Expr, std::string(expr)});
    }
    i = close + 1;
  }
  return pieces;
}

// Renders pieces[from, to) with `current` as the object '.' refers to.
Result<size_t> run(const std::vector<Piece>& pieces, size_t from, const Json& root,
                   const Json& current, std::string& out, bool emit) {
  size_t i = from;
  while (i < pieces.size()) {
    const Piece& p = pieces[i];
    if (p.kind == Piece::End) return i;
    if (p.kind == Piece::Text) {
      if (emit) out += p.value;
      ++i;
    } else if (p.kind == Piece::Expr) {
      Result<Nodes> nodes = evaluate(p.value, root, current);
      if (!nodes.ok()) return nodes.error();
      if (emit) {
        for (size_t k = 0; k < nodes.value().size(); ++k) {
          if (k) out += ' ';
          out += text_of(*nodes.value()[k]);
        }
      }
      ++i;
    } else {
      Result<Nodes> items = evaluate(p.value, root, current);
      if (!items.ok()) return items.error();
      size_t end = i + 1;
      // The body is run once per item; with no items it is still walked to find its {end}.
      Result<size_t> skip = run(pieces, i + 1, root, current, out, false);
      if (!skip.ok()) return skip.error();
      end = skip.value();
      if (end >= pieces.size()) return syntax("{range} without {end}", p.value);
      if (emit)
        for (const Json* item : items.value()) {
          Result<size_t> body = run(pieces, i + 1, root, *item, out, true);
          if (!body.ok()) return body.error();
        }
      i = end + 1;
    }
  }
  return i;
}

}  // namespace

Result<std::string> render_jsonpath(std::string_view tmpl, const Json& data) {
  Result<std::vector<Piece>> pieces = parse(tmpl);
  if (!pieces.ok()) return pieces.error();
  std::string out;
  Result<size_t> end = run(pieces.value(), 0, data, data, out, true);
  if (!end.ok()) return end.error();
  if (end.value() < pieces.value().size()) return syntax("{end} without {range}", tmpl);
  return out;
}

Result<std::vector<std::string>> jsonpath_values(std::string_view expr, const Json& data) {
  // kubectl takes "metadata.name" for ".metadata.name", and "{.a}" as ".a".
  if (expr.size() >= 2 && expr.front() == '{' && expr.back() == '}')
    expr = expr.substr(1, expr.size() - 2);
  const bool bare = !expr.empty() && expr[0] != '.' && expr[0] != '$' && expr[0] != '[';
  std::string path;
  path.reserve(expr.size() + 1);
  if (bare) path.push_back('.');
  path.append(expr.data(), expr.size());
  Result<Nodes> nodes = evaluate(path, data, data);
  if (!nodes.ok()) return nodes.error();
  std::vector<std::string> out;
  for (const Json* n : nodes.value()) out.push_back(text_of(*n));
  return out;
}

}  // namespace ticketctl::cli
