#include "runtime/api/defaults.h"

#include <gtest/gtest.h>

#include <string>

#include "runtime/controllers/deployment.h"

namespace ticketctl::api {
namespace {

Json deployment(const char* spec_extra = "") {
  return Json::parse(std::string(R"({"apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "auth"}, "spec": {"selector": {"matchLabels": {"app": "auth"}},)") +
                     spec_extra + R"(
    "template": {"metadata": {"labels": {"app": "auth"}},
      "spec": {"containers": [{"name": "auth", "image": "demo/auth",
                               "ports": [{"containerPort": 3000}]}]}}}})");
}

TEST(ApiDefaults, DeploymentGetsWhatTheApiServerFillsIn) {
  Json d = deployment();
  apply_defaults("deployments.apps", d);
  const Json& spec = d["spec"];
  EXPECT_EQ(spec["replicas"], 1);
  EXPECT_EQ(spec["strategy"], Json::parse(R"({"type": "RollingUpdate",
    "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}})"));
  EXPECT_EQ(spec["revisionHistoryLimit"], 10);
  EXPECT_EQ(spec["progressDeadlineSeconds"], 600);
  const Json& pod = spec["template"]["spec"];
  EXPECT_EQ(pod["restartPolicy"], "Always");
  EXPECT_EQ(pod["dnsPolicy"], "ClusterFirst");
  EXPECT_EQ(pod["terminationGracePeriodSeconds"], 30);
  EXPECT_EQ(pod["schedulerName"], "default-scheduler");
  EXPECT_EQ(pod["securityContext"], Json::object());
  EXPECT_FALSE(pod.contains("nodeName"));  // a template is not scheduled
  const Json& c = pod["containers"][0];
  EXPECT_EQ(c["terminationMessagePath"], "/dev/termination-log");
  EXPECT_EQ(c["terminationMessagePolicy"], "File");
  EXPECT_EQ(c["imagePullPolicy"], "Always");
  EXPECT_EQ(c["ports"][0], Json::parse(R"({"containerPort": 3000, "protocol": "TCP"})"));
}

TEST(ApiDefaults, KeepsWhatTheUserWrote) {
  Json d = deployment(R"("replicas": 3, "revisionHistoryLimit": 2,
    "strategy": {"type": "Recreate"},)");
  d["spec"]["template"]["spec"]["restartPolicy"] = "Never";
  d["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] = 5;
  d["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] = "Never";
  d["spec"]["template"]["spec"]["containers"][0]["ports"][0]["protocol"] = "UDP";
  apply_defaults("deployments.apps", d);
  EXPECT_EQ(d["spec"]["replicas"], 3);
  EXPECT_EQ(d["spec"]["revisionHistoryLimit"], 2);
  EXPECT_EQ(d["spec"]["strategy"], Json::parse(R"({"type": "Recreate"})"));
  const Json& pod = d["spec"]["template"]["spec"];
  EXPECT_EQ(pod["restartPolicy"], "Never");
  EXPECT_EQ(pod["terminationGracePeriodSeconds"], 5);
  EXPECT_EQ(pod["containers"][0]["imagePullPolicy"], "Never");
  EXPECT_EQ(pod["containers"][0]["ports"][0]["protocol"], "UDP");
}

TEST(ApiDefaults, PartialRollingUpdateGetsTheOtherFencepost) {
  Json d = deployment(R"("strategy": {"rollingUpdate": {"maxSurge": 1}},)");
  apply_defaults("deployments.apps", d);
  EXPECT_EQ(d["spec"]["strategy"], Json::parse(R"({"rollingUpdate": {"maxSurge": 1,
    "maxUnavailable": "25%"}, "type": "RollingUpdate"})"));
}

TEST(ApiDefaults, IsIdempotent) {
  for (const char* resource : {"deployments.apps", "services", "secrets", "pods"}) {
    Json o = resource == std::string("services")
                 ? Json::parse(R"({"spec": {"selector": {"a": "b"}, "ports": [{"port": 80}]}})")
             : resource == std::string("pods") ? deployment()["spec"]["template"]
                                               : deployment();
    apply_defaults(resource, o);
    const Json once = o;
    apply_defaults(resource, o);
    EXPECT_EQ(o, once) << resource;
  }
}

TEST(ApiDefaults, ImagePullPolicyFollowsTheTag) {
  struct Case {
    const char* image;
    const char* policy;
  };
  for (const Case& c :
       {Case{"nginx", "Always"}, Case{"nginx:latest", "Always"}, Case{"nginx:1.27", "IfNotPresent"},
        Case{"demo/auth", "Always"}, Case{"localhost:5000/auth", "Always"},
        Case{"localhost:5000/auth:v2", "IfNotPresent"},
        Case{"nats@sha256:0123abcd", "IfNotPresent"}})
    EXPECT_EQ(default_pull_policy(c.image), c.policy) << c.image;
}

TEST(ApiDefaults, ServiceGetsAffinityFamiliesAndTargetPorts) {
  Json svc = Json::parse(R"({"spec": {"selector": {"app": "auth"},
    "ports": [{"port": 3000}, {"port": 80, "targetPort": "http", "protocol": "UDP"}]}})");
  apply_defaults("services", svc);
  const Json& spec = svc["spec"];
  EXPECT_EQ(spec["type"], "ClusterIP");
  EXPECT_EQ(spec["sessionAffinity"], "None");
  EXPECT_EQ(spec["ipFamilies"], Json::array({"IPv4"}));
  EXPECT_EQ(spec["ipFamilyPolicy"], "SingleStack");
  EXPECT_EQ(spec["internalTrafficPolicy"], "Cluster");
  EXPECT_FALSE(spec.contains("externalTrafficPolicy"));
  EXPECT_EQ(spec["ports"][0], Json::parse(R"({"port": 3000, "protocol": "TCP",
    "targetPort": 3000})"));
  EXPECT_EQ(spec["ports"][1], Json::parse(R"({"port": 80, "targetPort": "http",
    "protocol": "UDP"})"));
  Json node_port = Json::parse(R"({"spec": {"type": "NodePort", "ports": [{"port": 80}]}})");
  apply_defaults("services", node_port);
  EXPECT_EQ(node_port["spec"]["externalTrafficPolicy"], "Cluster");
}

