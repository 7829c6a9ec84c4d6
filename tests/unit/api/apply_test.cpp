#include "runtime/api/apply.h"

#include <gtest/gtest.h>

#include "runtime/api/legacy_versions.h"
#include "runtime/manifest/loader.h"

namespace ticketctl::api {
namespace {

manifest::Object load_one(const std::string& yaml) {
  manifest::LoadResult r = manifest::load_text("test.yaml", yaml, {});
  EXPECT_FALSE(r.diagnostics.has_errors());
  EXPECT_EQ(r.objects.size(), 1u);
  return r.objects.at(0);
}

// The string kubectl 1.32 wrote for this manifest (read back from a control plane).
TEST(LastApplied, IsWhatKubectlWritesByteForByte) {
  const manifest::Object o = load_one(R"(apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - name: web
          image: demo/web
          command: ["sh", "-c", "sleep 1000 && echo <a> ok"]
          env: [{name: X, value: "1"}, {name: Z, value: "é\u2028"}]
)");
  const Json body = annotated_for_apply(o, true);
  EXPECT_EQ(
      body["metadata"]["annotations"][std::string(kLastAppliedAnnotation)],
      "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"annotations\":{},"
      "\"name\":\"web\",\"namespace\":\"default\"},\"spec\":{\"selector\":{\"matchLabels\":{"
      "\"app\":\"web\"}},\"template\":{\"metadata\":{\"labels\":{\"app\":\"web\"}},\"spec\":{"
      "\"containers\":[{\"command\":[\"sh\",\"-c\",\"sleep 1000 \\u0026\\u0026 echo "
      "\\u003ca\\u003e "
      "ok\"],\"env\":[{\"name\":\"X\",\"value\":\"1\"},{\"name\":\"Z\",\"value\":\"é\\u2028\"}],"
      "\"image\":\"demo/web\",\"name\":\"web\"}]}}}}\n");
  EXPECT_EQ(body["metadata"]["namespace"], "default");
}

TEST(LastApplied, LeavesItselfOutAndKeepsTheOtherAnnotations) {
  Json manifest = {
      {"apiVersion", "v1"},
      {"kind", "ConfigMap"},
      {"metadata",
       {{"name", "c"},
        {"annotations", {{"b", "2"}, {std::string(kLastAppliedAnnotation), "old"}, {"a", "1"}}}}}};
  EXPECT_EQ(last_applied_configuration(manifest),
            "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"annotations\":{\"a\":"
            "\"1\",\"b\":\"2\"},\"name\":\"c\"}}\n");
}

TEST(LastApplied, RecordsALegacyIngressAsWritten) {
  const manifest::Object o = load_one(R"y(apiVersion: networking.k8s.io/v1beta1
kind: Ingress
metadata: {name: ing}
spec:
  rules:
    - http:
        paths:
          - {path: "/api/?(.*)", backend: {serviceName: api, servicePort: 3000}}
)y");
  const Json body = annotated_for_apply(o, true);
  EXPECT_EQ(body["apiVersion"], "networking.k8s.io/v1");
  const std::string recorded = body["metadata"]["annotations"][std::string(kLastAppliedAnnotation)];
  EXPECT_TRUE(recorded.starts_with("{\"apiVersion\":\"networking.k8s.io/v1beta1\"")) << recorded;
  EXPECT_NE(recorded.find("\"serviceName\":\"api\""), std::string::npos) << recorded;
  // Read through v1beta1, the stored object shows the spec as it was written.
  const Json legacy = ingress_as_legacy(body, "networking.k8s.io/v1beta1");
  EXPECT_EQ(legacy["apiVersion"], "networking.k8s.io/v1beta1");
  EXPECT_TRUE(same_json(legacy["spec"], o.written["spec"])) << legacy["spec"].dump();
}

TEST(LegacyIngress, ReadsBackWithoutTheDefaultsTheConversionAdded) {
  // No annotation: converted field by field.
  const Json v1 = Json::parse(R"({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
    "metadata": {"name": "i"},
    "spec": {"defaultBackend": {"service": {"name": "d", "port": {"name": "http"}}},
             "rules": [{"host": "a", "http": {"paths": [
               {"path": "/x", "pathType": "ImplementationSpecific",
                "backend": {"service": {"name": "x", "port": {"number": 80}}}},
               {"path": "/y", "pathType": "Prefix",
                "backend": {"service": {"name": "y", "port": {"number": 81}}}}]}}]}})");
  const Json legacy = ingress_as_legacy(v1, "extensions/v1beta1");
  EXPECT_EQ(legacy["apiVersion"], "extensions/v1beta1");
  EXPECT_TRUE(same_json(legacy["spec"],
                        Json::parse(R"({"backend": {"serviceName": "d", "servicePort": "http"},
    "rules": [{"host": "a", "http": {"paths": [
      {"path": "/x", "backend": {"serviceName": "x", "servicePort": 80}},
      {"path": "/y", "pathType": "Prefix", "backend": {"serviceName": "y", "servicePort": 81}}]}}]})")))
      << legacy["spec"].dump();
}

TEST(LegacyIngress, WritesGoToTheStoredVersionInTheirOwnVersionWithAWarning) {
  std::vector<Request> forwarded;
  auto serve = [&](const Request& r) {
    forwarded.push_back(r);
    return Response{201, Json::parse(R"({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
      "metadata": {"name": "i"}, "spec": {"rules": []}})")};
  };
  Request post{"POST", "/apis/extensions/v1beta1/namespaces/default/ingresses", {}, "", "", ""};
  post.body =
      R"({"apiVersion": "extensions/v1beta1", "kind": "Ingress", "metadata": {"name": "i"}})";
  Response r = serve_legacy(post, serve);
  ASSERT_EQ(forwarded.size(), 1u);
  EXPECT_EQ(forwarded[0].path, "/apis/networking.k8s.io/v1/namespaces/default/ingresses");
  EXPECT_EQ(r.status, 201);
  EXPECT_EQ(r.body["apiVersion"], "extensions/v1beta1");
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_TRUE(r.warnings[0].starts_with("extensions/v1beta1 Ingress is unavailable"))
      << r.warnings[0];

  // A v1 body does not belong under a legacy path; other resources are not served there.
  post.body =
      R"({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "i"}})";
  EXPECT_EQ(serve_legacy(post, serve).status, 400);
  post.path = "/apis/extensions/v1beta1/namespaces/default/deployments";
  EXPECT_EQ(serve_legacy(post, serve).status, 404);
  EXPECT_EQ(forwarded.size(), 1u);

  // Discovery answers without a Warning: every kubectl command reads it.
  Response discovery =
      serve_legacy({"GET", "/apis/networking.k8s.io/v1beta1", {}, "", "", ""}, serve);
  EXPECT_EQ(discovery.body["resources"][0]["name"], "ingresses");
  EXPECT_TRUE(discovery.warnings.empty());
  EXPECT_TRUE(is_legacy_path("/apis/extensions/v1beta1"));
  EXPECT_FALSE(is_legacy_path("/apis/extensions/v1beta10"));
  EXPECT_FALSE(is_legacy_path("/apis/networking.k8s.io/v1/ingresses"));
}

Json deployment_with(const Json& spec_patch, const std::string& last_applied) {
  Json d = Json::parse(R"({"apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "w", "namespace": "default", "uid": "u1", "resourceVersion": "7"},
    "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "w"}},
      "template": {"metadata": {"labels": {"app": "w"}},
        "spec": {"containers": [{"name": "w", "image": "i",
          "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]}]}}}})");
  d["spec"].merge_patch(spec_patch);
  if (!last_applied.empty())
    d["metadata"]["annotations"][std::string(kLastAppliedAnnotation)] = last_applied;
  return d;
}

TEST(MergeApplied, KeepsWhatOthersChangedAndDropsWhatTheManifestDropped) {
  // Applied with replicas absent and env A, B; since then scaled to 3, restarted, and a sidecar
  // container added by someone else.
  const manifest::Object applied = load_one(R"(apiVersion: apps/v1
kind: Deployment
metadata: {name: w}
spec:
  selector: {matchLabels: {app: w}}
  template:
    metadata: {labels: {app: w}}
    spec:
      containers:
        - {name: w, image: i, env: [{name: A, value: "1"}, {name: B, value: "2"}]}
)");
  const Json before = annotated_for_apply(applied, true);
  Json current =
      deployment_with(Json::parse(R"({"replicas": 3, "template": {"metadata": {"annotations":
        {"kubectl.kubernetes.io/restartedAt": "2026-12-03T14:00:00Z"}}}})"),
                      before["metadata"]["annotations"][std::string(kLastAppliedAnnotation)]);
  current["spec"]["template"]["spec"]["containers"].push_back({{"name", "side"}, {"image", "s"}});

  // Now B is gone from the manifest and the image changed.
  const manifest::Object now = load_one(R"(apiVersion: apps/v1
kind: Deployment
metadata: {name: w}
spec:
  selector: {matchLabels: {app: w}}
  template:
    metadata: {labels: {app: w}}
    spec:
      containers:
        - {name: w, image: j, env: [{name: A, value: "1"}]}
)");
  const Merged merged = merge_applied(current, annotated_for_apply(now, true));
  EXPECT_TRUE(merged.had_annotation);
  const Json& spec = merged.object["spec"];
  EXPECT_EQ(spec["replicas"], 3);
  EXPECT_EQ(spec["template"]["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"],
            "2026-12-03T14:00:00Z");
  const Json& containers = spec["template"]["spec"]["containers"];
  ASSERT_EQ(containers.size(), 2u);
  EXPECT_EQ(containers[0]["image"], "j");
  EXPECT_EQ(containers[0]["env"], Json::parse(R"([{"name": "A", "value": "1"}])"));
  EXPECT_EQ(containers[1]["name"], "side");
  EXPECT_EQ(merged.object["metadata"]["uid"], "u1");
  EXPECT_EQ(merged.object["metadata"]["resourceVersion"], "7");
}

TEST(MergeApplied, WithoutAnAnnotationDeletesNothing) {
  const Json current = deployment_with(Json::parse(R"({"replicas": 4})"), "");
  const manifest::Object now = load_one(R"(apiVersion: apps/v1
kind: Deployment
metadata: {name: w}
spec:
  selector: {matchLabels: {app: w}}
  template:
    metadata: {labels: {app: w}}
    spec:
      containers: [{name: w, image: i}]
)");
  const Merged merged = merge_applied(current, annotated_for_apply(now, true));
  EXPECT_FALSE(merged.had_annotation);
  EXPECT_EQ(merged.object["spec"]["replicas"], 4);
  EXPECT_EQ(merged.object["spec"]["template"]["spec"]["containers"][0]["env"].size(), 2u);
  EXPECT_TRUE(merged.object["metadata"]["annotations"].contains(kLastAppliedAnnotation));
}

}  // namespace
}  // namespace ticketctl::api
