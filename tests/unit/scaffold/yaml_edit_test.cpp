#include "runtime/scaffold/yaml_edit.h"

#include <gtest/gtest.h>

namespace ticketctl::scaffold {
namespace {

Locate at(std::vector<std::string> keys) {
  return [keys](const YAML::Node& root) {
    YAML::Node n = root;
    for (const std::string& k : keys) n = child(n, k);
    return n;
  };
}

// The edit only inserted: the original text is the result minus one contiguous block.
void expect_only_inserted(const std::string& before, const std::string& after,
                          const Insertion& ins) {
  ASSERT_EQ(after.size(), before.size() + ins.text.size());
  EXPECT_EQ(after.substr(0, ins.offset), before.substr(0, ins.offset));
  EXPECT_EQ(after.substr(ins.offset + ins.text.size()), before.substr(ins.offset));
}

const std::string kIngress = R"(# Routes of the app.
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: ingress-srv  # the course's name
  annotations:
    nginx.ingress.kubernetes.io/use-regex: "true"
spec:
  rules:
    - host: app.localhost
      http:
        paths:
          # users first
          - path: /api/users/?(.*)
            pathType: ImplementationSpecific
            backend:
              service:
                name: auth-srv
                port:
                  number: 3000   # keep
          # the client catches everything else
  # tls comes later
)";

Locate paths_of_rule0() {
  return [](const YAML::Node& root) {
    return child(child(child(child(root, "spec"), "rules")[0], "http"), "paths");
  };
}

TEST(YamlEdit, AppendsToABlockListKeepingEveryCommentByteForByte) {
  const std::string item =
      "path: /api/tickets/?(.*)\npathType: ImplementationSpecific\nbackend:\n  service:\n"
      "    name: tickets-srv\n    port:\n      number: 3000\n";
  Result<Insertion> ins = plan_sequence_append(kIngress, paths_of_rule0(), item);
  ASSERT_TRUE(ins.ok()) << ins.error().message;
  const std::string after = apply_insertion(kIngress, ins.value());
  expect_only_inserted(kIngress, after, ins.value());
  // After the last item's last line, before the comments that follow it.
  EXPECT_NE(after.find("number: 3000   # keep\n          - path: /api/tickets/?(.*)\n"
                       "            pathType: ImplementationSpecific\n"),
            std::string::npos)
      << after;
  EXPECT_NE(after.find("      number: 3000\n          # the client catches everything else\n"),
            std::string::npos)
      << after;
  const YAML::Node paths = paths_of_rule0()(YAML::Load(after));
  ASSERT_EQ(paths.size(), 2u);
  EXPECT_EQ(paths[1]["backend"]["service"]["name"].as<std::string>(), "tickets-srv");
}

TEST(YamlEdit, AppendsToACompactListWhoseDashesAlignWithTheKey) {
  const std::string doc = "build:\n  artifacts:\n  - image: a\n    context: a\n  local: {}\n";
  Result<Insertion> ins =
      plan_sequence_append(doc, at({"build", "artifacts"}), "image: b\ncontext: b\n");
  ASSERT_TRUE(ins.ok()) << ins.error().message;
  EXPECT_EQ(apply_insertion(doc, ins.value()),
            "build:\n  artifacts:\n  - image: a\n    context: a\n  - image: b\n    context: b\n"
            "  local: {}\n");
}

TEST(YamlEdit, AddsAKeyAtTheEndOfAMappingAndAFileWithoutFinalNewline) {
  const std::string doc = "manifests:\n  - k8s\n# ingress port\ningress:\n  http: 8080";
  Result<Insertion> ins = plan_mapping_append(doc, at({}), "images:\n  a/b:\n    context: b\n");
  ASSERT_TRUE(ins.ok()) << ins.error().message;
  EXPECT_EQ(apply_insertion(doc, ins.value()),
            "manifests:\n  - k8s\n# ingress port\ningress:\n  http: 8080\nimages:\n  a/b:\n"
            "    context: b\n");
  Result<Insertion> nested = plan_mapping_append(doc, at({"ingress"}), "https: 8443\n");
  ASSERT_TRUE(nested.ok()) << nested.error().message;
  EXPECT_EQ(apply_insertion(doc, nested.value()),
            "manifests:\n  - k8s\n# ingress port\ningress:\n  http: 8080\n  https: 8443\n");
}

TEST(YamlEdit, RefusesWhatItCannotEditSafely) {
  Result<Insertion> flow = plan_sequence_append("a: [1, 2]\n", at({"a"}), "3\n");
  ASSERT_FALSE(flow.ok());
  EXPECT_NE(flow.error().message.find("flow style"), std::string::npos);
  EXPECT_FALSE(plan_sequence_append("a: 1\n", at({"b"}), "3\n").ok());
  EXPECT_FALSE(plan_mapping_append("a: {x: 1}\n", at({"a"}), "y: 2\n").ok());
  Result<Insertion> alias =
      plan_mapping_append("base: &b {x: 1}\nm:\n  y: *b\n", at({"m"}), "z: 2\n");
  ASSERT_FALSE(alias.ok());
  EXPECT_NE(alias.error().message.find("anchors or aliases"), std::string::npos);
  Result<Insertion> dup = plan_mapping_append("a:\n  x: 1\n", at({"a"}), "x: 2\n");
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.error().code, ErrorCode::AlreadyExists);
}

TEST(YamlEdit, SplitsDocumentsAtDashLines) {
  const std::string text = "# lead\na: 1\n---\nb: 2\n--- # c\nc: 3\n---\n";
  const std::vector<DocumentSpan> docs = split_documents(text);
  ASSERT_EQ(docs.size(), 3u);
  EXPECT_EQ(text.substr(docs[0].begin, docs[0].end - docs[0].begin), "# lead\na: 1\n");
  EXPECT_EQ(text.substr(docs[1].begin, docs[1].end - docs[1].begin), "---\nb: 2\n");
  EXPECT_EQ(docs[2].first_line, 5);
}

}  // namespace
}  // namespace ticketctl::scaffold
