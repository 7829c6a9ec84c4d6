#include "runtime/api/protobuf.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "runtime/api/handler.h"
#include "runtime/core/strings.h"
#include "tests/support/temp_dir.h"

// The fixtures in tests/unit/api/protobuf/ are request bodies real kubectl v1.32 sent for the
// command in each test's comment, captured on the wire. They are the ground truth: the expected
// JSON is what `kubectl <same command> --dry-run=client -o json` prints, less the
// `creationTimestamp: null` lines.

namespace ticketctl::api {
namespace {
namespace fs = std::filesystem;

std::string fixture(const std::string& name) {
  std::ifstream in(fs::path(TICKETCTL_SOURCE_DIR) / "tests/unit/api/protobuf" / name,
                   std::ios::binary);
  EXPECT_TRUE(in) << name;
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

const char* const kFixtures[] = {
    "configmap.pb",
    "configmap-binary.pb",
    "deployment-port.pb",
    "ingress.pb",
    "deployment-two-images.pb",
    "deployment-zero-replicas.pb",
    "namespace.pb",
    "secret-docker-registry.pb",
    "secret-generic.pb",
    "secret-generic-typed.pb",
    "secret-in-namespace.pb",
    "service-clusterip.pb",
    "service-externalname.pb",
    "service-headless.pb",
    "service-nodeport.pb",
};

// Key order is not part of the comparison.
nlohmann::json unordered(const Json& j) {
  return nlohmann::json::parse(j.dump());
}

Json decoded(const std::string& body) {
  ProtobufObject o = decode_protobuf_object(body);
  EXPECT_TRUE(o.ok()) << o.message;
  return o.object;
}

// --- a small protobuf writer for hand-made bodies ---

std::string varint(uint64_t v) {
  std::string out;
  do {
    out.push_back(static_cast<char>((v & 0x7f) | (v > 0x7f ? 0x80 : 0)));
    v >>= 7;
  } while (v);
  return out;
}
std::string bytes_field(int number, const std::string& value) {
  return varint(static_cast<uint64_t>(number) << 3 | 2) + varint(value.size()) + value;
}
std::string varint_field(int number, uint64_t value) {
  return varint(static_cast<uint64_t>(number) << 3) + varint(value);
}
std::string entry(const std::string& key, const std::string& value) {
  return bytes_field(1, key) + bytes_field(2, value);
}
std::string body(const std::string& api_version, const std::string& kind, const std::string& raw,
                 const std::string& extra = "") {
  return std::string("k8s\0", 4) +
         bytes_field(1, bytes_field(1, api_version) + bytes_field(2, kind)) + bytes_field(2, raw) +
         extra;
}

TEST(Protobuf, KubectlCreateSecretGeneric) {
  // kubectl create secret generic jwt-secret --from-literal=JWT_KEY=asdf
  EXPECT_EQ(unordered(decoded(fixture("secret-generic.pb"))), nlohmann::json::parse(R"({
    "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "jwt-secret"},
    "data": {"JWT_KEY": "YXNkZg=="}})"));
  // kubectl create secret generic labelled --from-literal=a=b --type=Opaque
  EXPECT_EQ(unordered(decoded(fixture("secret-generic-typed.pb"))), nlohmann::json::parse(R"({
    "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "labelled"},
    "data": {"a": "Yg=="}, "type": "Opaque"})"));
  // kubectl -n tickets create secret generic jwt-secret --from-literal=JWT_KEY=asdf
  EXPECT_EQ(decoded(fixture("secret-in-namespace.pb"))["metadata"],
            Json::parse(R"({"name": "jwt-secret", "namespace": "tickets"})"));
}

TEST(Protobuf, KubectlCreateSecretDockerRegistry) {
  // kubectl create secret docker-registry reg --docker-username=u --docker-password=p
  //   --docker-server=r.example.com
  const Json s = decoded(fixture("secret-docker-registry.pb"));
  EXPECT_EQ(s["type"], "kubernetes.io/dockerconfigjson");
  const std::optional<std::string> config =
      base64_decode(s["data"][".dockerconfigjson"].get<std::string>());
  ASSERT_TRUE(config);
  EXPECT_EQ(Json::parse(*config)["auths"]["r.example.com"]["username"], "u");
}

TEST(Protobuf, KubectlCreateConfigMap) {
  // kubectl create configmap app-config --from-literal=MODE=dev --from-literal=LEVEL=debug
  EXPECT_EQ(unordered(decoded(fixture("configmap.pb"))), nlohmann::json::parse(R"({
    "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "app-config"},
    "data": {"LEVEL": "debug", "MODE": "dev"}})"));
  // kubectl create configmap bin-small --from-file=blob=small.bin --from-literal=k=v, where
  // small.bin holds "abc\0\xff": bytes that are not UTF-8 travel in binaryData, base64 in JSON.
  EXPECT_EQ(unordered(decoded(fixture("configmap-binary.pb"))), nlohmann::json::parse(R"({
    "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "bin-small"},
    "data": {"k": "v"}, "binaryData": {"blob": "YWJjAP8="}})"));
}

TEST(Protobuf, KubectlCreateNamespace) {
  // kubectl create namespace tickets
  EXPECT_EQ(unordered(decoded(fixture("namespace.pb"))), nlohmann::json::parse(R"({
    "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "tickets"},
    "spec": {}, "status": {}})"));
}

TEST(Protobuf, KubectlCreateDeployment) {
  // kubectl create deployment web2 --image=nginx --port=80 --replicas=2
  EXPECT_EQ(unordered(decoded(fixture("deployment-port.pb"))), nlohmann::json::parse(R"({
    "apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "web2", "labels": {"app": "web2"}},
    "spec": {
      "replicas": 2,
      "selector": {"matchLabels": {"app": "web2"}},
      "template": {
        "metadata": {"labels": {"app": "web2"}},
        "spec": {"containers": [{"name": "nginx", "image": "nginx",
                                 "ports": [{"containerPort": 80}], "resources": {}}]}},
      "strategy": {}},
    "status": {}})"));
  // kubectl create deployment multi --image=nginx --image=redis:7
  const Json multi = decoded(fixture("deployment-two-images.pb"));
  EXPECT_EQ(multi["spec"]["replicas"], 1);
  EXPECT_EQ(unordered(multi["spec"]["template"]["spec"]["containers"]), nlohmann::json::parse(R"([
    {"name": "nginx", "image": "nginx", "resources": {}},
    {"name": "redis", "image": "redis:7", "resources": {}}])"));
  // kubectl create deployment zero --image=nginx --replicas=0: a pointer's zero is kept.
  EXPECT_EQ(decoded(fixture("deployment-zero-replicas.pb"))["spec"]["replicas"], 0);
}

TEST(Protobuf, KubectlCreateService) {
  // kubectl create service clusterip web --tcp=80:8080
  EXPECT_EQ(unordered(decoded(fixture("service-clusterip.pb"))), nlohmann::json::parse(R"({
    "apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "labels": {"app": "web"}},
    "spec": {"ports": [{"name": "80-8080", "protocol": "TCP", "port": 80, "targetPort": 8080}],
             "selector": {"app": "web"}, "type": "ClusterIP"},
    "status": {"loadBalancer": {}}})"));
  // kubectl create service nodeport web --tcp=80:8080 --node-port=30080
  EXPECT_EQ(decoded(fixture("service-nodeport.pb"))["spec"]["ports"][0]["nodePort"], 30080);
  // kubectl create service clusterip headless --clusterip=None
  EXPECT_EQ(unordered(decoded(fixture("service-headless.pb"))["spec"]), nlohmann::json::parse(R"({
    "selector": {"app": "headless"}, "clusterIP": "None", "type": "ClusterIP"})"));
  // kubectl create service externalname ext --external-name=example.com
  EXPECT_EQ(unordered(decoded(fixture("service-externalname.pb"))["spec"]),
            nlohmann::json::parse(R"({"selector": {"app": "ext"}, "type": "ExternalName",
                                      "externalName": "example.com"})"));
}

TEST(Protobuf, KubectlCreateIngress) {
  // kubectl create ingress ingress-srv --class=nginx
  //   --rule="posts.com/posts*=posts-clusterip-srv:4000,tls=posts-tls"
  //   --rule="posts.com/=client-srv:http" --annotation=nginx.ingress.kubernetes.io/use-regex=true
  EXPECT_EQ(unordered(decoded(fixture("ingress.pb"))), nlohmann::json::parse(R"({
    "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
    "metadata": {"name": "ingress-srv",
                 "annotations": {"nginx.ingress.kubernetes.io/use-regex": "true"}},
    "spec": {
      "ingressClassName": "nginx",
      "tls": [{"hosts": ["posts.com"], "secretName": "posts-tls"}],
      "rules": [{"host": "posts.com", "http": {"paths": [
        {"path": "/posts", "pathType": "Prefix",
         "backend": {"service": {"name": "posts-clusterip-srv", "port": {"number": 4000}}}},
        {"path": "/", "pathType": "Exact",
         "backend": {"service": {"name": "client-srv", "port": {"name": "http"}}}}]}}]},
    "status": {"loadBalancer": {}}})"));
}

TEST(Protobuf, NestedKindsInlineFieldsAndWellKnownTypes) {
  const std::string meta =
      bytes_field(1, "api") + bytes_field(8, varint_field(1, 1700000000) + varint_field(2, 5));
  const std::string container =
      bytes_field(1, "api") + bytes_field(2, "demo/api") +
      // env: [{name: JWT_KEY, valueFrom: {secretKeyRef: {name: jwt-secret, key: JWT_KEY}}}]
      bytes_field(7,
                  bytes_field(1, "JWT_KEY") +
                      bytes_field(3, bytes_field(4, bytes_field(1, bytes_field(1, "jwt-secret")) +
                                                        bytes_field(2, "JWT_KEY")))) +
      // resources: {limits: {cpu: 500m}}
      bytes_field(8, bytes_field(1, entry("cpu", bytes_field(1, "500m")))) +
      // livenessProbe: {httpGet: {path: /healthz, port: "http"}, periodSeconds: 0}
      bytes_field(
          10,
          bytes_field(1, bytes_field(2, bytes_field(1, "/healthz") +
                                            bytes_field(2, varint_field(1, 1) + varint_field(2, 0) +
                                                               bytes_field(3, "http")))) +
              varint_field(4, 0)) +
      varint_field(16, 0);  // stdin: false, not a pointer: dropped
  const std::string pod_spec = bytes_field(2, container) +
                               varint_field(21, 0) +  // automountServiceAccountToken: a pointer
                               bytes_field(14, varint_field(4, 1000) + varint_field(4, 2000));
  const std::string raw = bytes_field(1, meta) + bytes_field(2, pod_spec);
  EXPECT_EQ(unordered(decoded(body("v1", "Pod", raw))), nlohmann::json::parse(R"({
    "apiVersion": "v1", "kind": "Pod",
    "metadata": {"name": "api", "creationTimestamp": "2023-11-14T22:13:20Z"},
    "spec": {
      "containers": [{
        "name": "api", "image": "demo/api",
        "env": [{"name": "JWT_KEY",
                 "valueFrom": {"secretKeyRef": {"name": "jwt-secret", "key": "JWT_KEY"}}}],
        "resources": {"limits": {"cpu": "500m"}},
        "livenessProbe": {"httpGet": {"path": "/healthz", "port": "http"}}}],
      "automountServiceAccountToken": false,
      "securityContext": {"supplementalGroups": [1000, 2000]}}})"));

  // Packed repeated integers read the same as unpacked ones.
  const std::string packed =
      bytes_field(2, bytes_field(14, bytes_field(4, varint(1000) + varint(2000))));
  EXPECT_EQ(decoded(body("v1", "Pod", packed))["spec"]["securityContext"]["supplementalGroups"],
            Json::parse("[1000, 2000]"));
}

TEST(Protobuf, AFieldWithoutASchemaIsNamedNotDropped) {
  // A Deployment whose pod spec has affinity (18), which ticketctl does not read.
  const std::string raw = bytes_field(2, bytes_field(3, bytes_field(2, bytes_field(18, ""))));
  ProtobufObject o = decode_protobuf_object(body("apps/v1", "Deployment", raw));
  EXPECT_EQ(o.problem, ProtobufProblem::Unsupported);
  EXPECT_EQ(
      o.message,
      "ticketctl cannot read field 18 of core.v1.PodSpec (at spec.template.spec) in protobuf");

  o = decode_protobuf_object(body("v1", "Secret", bytes_field(9, "x")));
  EXPECT_EQ(o.problem, ProtobufProblem::Unsupported);
  EXPECT_EQ(o.message, "ticketctl cannot read field 9 of core.v1.Secret in protobuf");

  o = decode_protobuf_object(body("v1", "PersistentVolumeClaim", ""));
  EXPECT_EQ(o.problem, ProtobufProblem::Unsupported);
  EXPECT_EQ(o.message, "ticketctl cannot read a v1 PersistentVolumeClaim in protobuf");

  o = decode_protobuf_object(body("v1", "Secret", "", bytes_field(3, "gzip")));
  EXPECT_EQ(o.problem, ProtobufProblem::Unsupported);
  EXPECT_EQ(o.message, "ticketctl cannot read a protobuf body with content encoding \"gzip\"");
}

TEST(Protobuf, GarbledBodiesAreMalformedWithAReason) {
  auto problem = [](const std::string& b) { return decode_protobuf_object(b); };
  ProtobufObject o = problem("{\"kind\": \"Secret\"}");
  EXPECT_EQ(o.problem, ProtobufProblem::Malformed);
  EXPECT_EQ(o.message,
            "the protobuf body is malformed: it does not start with Kubernetes' "
            "protobuf prefix \"k8s\\x00\"");

  o = problem(body("v1", "Secret", varint_field(1, 7)));  // metadata as a number
  EXPECT_EQ(o.problem, ProtobufProblem::Malformed);
  EXPECT_EQ(o.message,
            "the protobuf body is malformed: metadata (field 1 of core.v1.Secret) has "
            "wire type varint, expected length-delimited");

  o = problem(body("v1", "ConfigMap", bytes_field(2, entry("k", "\xff\xfe"))));
  EXPECT_EQ(o.problem, ProtobufProblem::Malformed);
  EXPECT_EQ(o.message,
            "the protobuf body is malformed: data[\"k\"] (field 2 of core.v1.ConfigMap) "
            "is not valid UTF-8");

  o = problem(body("v1", "Secret",
                   bytes_field(1,
                               "\x0a\x05"
                               "ab")));  // name longer than its bytes
  EXPECT_EQ(o.problem, ProtobufProblem::Malformed);
  EXPECT_EQ(o.message,
            "the protobuf body is malformed: field 1 runs past its end in "
            "meta.v1.ObjectMeta (at metadata)");

  o = problem(std::string("k8s\0", 4) +
              bytes_field(1, bytes_field(1, "v1") + bytes_field(2, "Secret")));
  EXPECT_EQ(o.problem, ProtobufProblem::Malformed);
  EXPECT_EQ(o.message,
            "the protobuf body is malformed: runtime.Unknown carries no object (its field 2)");

  o = problem(std::string("k8s\0", 4) + bytes_field(2, ""));
  EXPECT_EQ(o.problem, ProtobufProblem::Malformed);
  EXPECT_EQ(o.message,
            "the protobuf body is malformed: runtime.Unknown names no apiVersion and kind");
}

TEST(Protobuf, EveryTruncationIsMalformedOrTheSameObject) {
  for (const char* name : kFixtures) {
    const std::string full = fixture(name);
    const Json whole = decoded(full);
    for (size_t n = 0; n < full.size(); ++n) {
      ProtobufObject o = decode_protobuf_object(std::string_view(full).substr(0, n));
      // Only the empty trailing contentEncoding and contentType fields can go unnoticed.
      if (o.ok())
        EXPECT_EQ(o.object, whole) << name << " cut to " << n;
      else
        EXPECT_EQ(o.problem, ProtobufProblem::Malformed) << name << " cut to " << n;
    }
  }
}

TEST(Protobuf, BitFlipsAndRandomDamageNeverCrash) {
  std::mt19937 random(20240611);
  size_t decoded_ok = 0, refused = 0;
  auto check = [&](const std::string& b) {
    ProtobufObject o = decode_protobuf_object(b);
    if (o.ok()) {
      ++decoded_ok;
      EXPECT_NO_THROW((void)o.object.dump()) << b.size();
    } else {
      ++refused;
      EXPECT_FALSE(o.message.empty());
    }
  };
  for (const char* name : kFixtures) {
    const std::string full = fixture(name);
    for (size_t i = 0; i < full.size(); ++i)
      for (int bit = 0; bit < 8; ++bit) {
        std::string b = full;
        b[i] = static_cast<char>(b[i] ^ (1 << bit));
        check(b);
      }
    for (int round = 0; round < 300; ++round) {
      std::string b = full;
      const int edits = 1 + static_cast<int>(random() % 4);
      for (int e = 0; e < edits && !b.empty(); ++e) {
        const size_t at = random() % b.size();
        switch (random() % 3) {
          case 0:
            b[at] = static_cast<char>(random());
            break;
          case 1:
            b.erase(at, 1 + random() % 8);
            break;
          default:
            b.insert(at, std::string(1 + random() % 8, static_cast<char>(random())));
        }
      }
      check(b);
    }
  }
  EXPECT_GT(decoded_ok, 0u);  // flips inside names and values still decode
  EXPECT_GT(refused, 0u);
}

// The API handler answers protobuf creates like JSON ones, and its refusals say what to do.
TEST(ProtobufApi, CreatesFromProtobufAndRefusesWithAReason) {
  ticketctl::testing::TempDir tmp("ticketctl-protobuf");
  auto opened = store::Store::open(tmp.path() / "state.db");
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  store::Shared shared(std::move(opened.value()));
  ApiHandler handler(shared, nullptr, "127.0.0.1:6443");
  auto post = [&](const std::string& path, const std::string& b) {
    return handler.handle({"POST",
                           path,
                           {},
                           b,
                           std::string(kProtobufMediaType),
                           "application/vnd.kubernetes.protobuf,application/json"});
  };
  Response ns = post("/api/v1/namespaces",
                     body("v1", "Namespace", bytes_field(1, bytes_field(1, "default"))));
  ASSERT_TRUE(ns.status == 201 || ns.status == 409) << ns.body.dump();

  Response created = post("/api/v1/namespaces/default/secrets", fixture("secret-generic.pb"));
  ASSERT_EQ(created.status, 201) << created.body.dump();
  EXPECT_EQ(created.body["data"]["JWT_KEY"], "YXNkZg==");
  EXPECT_FALSE(created.body["metadata"]["uid"].get<std::string>().empty());

  // An update (PUT) reads protobuf the same way.
  const std::string changed =
      body("v1", "Secret",
           bytes_field(1, bytes_field(1, "jwt-secret")) + bytes_field(2, entry("JWT_KEY", "qwer")));
  Response updated = handler.handle({"PUT",
                                     "/api/v1/namespaces/default/secrets/jwt-secret",
                                     {},
                                     changed,
                                     std::string(kProtobufMediaType),
                                     "application/json"});
  ASSERT_EQ(updated.status, 200) << updated.body.dump();
  EXPECT_EQ(updated.body["data"]["JWT_KEY"], "cXdlcg==");

  const std::string affinity = bytes_field(2, bytes_field(3, bytes_field(2, bytes_field(18, ""))));
  Response refused =
      post("/apis/apps/v1/namespaces/default/deployments", body("apps/v1", "Deployment", affinity));
  EXPECT_EQ(refused.status, 415);
  EXPECT_EQ(refused.body["reason"], "UnsupportedMediaType");
  EXPECT_EQ(
      refused.body["message"],
      "ticketctl cannot read field 18 of core.v1.PodSpec (at spec.template.spec) in protobuf; "
      "send the object as JSON instead: end the kubectl command with `--dry-run=client -o "
      "yaml | kubectl apply -f -`, or use `ticketctl create`");

  const std::string cut = fixture("secret-generic.pb").substr(0, 30);
  Response garbled = post("/api/v1/namespaces/default/secrets", cut);
  EXPECT_EQ(garbled.status, 400);
  EXPECT_EQ(garbled.body["reason"], "BadRequest");
}

}  // namespace
}  // namespace ticketctl::api
