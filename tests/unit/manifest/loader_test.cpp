#include "runtime/manifest/loader.h"

#include <gtest/gtest.h>

namespace ticketctl::manifest {
namespace {

std::vector<std::string> messages(const LoadResult& r) {
  std::vector<std::string> out;
  for (const auto& d : r.diagnostics.items()) out.push_back(d.to_string());
  return out;
}

LoadResult load(std::string_view text, LoadOptions options = {}) {
  return load_text("t.yaml", text, options);
}

constexpr std::string_view kDeployment = R"(apiVersion: apps/v1
kind: Deployment
metadata:
  name: posts-depl
spec:
  replicas: 1
  selector:
    matchLabels:
      app: posts
  template:
    metadata:
      labels:
        app: posts
    spec:
      containers:
        - name: posts
          image: demo/posts
          env:
            - name: JWT_KEY
              valueFrom:
                secretKeyRef:
                  name: jwt-secret
                  key: JWT_KEY
)";

TEST(Loader, ValidDeploymentBecomesOneObject) {
  LoadResult r = load(kDeployment);
  EXPECT_TRUE(r.diagnostics.items().empty()) << testing::PrintToString(messages(r));
  ASSERT_EQ(r.objects.size(), 1u);
  const Object& o = r.objects[0];
  EXPECT_EQ(o.api_version, "apps/v1");
  EXPECT_EQ(o.kind, "Deployment");
  EXPECT_EQ(o.ns, "default");
  EXPECT_EQ(o.name, "posts-depl");
  EXPECT_EQ(o.kubectl_name(), "deployment.apps/posts-depl");
  EXPECT_EQ(o.pos.line, 1);
  EXPECT_EQ(o.body["spec"]["replicas"], 1);
  EXPECT_EQ(o.body["spec"]["template"]["spec"]["containers"][0]["env"][0]["valueFrom"]
                  ["secretKeyRef"]["key"],
            "JWT_KEY");
}

TEST(Loader, NamespaceOptionAppliesToObjectsWithoutOne) {
  LoadOptions options;
  options.default_namespace = "blog";
  LoadResult r = load(kDeployment, options);
  ASSERT_EQ(r.objects.size(), 1u);
  EXPECT_EQ(r.objects[0].ns, "blog");
}

TEST(Loader, ReportsEveryErrorOfEveryDocumentWithPositions) {
  LoadResult r = load(R"(apiVersion: v1
kind: Service
metadata:
  name: posts-srv
spec:
  type: NodePort
  ports:
    - port: "4000"
      targetPort: 4000
---
apiVersion: v1
kind: Secret
metadata:
  name: jwt-secret
data:
  JWT_KEY: not*base64
)");
  EXPECT_EQ(messages(r), (std::vector<std::string>{
                             "t.yaml:8:13: error: Service default/posts-srv: spec.ports[0].port: "
                             "expected integer, got string \"4000\"",
                             "t.yaml:16:12: error: Secret default/jwt-secret: data[JWT_KEY]: "
                             "invalid value: illegal base64 data at input byte 3",
                         }));
  EXPECT_TRUE(r.objects.empty());
  EXPECT_EQ(r.documents, 2u);
}

TEST(Loader, UnquotedBooleanInAStringFieldSaysToQuoteIt) {
  LoadResult r = load(R"(apiVersion: v1
kind: ConfigMap
metadata:
  name: cfg
data:
  DEBUG: yes
)");
  EXPECT_EQ(messages(r), (std::vector<std::string>{
                             "t.yaml:6:10: error: ConfigMap default/cfg: data[DEBUG]: expected "
                             "string, got boolean yes (quote it to keep it a string: \"yes\")"}));
}

TEST(Loader, SyntaxErrorInOneDocumentDoesNotHideTheOthers) {
  LoadResult r = load(R"(apiVersion: v1
kind: Namespace
metadata:
  name: Blog
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: [unclosed
---
apiVersion: v1
kind: Namespace
metadata:
  name: ok
)");
  const auto m = messages(r);
  ASSERT_EQ(m.size(), 2u) << testing::PrintToString(m);
  EXPECT_TRUE(
      m[0].starts_with("t.yaml:4:9: error: Namespace Blog: metadata.name: invalid value \"Blog\": "
                       "a lowercase RFC 1123 label"));
  EXPECT_TRUE(m[1].starts_with("t.yaml:10:1: error: YAML syntax error: ")) << m[1];
  ASSERT_EQ(r.objects.size(), 1u);
  EXPECT_EQ(r.objects[0].name, "ok");
  EXPECT_EQ(r.objects[0].ns, "");  // Namespaces are cluster-scoped
}

TEST(Loader, DuplicateObjectNamesTheFirstDefinition) {
  std::string twice = std::string(kDeployment) + "---\n" + std::string(kDeployment);
  LoadResult r = load(twice);
  EXPECT_EQ(messages(r),
            (std::vector<std::string>{
                "t.yaml:28:9: error: Deployment default/posts-depl: metadata.name: duplicate "
                "object: Deployment default/posts-depl is also defined at t.yaml:1:1"}));
  EXPECT_EQ(r.objects.size(), 1u);
}

TEST(Loader, SameNameInAnotherNamespaceOrKindIsNotADuplicate) {
  LoadResult r = load(R"(apiVersion: v1
kind: ConfigMap
metadata: {name: a}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: a, namespace: other}
---
apiVersion: v1
kind: Secret
metadata: {name: a}
)");
  EXPECT_TRUE(r.diagnostics.items().empty()) << testing::PrintToString(messages(r));
  EXPECT_EQ(r.objects.size(), 3u);
}

TEST(Loader, ListItemsAreCheckedAsObjects) {
  LoadResult r = load(R"(apiVersion: v1
kind: List
items:
  - apiVersion: v1
    kind: ConfigMap
    metadata: {name: a}
  - apiVersion: v1
    kind: ConfigMap
    metadata: {name: b}
    dta: {}
)");
  EXPECT_EQ(messages(r),
            (std::vector<std::string>{"t.yaml:10:5: error: ConfigMap default/b: dta: unknown field "
                                      "\"dta\" (did you mean \"data\"?)"}));
  ASSERT_EQ(r.objects.size(), 1u);
  EXPECT_EQ(r.objects[0].name, "a");
}

TEST(Loader, LegacyIngressIsConvertedWithAWarning) {
  LoadResult r = load(R"(apiVersion: extensions/v1beta1
kind: Ingress
metadata:
  name: ingress-srv
spec:
  rules:
    - host: ticketing.dev
      http:
        paths:
          - path: /api/users/?(.*)
            backend:
              serviceName: auth-srv
              servicePort: 3000
)");
  EXPECT_EQ(messages(r),
            (std::vector<std::string>{
                "t.yaml:1:13: warning: Ingress default/ingress-srv: apiVersion: extensions/v1beta1 "
                "Ingress is no longer served by Kubernetes (removed in v1.22); converted to "
                "networking.k8s.io/v1 (`ticketctl convert -f t.yaml` rewrites the file)"}));
  ASSERT_EQ(r.objects.size(), 1u);
  EXPECT_EQ(r.objects[0].api_version, "networking.k8s.io/v1");
  EXPECT_EQ(r.objects[0].body["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"],
            "auth-srv");
}

TEST(Loader, JsonManifestsAreRead) {
  LoadResult r = load(R"({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "jwt-secret"},
  "stringData": {"JWT_KEY": "asdf"}, "type": "Opaque"})");
  EXPECT_TRUE(r.diagnostics.items().empty()) << testing::PrintToString(messages(r));
  ASSERT_EQ(r.objects.size(), 1u);
  EXPECT_EQ(r.objects[0].body["stringData"]["JWT_KEY"], "asdf");
}

