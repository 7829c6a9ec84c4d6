#include "runtime/core/diagnostics.h"

#include <gtest/gtest.h>

namespace ticketctl {
namespace {

Diagnostic make(Severity s, std::string file, int line, int column, std::string object,
                std::string field, std::string message) {
  Diagnostic d;
  d.severity = s;
  d.pos.file = std::move(file);
  d.pos.line = line;
  d.pos.column = column;
  d.object = std::move(object);
  d.field = std::move(field);
  d.message = std::move(message);
  return d;
}

TEST(Diagnostic, FormatsLikeACompiler) {
  const Diagnostic d = make(Severity::Error, "k8s/posts.yaml", 12, 9,
                            "Deployment default/posts-depl", "spec.replicas", "expected integer");
  EXPECT_EQ(
      d.to_string(),
      "k8s/posts.yaml:12:9: error: Deployment default/posts-depl: spec.replicas: expected integer");
  const Diagnostic file_only =
      make(Severity::Warning, "x.yaml", 0, 0, "", "", "pattern matches no files");
  EXPECT_EQ(file_only.to_string(), "x.yaml: warning: pattern matches no files");
}

TEST(Diagnostics, CountsBySeverity) {
  Diagnostics ds;
  EXPECT_FALSE(ds.has_errors());
  ds.add(make(Severity::Warning, "", 0, 0, "", "", "w"));
  EXPECT_FALSE(ds.has_errors());
  ds.add(make(Severity::Error, "", 0, 0, "", "", "e"));
  EXPECT_TRUE(ds.has_errors());
  EXPECT_EQ(ds.error_count(), 1u);
  EXPECT_EQ(ds.warning_count(), 1u);
}

}  // namespace
}  // namespace ticketctl
