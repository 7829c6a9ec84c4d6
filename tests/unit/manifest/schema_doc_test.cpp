// docs/manifests.md carries the field reference generated from the schema tables between two
// markers. This test fails when they differ; TICKETCTL_UPDATE_DOCS=1 rewrites the section.

#include "runtime/manifest/schema_doc.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace ticketctl::manifest {
namespace {

constexpr std::string_view kBegin = "<!-- BEGIN GENERATED FIELD REFERENCE -->\n";
constexpr std::string_view kEnd = "<!-- END GENERATED FIELD REFERENCE -->\n";

TEST(SchemaDoc, ManifestsDocumentListsEverySchemaField) {
  const std::filesystem::path path =
      std::filesystem::path(TICKETCTL_SOURCE_DIR) / "docs/manifests.md";
  std::ifstream in(path);
  ASSERT_TRUE(in) << path;
  std::stringstream buf;
  buf << in.rdbuf();
  std::string doc = buf.str();
  const size_t begin = doc.find(kBegin), end = doc.find(kEnd);
  ASSERT_NE(begin, std::string::npos);
  ASSERT_NE(end, std::string::npos);
  const size_t body = begin + kBegin.size();
  const std::string generated = schema_reference_markdown();
  if (std::getenv("TICKETCTL_UPDATE_DOCS")) {
    doc.replace(body, end - body, generated);
    std::ofstream(path) << doc;
    return;
  }
  EXPECT_EQ(doc.substr(body, end - body), generated)
      << "docs/manifests.md is out of date: run TICKETCTL_UPDATE_DOCS=1 ./build/tests/unit_tests "
         "--gtest_filter=SchemaDoc.*";
}

TEST(SchemaDoc, NamesSharedTypesOnceAndMarksIgnoredFields) {
  const std::string md = schema_reference_markdown();
  EXPECT_NE(md.find("### Container\n"), std::string::npos);
  EXPECT_EQ(md.find("### Container\n"), md.rfind("### Container\n"));
  EXPECT_NE(md.find("| `containers[]` | array of [Container](#container) | required |"),
            std::string::npos);
  EXPECT_NE(md.find("| `hostNetwork` | boolean | accepted with a warning; not implemented |"),
            std::string::npos);
  EXPECT_NE(md.find("### Ingress (networking.k8s.io/v1beta1, extensions/v1beta1), converted to "
                    "networking.k8s.io/v1"),
            std::string::npos);
}

}  // namespace
}  // namespace ticketctl::manifest