TEST(Loader, IgnoredFieldsWarnAndInertFieldsAreSilent) {
  LoadResult r = load(R"(apiVersion: v1
kind: Pod
metadata:
  name: p
spec:
  nodeSelector: {disk: ssd}
  hostNetwork: true
  containers:
    - name: c
      image: redis
      imagePullPolicy: IfNotPresent
)");
  EXPECT_EQ(messages(r), (std::vector<std::string>{
                             "t.yaml:7:3: warning: Pod default/p: spec.hostNetwork: accepted "
                             "but ignored: ticketctl does not implement this field"}));
  EXPECT_EQ(r.objects.size(), 1u);
}

// The API's fieldValidation=Warn and Ignore: an unknown field is dropped, not an error.
TEST(Loader, UnknownFieldsCanBeDroppedWithAWarningOrSilently) {
  const std::string text = std::string(kDeployment) + "  replica: 3\n";
  EXPECT_EQ(messages(load(text)),
            (std::vector<std::string>{"t.yaml:24:3: error: Deployment default/posts-depl: "
                                      "spec.replica: unknown field \"replica\" (did you mean "
                                      "\"replicas\"?)"}));
  LoadOptions options;
  options.unknown_fields = UnknownFields::Warn;
  LoadResult warned = load(text, options);
  EXPECT_EQ(messages(warned),
            (std::vector<std::string>{"t.yaml:24:3: warning: Deployment default/posts-depl: "
                                      "spec.replica: unknown field \"replica\" (did you mean "
                                      "\"replicas\"?)"}));
  ASSERT_EQ(warned.objects.size(), 1u);
  EXPECT_FALSE(warned.objects[0].body["spec"].contains("replica"));
  options.unknown_fields = UnknownFields::Ignore;
  LoadResult ignored = load(text, options);
  EXPECT_TRUE(ignored.diagnostics.items().empty()) << testing::PrintToString(messages(ignored));
  ASSERT_EQ(ignored.objects.size(), 1u);
  EXPECT_EQ(ignored.objects[0].body["spec"]["replicas"], 1);
}

TEST(Loader, NotAnObject) {
  LoadResult r = load("- a\n- b\n");
  EXPECT_EQ(messages(r),
            (std::vector<std::string>{"t.yaml:1:1: error: expected a Kubernetes object (a mapping "
                                      "with apiVersion, kind and metadata)"}));
}

}  // namespace
}  // namespace ticketctl::manifest
