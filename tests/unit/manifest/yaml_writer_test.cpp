#include "runtime/manifest/yaml_writer.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include "runtime/manifest/schema.h"

namespace ticketctl::manifest {
namespace {

Json reparse(const std::string& yaml) {
  return to_json(YAML::Load(yaml));
}

TEST(ToYaml, WritesKubectlLayout) {
  Json v = Json::parse(R"({"metadata": {"name": "posts"}, "spec": {"containers": [
      {"name": "posts", "image": "demo/posts", "args": ["--port", "4000"]}], "empty": {}, "none": []}})");
  EXPECT_EQ(to_yaml(v),
            "metadata:\n"
            "  name: posts\n"
            "spec:\n"
            "  containers:\n"
            "  - name: posts\n"
            "    image: demo/posts\n"
            "    args:\n"
            "    - --port\n"
            "    - \"4000\"\n"
            "  empty: {}\n"
            "  none: []\n");
}

TEST(ToYaml, QuotesStringsYamlWouldReadAsOtherTypes) {
  Json v = Json::parse(R"({"a": "3000", "b": "yes", "c": "null", "d": "", "e": "1.5", "f": "*",
                            "g": "a: b", "h": "# x", "i": " pad", "j": "true", "k": "0x10", "l": "~"})");
  const std::string y = to_yaml(v);
  EXPECT_EQ(reparse(y), v) << y;
}

TEST(ToYaml, MultiLineStringsRoundTrip) {
  for (const char* s : {"line1\nline2\n", "line1\nline2", "a\n\n", "a\n\n\nb\n", "x\n  indented\n",
                        " leading\nspace", "trailing \nspace", "tab\there\n"}) {
    Json v = {{"data", s}};
    const std::string y = to_yaml(v);
    EXPECT_EQ(reparse(y), v) << y;
  }
}

TEST(ToYaml, NumbersBooleansNullsAndNestedLists) {
  Json v = Json::parse(
      R"({"n": 3, "f": 0.5, "t": true, "z": null, "nested": [[1, 2], {"a": [{"b": 1}]}]})");
  const std::string y = to_yaml(v);
  EXPECT_EQ(reparse(y), v) << y;
}

}  // namespace
}  // namespace ticketctl::manifest
