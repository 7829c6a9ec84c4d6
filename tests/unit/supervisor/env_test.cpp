#include "runtime/supervisor/env.h"

#include <gtest/gtest.h>

#include <map>

namespace ticketctl::supervisor {
namespace {

Json pod() {
  return Json::parse(R"js({"metadata": {"name": "auth-depl-7c9d-abcde", "namespace": "default",
                                      "uid": "u-1", "labels": {"app": "auth"}},
                         "spec": {"containers": []},
                         "status": {"podIP": "127.80.0.9"}})js");
}

struct Fixture {
  std::map<std::string, Json> objects;  // "secrets/default/jwt-secret" -> object
  Json pod_json = pod();
  Json container;
  EnvInputs inputs() {
    EnvInputs in;
    in.pod = &pod_json;
    in.container = &container;
    in.lookup = [this](const std::string& r, const std::string& ns,
                       const std::string& name) -> std::optional<Json> {
      auto it = objects.find(r + "/" + ns + "/" + name);
      if (it == objects.end()) return std::nullopt;
      return it->second;
    };
    return in;
  }
};

std::string value_of(const EnvList& env, const std::string& name) {
  for (const auto& [k, v] : env)
    if (k == name) return v;
  return "<unset>";
}

TEST(Env, SecretKeyRefDecodesAndAMissingSecretIsTheKubeletsError) {
  Fixture f;
  f.container = Json::parse(R"js({"name": "auth", "env": [{"name": "JWT_KEY", "valueFrom":
      {"secretKeyRef": {"name": "jwt-secret", "key": "JWT_KEY"}}}]})js");
  Result<EnvList> missing = resolve_env(f.inputs());
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().message, "secret \"jwt-secret\" not found");

  f.objects["secrets/default/jwt-secret"] = Json::parse(R"js({"data": {"OTHER": "eA=="}})js");
  Result<EnvList> no_key = resolve_env(f.inputs());
  ASSERT_FALSE(no_key.ok());
  EXPECT_EQ(no_key.error().message, "couldn't find key JWT_KEY in Secret default/jwt-secret");

  f.objects["secrets/default/jwt-secret"] = Json::parse(R"js({"data": {"JWT_KEY": "YXNkZg=="}})js");
  Result<EnvList> ok = resolve_env(f.inputs());
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(value_of(ok.value(), "JWT_KEY"), "asdf");
}

TEST(Env, OptionalReferencesMayBeMissing) {
  Fixture f;
  f.container = Json::parse(R"js({"name": "c", "env": [
      {"name": "A", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "a", "optional": true}}},
      {"name": "B", "value": "b"}],
      "envFrom": [{"secretRef": {"name": "nope", "optional": true}}]})js");
  Result<EnvList> env = resolve_env(f.inputs());
  ASSERT_TRUE(env.ok()) << env.error().message;
  EXPECT_EQ(value_of(env.value(), "A"), "<unset>");
  EXPECT_EQ(value_of(env.value(), "B"), "b");
}

TEST(Env, PrecedenceIsImageThenServicesThenEnvFromThenEnv) {
  Fixture f;
  f.objects["configmaps/default/cm"] =
      Json::parse(R"js({"data": {"MODE": "from-configmap", "LEVEL": "3", "1BAD": "x"}})js");
  f.container = Json::parse(R"js({"name": "c",
      "envFrom": [{"configMapRef": {"name": "cm"}}, {"prefix": "CM_", "configMapRef": {"name": "cm"}}],
      "env": [{"name": "MODE", "value": "from-env"}, {"name": "URL", "value": "http://$(HOST):$(LEVEL)/$$(LEVEL)/$(NOPE)"},
              {"name": "HOST", "value": "late"}]})js");
  EnvInputs in = f.inputs();
  in.image_env = {{"MODE", "from-image"}, {"NODE_ENV", "production"}};
  in.service_env = {{"HOST", "from-service"}};
  Result<EnvList> env = resolve_env(in);
  ASSERT_TRUE(env.ok());
  EXPECT_EQ(value_of(env.value(), "MODE"), "from-env");
  EXPECT_EQ(value_of(env.value(), "NODE_ENV"), "production");
  EXPECT_EQ(value_of(env.value(), "CM_LEVEL"), "3");
  EXPECT_EQ(value_of(env.value(), "1BAD"), "<unset>");  // not a valid name: skipped
  // Expansion sees what is defined before the variable, not after.
  EXPECT_EQ(value_of(env.value(), "URL"), "http://from-service:3/$(LEVEL)/$(NOPE)");
  EXPECT_EQ(value_of(env.value(), "HOST"), "late");
}

TEST(Env, FieldAndResourceFieldRefs) {
  Fixture f;
  f.container = Json::parse(R"js({"name": "c", "resources": {"limits": {"memory": "256Mi", "cpu": "500m"}},
    "env": [
      {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
      {"name": "POD_NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
      {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
      {"name": "APP", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
      {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
      {"name": "MEM_MI", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1Mi"}}},
      {"name": "CPU", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu"}}},
      {"name": "CPU_M", "valueFrom": {"resourceFieldRef": {"resource": "requests.cpu", "divisor": "1m"}}}]})js");
  Result<EnvList> env = resolve_env(f.inputs());
  ASSERT_TRUE(env.ok()) << env.error().message;
  EXPECT_EQ(value_of(env.value(), "POD_NAME"), "auth-depl-7c9d-abcde");
  EXPECT_EQ(value_of(env.value(), "POD_NS"), "default");
  EXPECT_EQ(value_of(env.value(), "POD_IP"), "127.80.0.9");
  EXPECT_EQ(value_of(env.value(), "APP"), "auth");
  EXPECT_EQ(value_of(env.value(), "NODE"), "localhost");
  EXPECT_EQ(value_of(env.value(), "MEM_MI"), "256");
  EXPECT_EQ(value_of(env.value(), "CPU"), "1");       // rounded up, as the kubelet does
  EXPECT_EQ(value_of(env.value(), "CPU_M"), "500");  // a request defaults to the limit
}

TEST(Env, ServiceLinksAsKubernetesNamesThem) {
  const Json svc = Json::parse(R"js({"metadata": {"name": "auth-mongo-srv"}, "spec": {
      "clusterIP": "127.96.0.4", "ports": [{"name": "db", "port": 27017, "protocol": "TCP"}]}})js");
  const EnvList env = service_link_env(svc);
  EXPECT_EQ(value_of(env, "AUTH_MONGO_SRV_SERVICE_HOST"), "127.96.0.4");
  EXPECT_EQ(value_of(env, "AUTH_MONGO_SRV_SERVICE_PORT"), "27017");
  EXPECT_EQ(value_of(env, "AUTH_MONGO_SRV_SERVICE_PORT_DB"), "27017");
  EXPECT_EQ(value_of(env, "AUTH_MONGO_SRV_PORT"), "tcp://127.96.0.4:27017");
  EXPECT_EQ(value_of(env, "AUTH_MONGO_SRV_PORT_27017_TCP_ADDR"), "127.96.0.4");
  EXPECT_TRUE(service_link_env(Json::parse(R"js({"metadata": {"name": "h"},
      "spec": {"clusterIP": "None", "ports": [{"port": 1}]}})js")).empty());
}

}  // namespace
}  // namespace ticketctl::supervisor