TEST(ApiDefaults, SecretIsOpaqueUnlessTyped) {
  Json plain = Json::parse(R"({"data": {"k": "dg=="}})");
  apply_defaults("secrets", plain);
  EXPECT_EQ(plain["type"], "Opaque");
  Json tls = Json::parse(R"({"type": "kubernetes.io/tls"})");
  apply_defaults("secrets", tls);
  EXPECT_EQ(tls["type"], "kubernetes.io/tls");
}

TEST(ApiDefaults, OtherKindsAndBrokenShapesAreLeftAlone) {
  Json cm = Json::parse(R"({"data": {"a": "b"}})");
  apply_defaults("configmaps", cm);
  EXPECT_EQ(cm, Json::parse(R"({"data": {"a": "b"}})"));
  Json odd = Json::parse(R"({"spec": "not an object"})");
  apply_defaults("deployments.apps", odd);
  EXPECT_EQ(odd, Json::parse(R"({"spec": "not an object"})"));
}

TEST(ApiDefaults, PodsAreBoundToTheNode) {
  Json pod = Json::parse(R"({"spec": {"containers": []}})");
  bind_to_node(pod);
  EXPECT_EQ(pod["spec"]["nodeName"], "localhost");
}

// A ReplicaSet made before defaulting existed holds the template as written; the Deployment
// re-applied after the upgrade holds it defaulted. The controller must see the same template.
TEST(ApiDefaults, TemplatesStoredBeforeDefaultingStillMatch) {
  Json written = deployment()["spec"]["template"];
  Json stored = written;
  stored["metadata"]["labels"]["pod-template-hash"] = controllers::pod_template_hash(written);
  Json defaulted = deployment();
  apply_defaults("deployments.apps", defaulted);
  EXPECT_TRUE(controllers::same_template_but_defaults(stored, defaulted["spec"]["template"]));
  // Keys in another order are the same template too.
  Json reordered = Json::parse(R"({"spec": {"containers": [{"ports": [{"containerPort": 3000}],
    "image": "demo/auth", "name": "auth"}]}, "metadata": {"labels": {"app": "auth"}}})");
  EXPECT_TRUE(controllers::same_template_but_defaults(stored, reordered));
  Json changed = defaulted["spec"]["template"];
  changed["spec"]["containers"][0]["image"] = "demo/auth:v2";
  EXPECT_FALSE(controllers::same_template_but_defaults(stored, changed));
  Json user_policy = written;
  user_policy["spec"]["restartPolicy"] = "OnFailure";
  EXPECT_FALSE(controllers::same_template_but_defaults(stored, user_policy));
}

}  // namespace
}  // namespace ticketctl::api
