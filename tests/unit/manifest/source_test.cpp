#include "runtime/manifest/source.h"

#include <gtest/gtest.h>

#include "tests/support/temp_dir.h"

#include <filesystem>
#include <fstream>
#include <sstream>

namespace ticketctl::manifest {
namespace {
namespace fs = std::filesystem;

class SourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(root_ / "k8s" / "sub");
    write("k8s/b.yaml", "b");
    write("k8s/a.yml", "a");
    write("k8s/c.json", "c");
    write("k8s/notes.txt", "ignored");
    write("k8s/sub/d.yaml", "d");
  }
  void write(const std::string& rel, const std::string& text) {
    std::ofstream(root_ / rel) << text;
  }
  std::vector<std::string> texts(const std::vector<SourceFile>& files) {
    std::vector<std::string> out;
    for (const auto& f : files) out.push_back(f.text);
    return out;
  }
  std::vector<SourceFile> read(std::vector<std::string> paths, bool recursive, Diagnostics& d,
                               const std::string& stdin_text = "") {
    std::istringstream in(stdin_text);
    return read_sources(paths, recursive, in, d);
  }
  ticketctl::testing::TempDir tmp_{"ticketctl-source"};
  const fs::path& root_ = tmp_.path();
};

TEST_F(SourceTest, DirectoryYieldsManifestFilesInNameOrder) {
  Diagnostics d;
  auto files = read({(root_ / "k8s").string()}, false, d);
  EXPECT_EQ(texts(files), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_FALSE(d.has_errors());
}

TEST_F(SourceTest, RecursiveAlsoReadsSubdirectories) {
  Diagnostics d;
  auto files = read({(root_ / "k8s").string()}, true, d);
  EXPECT_EQ(texts(files), (std::vector<std::string>{"a", "b", "c", "d"}));
}

TEST_F(SourceTest, GlobsExpandLikeSkaffold) {
  Diagnostics d;
  auto files = read({(root_ / "k8s" / "*").string()}, false, d);
  // The subdirectory matches the glob and is read as a directory; notes.txt is skipped.
  EXPECT_EQ(texts(files), (std::vector<std::string>{"a", "b", "c", "d"}));
  files = read({(root_ / "k8s" / "*.yaml").string()}, false, d);
  EXPECT_EQ(texts(files), (std::vector<std::string>{"b"}));
  EXPECT_FALSE(d.has_errors());
}

TEST_F(SourceTest, MissingPathsAndEmptyGlobsAreErrorsButTheRestIsRead) {
  Diagnostics d;
  auto files = read({(root_ / "nope.yaml").string(), (root_ / "k8s/*.yamll").string(),
                     (root_ / "k8s/b.yaml").string()},
                    false, d);
  EXPECT_EQ(texts(files), (std::vector<std::string>{"b"}));
  ASSERT_EQ(d.items().size(), 2u);
  EXPECT_EQ(d.items()[0].message, "no such file or directory");
  EXPECT_EQ(d.items()[0].pos.file, (root_ / "nope.yaml").string());
  EXPECT_EQ(d.items()[1].message, "pattern matches no files");
}

TEST_F(SourceTest, DashReadsStdin) {
  Diagnostics d;
  auto files = read({"-"}, false, d, "kind: Secret\n");
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(files[0].name, "<stdin>");
  EXPECT_EQ(files[0].text, "kind: Secret\n");
}

TEST(SplitDocuments, SplitsAtSeparatorLinesAndKeepsLineNumbers) {
  auto docs =
      split_documents("a: 1\n---\n# only a comment\n---   # trailing comment\nb: 2\nc: 3\n---\n");
  ASSERT_EQ(docs.size(), 2u);
  EXPECT_EQ(docs[0].text, "a: 1\n");
  EXPECT_EQ(docs[0].first_line, 0);
  EXPECT_EQ(docs[1].text, "b: 2\nc: 3\n");
  EXPECT_EQ(docs[1].first_line, 4);
}

TEST(SplitDocuments, LeadingSeparatorAndCrlf) {
  auto docs = split_documents("---\r\na: 1\r\n---\r\nb: 2");
  ASSERT_EQ(docs.size(), 2u);
  EXPECT_EQ(docs[0].first_line, 1);
  EXPECT_EQ(docs[1].text, "b: 2");
  EXPECT_EQ(docs[1].first_line, 3);
}

TEST(SplitDocuments, DashesInsideValuesAreNotSeparators) {
  auto docs = split_documents("a: |\n  ---\n  x\n----\nb: 1\n");
  EXPECT_EQ(docs.size(), 1u);
}

}  // namespace
}  // namespace ticketctl::manifest
