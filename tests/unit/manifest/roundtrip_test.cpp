// YAML -> objects -> JSON -> YAML -> objects keeps every field the user wrote, for every
// example manifest in the repository.

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <sstream>

#include "runtime/manifest/loader.h"
#include "runtime/manifest/schema.h"
#include "runtime/manifest/source.h"
#include "runtime/manifest/yaml_writer.h"

namespace ticketctl::manifest {
namespace {
namespace fs = std::filesystem;

std::vector<fs::path> example_manifests() {
  std::vector<fs::path> out;
  for (const char* dir : {"manifests", "tests/manifests/good"}) {
    const fs::path root = fs::path(TICKETCTL_SOURCE_DIR) / dir;
    if (!fs::exists(root)) continue;
    for (const auto& e : fs::recursive_directory_iterator(root))
      if (e.path().extension() == ".yaml" || e.path().extension() == ".yml")
        out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

class RoundTrip : public ::testing::TestWithParam<fs::path> {};

TEST_P(RoundTrip, KeepsEveryFieldTheUserWrote) {
  std::istringstream no_stdin;
  Diagnostics source_diags;
  auto files = read_sources({GetParam().string()}, false, no_stdin, source_diags);
  ASSERT_EQ(files.size(), 1u);
  LoadResult first = load_text(files[0].name, files[0].text, LoadOptions{});
  ASSERT_FALSE(first.diagnostics.has_errors()) << first.diagnostics.items()[0].to_string();
  ASSERT_FALSE(first.objects.empty());

  // Every field of every document is in its object; only legacy Ingresses are rewritten.
  size_t i = 0;
  for (const DocumentText& doc : split_documents(files[0].text)) {
    const Json raw = to_json(YAML::Load(std::string(doc.text)));
    if (raw["kind"] == "List") {
      i += raw["items"].size();
      continue;
    }
    ASSERT_LT(i, first.objects.size());
    const Object& o = first.objects[i++];
    if (raw["apiVersion"] != o.api_version) continue;
    EXPECT_EQ(o.body, raw) << o.ref();
  }

  std::string yaml;
  for (const Object& o : first.objects) yaml += "---\n" + to_yaml(o.body);
  LoadResult second = load_text("roundtrip.yaml", yaml, LoadOptions{});
  ASSERT_FALSE(second.diagnostics.has_errors()) << second.diagnostics.items()[0].to_string() << "\n"
                                                << yaml;
  ASSERT_EQ(second.objects.size(), first.objects.size());
  for (size_t i = 0; i < first.objects.size(); ++i) {
    EXPECT_EQ(second.objects[i].body, first.objects[i].body) << yaml;
    EXPECT_EQ(second.objects[i].ref(), first.objects[i].ref());
  }
}

INSTANTIATE_TEST_SUITE_P(Examples, RoundTrip, ::testing::ValuesIn(example_manifests()),
                         [](const auto& info) {
                           std::string n = fs::relative(info.param, TICKETCTL_SOURCE_DIR).string();
                           for (char& c : n)
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           return n;
                         });

}  // namespace
}  // namespace ticketctl::manifest
