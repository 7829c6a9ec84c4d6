// Parsing budgets of manifests (runtime/core/limits.h): alias expansion, nesting depth, object and
// data sizes, and Secret values that errors must not repeat.

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "runtime/core/limits.h"
#include "runtime/manifest/loader.h"
#include "runtime/manifest/yaml_budget.h"
#include "tests/support/timing.h"

namespace ticketctl::manifest {
namespace {

using std::chrono::steady_clock;

std::vector<std::string> errors(const LoadResult& r) {
  std::vector<std::string> out;
  for (const auto& d : r.diagnostics.items())
    if (d.severity == Severity::Error) out.push_back(d.to_string());
  return out;
}

// The "billion laughs": nine levels of nine aliases, 10^9 strings once expanded, in 430 bytes.
// Here in status, which is read as free-form JSON, so nothing but the budget stops expansion.
std::string alias_bomb() {
  std::string text =
      "apiVersion: v1\nkind: Pod\nmetadata:\n  name: lol\nspec:\n"
      "  containers: [{name: a, image: a}]\nstatus:\n"
      "  a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n";
  for (char level = 'b'; level <= 'i'; ++level) {
    const char prev = static_cast<char>(level - 1);
    text += fmt::format("  {0}: &{0} [", level);
    for (int i = 0; i < 9; ++i) text += fmt::format("{}*{}", i ? "," : "", prev);
    text += "]\n";
  }
  return text;
}

std::string nested_flow(size_t depth) {
  return std::string(depth, '[') + std::string(depth, ']');
}

TEST(YamlBudget, BillionLaughsIsRefusedWithoutExpanding) {
  const std::string bomb = alias_bomb();
  ASSERT_LT(bomb.size(), 460u);
  const auto start = steady_clock::now();
  LoadResult r = load_text("bomb.yaml", bomb, {});
  EXPECT_LT(steady_clock::now() - start,
            ticketctl::testing::time_bound(std::chrono::milliseconds(100)));
  ASSERT_EQ(errors(r).size(), 1u) << ::testing::PrintToString(errors(r));
  EXPECT_TRUE(
      errors(r)[0].starts_with("bomb.yaml:11:25: error: excessive aliasing: expanding alias *c "))
      << errors(r)[0];
  EXPECT_TRUE(r.objects.empty());
}

TEST(YamlBudget, OrdinaryAnchorsAndAliasesPass) {
  // Reusing a block a few times, as people do with env lists, stays far inside the budget.
  const std::string text = R"(apiVersion: v1
kind: Pod
metadata:
  name: p
  labels: &labels {app: posts, tier: api}
  annotations: *labels
spec:
  containers:
    - name: a
      image: a
      env: &env [{name: A, value: "1"}, {name: B, value: "2"}]
    - name: b
      image: b
      env: *env
)";
  LoadResult r = load_text("t.yaml", text, {});
  ASSERT_TRUE(errors(r).empty()) << ::testing::PrintToString(errors(r));
  ASSERT_EQ(r.objects.size(), 1u);
  EXPECT_EQ(r.objects[0].body["spec"]["containers"][1]["env"][1]["value"], "2");
  EXPECT_EQ(r.objects[0].body["metadata"]["annotations"]["tier"], "api");
}

TEST(YamlBudget, ManyAliasesInALargeDocumentPassUnderTheRatio) {
  // 2,000 plain values and 150 aliases of a 5-value list: 750 nodes from aliases of ~2,900.
  std::string text = "base: &b [1, 2, 3, 4]\nplain: [";
  for (int i = 0; i < 2000; ++i) text += i ? ",x" : "x";
  text += "]\ncopies: [";
  for (int i = 0; i < 150; ++i) text += i ? ",*b" : "*b";
  text += "]\n";
  EXPECT_FALSE(check_yaml_budget(text));
}

TEST(YamlBudget, NestingIsBoundedAtTheLimit) {
  EXPECT_FALSE(check_yaml_budget(nested_flow(limits::kMaxNestingDepth)));
  const auto over = check_yaml_budget(nested_flow(limits::kMaxNestingDepth + 1));
  ASSERT_TRUE(over);
  EXPECT_EQ(over->line, 0);
  EXPECT_EQ(over->column, 400);
  EXPECT_NE(over->message.find("nesting deeper than 400 levels"), std::string::npos);

  // Far deeper than yaml-cpp's own recursion guard (2,000) or any stack: still a clean error.
  const auto start = steady_clock::now();
  LoadResult r = load_text("deep.json", nested_flow(100000), {});
  EXPECT_LT(steady_clock::now() - start,
            ticketctl::testing::time_bound(std::chrono::milliseconds(500)));
  ASSERT_EQ(errors(r).size(), 1u);
  EXPECT_TRUE(errors(r)[0].starts_with("deep.json:1:401: error: nesting deeper than 400"))
      << errors(r)[0];

  // Block style and JSON objects count the same way.
  std::string block;
  for (size_t i = 0; i <= limits::kMaxNestingDepth; ++i) block += std::string(i, ' ') + "k:\n";
  block += std::string(limits::kMaxNestingDepth + 1, ' ') + "v\n";
  EXPECT_TRUE(check_yaml_budget(block));
  std::string json;
  for (size_t i = 0; i <= limits::kMaxNestingDepth; ++i) json += "{\"k\":";
  json += '1';
  json.append(limits::kMaxNestingDepth + 1, '}');
  EXPECT_TRUE(check_yaml_budget(json));
}

TEST(YamlBudget, AliasesCountTheDepthTheyBringIn) {
  std::string text = "deep: &d " + nested_flow(300) + "\nuse: " + std::string(200, '[') + "*d" +
                     std::string(200, ']') + "\n";
  const auto over = check_yaml_budget(text);
  ASSERT_TRUE(over);
  EXPECT_EQ(over->line, 1);
  EXPECT_NE(over->message.find("once alias *d is expanded"), std::string::npos) << over->message;
}

TEST(YamlBudget, AnAliasInsideItsOwnAnchorIsRefused) {
  // yaml-cpp builds a cycle from this; anything walking it would recurse forever.
  const auto over = check_yaml_budget("a: &x [1, *x]\n");
  ASSERT_TRUE(over);
  EXPECT_EQ(over->message, "alias *x refers to a node that contains it");
  LoadResult r = load_text("t.yaml", "apiVersion: v1\nkind: Pod\nstatus: &s {a: *s}\n", {});
  ASSERT_EQ(errors(r).size(), 1u);
  EXPECT_EQ(errors(r)[0], "t.yaml:3:16: error: alias *s refers to a node that contains it");
}

TEST(YamlBudget, SyntaxErrorsAreLeftToTheParser) {
  EXPECT_FALSE(check_yaml_budget("a: [1, 2\n"));
  LoadResult r = load_text("t.yaml", "a: [1, 2\n", {});
  ASSERT_EQ(errors(r).size(), 1u);
  EXPECT_NE(errors(r)[0].find("YAML syntax error"), std::string::npos);
}

TEST(YamlBudget, AStrayCommaIsAnErrorNotAnEndlessStreamOfDocuments) {
  // yaml-cpp 0.7 never consumes a ',' outside [ ] or { }: read document by document, it yields
  // empty documents forever (the fuzzer's 247-byte input grew past 12 GB).
  struct Case {
    std::string text;
    std::string where;
  };
  for (const Case& c :
       {Case{",", "c.yaml:1:1:"}, Case{"\"x\",", "c.yaml:1:4:"}, Case{"{},\n", "c.yaml:1:3:"},
        Case{"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n,\n", "c.yaml:5:1:"},
        Case{"{\"apiVersion\": \"v1\"},\n \"kind\": \"Secret\"}\n", "c.yaml:1:21:"}}) {
    LoadResult r = load_text("c.yaml", c.text, {});
    ASSERT_EQ(errors(r).size(), 1u) << c.text << ::testing::PrintToString(errors(r));
    EXPECT_TRUE(errors(r)[0].starts_with(c.where + " error: ',' outside any [ ] or { }"))
        << errors(r)[0];
    EXPECT_LE(r.objects.size(), 1u);  // only the ConfigMap before the stray document
  }
}

TEST(YamlBudget, TextThatIsNotUtf8IsRefusedWithItsPosition) {
  LoadResult r =
      load_text("u.yaml", "apiVersion: v1\nkind: ConfigMap\ndata:\n  a: \"x\xb5y\"\n", {});
  ASSERT_EQ(errors(r).size(), 1u) << ::testing::PrintToString(errors(r));
  EXPECT_EQ(errors(r)[0],
            "u.yaml:4:8: error: invalid UTF-8 (byte 0xb5): manifests must be UTF-8 text");
  EXPECT_TRUE(r.objects.empty());
  // Multi-byte characters are text like any other.
  LoadResult ok = load_text(
      "u.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {a: caf\xc3\xa9}\n",
      {});
  EXPECT_TRUE(errors(ok).empty()) << ::testing::PrintToString(errors(ok));
  ASSERT_EQ(ok.objects.size(), 1u);
  EXPECT_EQ(ok.objects[0].body["data"]["a"], "caf\xc3\xa9");
}

TEST(SizeBudget, ConfigMapDataOverOneMebibyteIsTooLong) {
  const std::string big(limits::kMaxConfigDataBytes / 2 + 1, 'x');
  const std::string text =
      "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: big\ndata:\n  a: " + big +
      "\n  b: " + big + "\n";
  LoadResult r = load_text("cm.yaml", text, {});
  ASSERT_EQ(errors(r).size(), 1u);
  EXPECT_EQ(errors(r)[0],
            "cm.yaml:6:3: error: ConfigMap default/big: Too long: must have at most 1048576 bytes");
  // Exactly at the limit is fine.
  const std::string fits = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ok\ndata:\n  a: " +
                           std::string(limits::kMaxConfigDataBytes, 'x') + "\n";
  EXPECT_TRUE(errors(load_text("cm.yaml", fits, {})).empty());
}

TEST(SizeBudget, SecretDataIsSizedAsStoredWithStringDataMerged) {
  const std::string half(limits::kMaxConfigDataBytes / 2 + 8, 'x');
  // The same key in data and stringData is stored once: under the limit.
  const std::string once =
      "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\ndata:\n  k: eA==\n"
      "stringData:\n  k: " +
      half + "\n";
  EXPECT_TRUE(errors(load_text("s.yaml", once, {})).empty());
  const std::string twice =
      "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nstringData:\n"
      "  a: " +
      half + "\n  b: " + half + "\n";
  LoadResult r = load_text("s.yaml", twice, {});
  ASSERT_EQ(errors(r).size(), 1u);
  EXPECT_EQ(errors(r)[0],
            "s.yaml:6:3: error: Secret default/s: data: Too long: must have at most "
            "1048576 bytes");
}

TEST(SizeBudget, AnnotationsOver256KiBAreTooLong) {
  const std::string text =
      "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  annotations:\n"
      "    note: " +
      std::string(limits::kMaxAnnotationBytes, 'x') + "\n";
  LoadResult r = load_text("a.yaml", text, {});
  ASSERT_EQ(errors(r).size(), 1u);
  EXPECT_EQ(errors(r)[0],
            "a.yaml:6:5: error: ConfigMap default/a: metadata.annotations: Too long: "
            "must have at most 262144 bytes");
}

TEST(SizeBudget, ObjectsOverTheStoresLimitAreRefusedWithTheirPosition) {
  // Each env value is small, the pod as a whole is over etcd's 1.5 MiB.
  std::string text =
      "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n"
      "    - name: a\n      image: a\n      env:\n";
  const std::string value(1000, 'v');
  for (int i = 0; i < 1700; ++i)
    text += fmt::format("        - {{name: E{}, value: {}}}\n", i, value);
  LoadResult r = load_text("p.yaml", text, {});
  ASSERT_EQ(errors(r).size(), 1u);
  EXPECT_TRUE(errors(r)[0].starts_with("p.yaml:1:1: error: Pod default/p: the object is "))
      << errors(r)[0].substr(0, 200);
  EXPECT_NE(errors(r)[0].find("Kubernetes stores objects up to 1572864 bytes"), std::string::npos);
}

TEST(SecretValues, ErrorsNeverRepeatThem) {
  const std::string text =
      "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\ndata:\n"
      "  a: hunter2-is-my-password\n  b: 123456\nstringData:\n  c: 987654\n";
  LoadResult r = load_text("s.yaml", text, {});
  const std::vector<std::string> e = errors(r);
  ASSERT_EQ(e.size(), 3u) << ::testing::PrintToString(e);
  EXPECT_EQ(e[0],
            "s.yaml:6:6: error: Secret default/s: data[a]: invalid value: illegal base64 "
            "data at input byte 7");
  EXPECT_EQ(e[1],
            "s.yaml:7:6: error: Secret default/s: data[b]: expected string, got integer "
            "(quote the value to keep it a string)");
  EXPECT_EQ(e[2],
            "s.yaml:9:6: error: Secret default/s: stringData[c]: expected string, got "
            "integer (quote the value to keep it a string)");
  for (const std::string& m : e)
    for (const char* secret : {"hunter2", "123456", "987654"})
      EXPECT_EQ(m.find(secret), std::string::npos) << m;
}

}  // namespace
}  // namespace ticketctl::manifest
