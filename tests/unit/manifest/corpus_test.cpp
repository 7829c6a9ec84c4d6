// Every file under tests/manifests/bad/ is a manifest with mistakes; its "# expect:" header
// lines list, in order, exactly the diagnostics `ticketctl validate` must print for it.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "runtime/manifest/loader.h"

namespace ticketctl::manifest {
namespace {
namespace fs = std::filesystem;

const fs::path kCorpus = fs::path(TICKETCTL_SOURCE_DIR) / "tests/manifests/bad";

std::vector<fs::path> corpus_files() {
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(kCorpus))
    if (e.path().extension() == ".yaml") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  return files;
}

std::vector<std::string> expectations(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line))
    if (line.starts_with("# expect: ")) out.push_back(line.substr(10));
  return out;
}

class BadManifest : public ::testing::TestWithParam<fs::path> {};

TEST_P(BadManifest, ReportsExactlyTheExpectedDiagnostics) {
  std::ifstream in(GetParam());
  std::stringstream buf;
  buf << in.rdbuf();
  const std::string text = buf.str();
  const std::vector<std::string> expected = expectations(text);
  ASSERT_FALSE(expected.empty()) << "no # expect: lines in " << GetParam();

  // Named as the CLI names it when run from the repository root.
  const std::string name = "tests/manifests/bad/" + GetParam().filename().string();
  LoadResult r = load_text(name, text, LoadOptions{});
  std::vector<std::string> actual;
  for (const Diagnostic& d : r.diagnostics.items()) {
    std::string s = d.to_string();
    ASSERT_TRUE(s.starts_with(name + ":")) << s;
    actual.push_back(s.substr(name.size() + 1));
  }
  EXPECT_EQ(actual, expected);
  EXPECT_TRUE(r.diagnostics.has_errors()) << "a bad manifest must fail validation";
}

INSTANTIATE_TEST_SUITE_P(Corpus, BadManifest, ::testing::ValuesIn(corpus_files()),
                         [](const auto& info) {
                           std::string n = info.param.stem().string();
                           for (char& c : n)
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           return n;
                         });

TEST(Corpus, HasAtLeastFortyCases) {
  EXPECT_GE(corpus_files().size(), 40u);
}

}  // namespace
}  // namespace ticketctl::manifest
