#include "cli/describe.h"

#include <gtest/gtest.h>

namespace ticketctl::cli {
namespace {

TEST(Describe, SecretsShowSizesNeverValues) {
  const Json secret = Json::parse(R"({"apiVersion": "v1", "kind": "Secret",
    "metadata": {"name": "jwt-secret", "namespace": "default", "creationTimestamp": "2026-11-25T22:06:16Z"},
    "type": "Opaque", "data": {"JWT_KEY": "YXNkZg=="}, "stringData": {"EXTRA": "plain"}})");
  const std::string out = describe("Secret", secret, {});
  EXPECT_NE(out.find("Name:               jwt-secret\n"), std::string::npos) << out;
  EXPECT_NE(out.find("CreationTimestamp:  Wed, 25 Nov 2026 22:06:16 +0000\n"), std::string::npos)
      << out;
  EXPECT_NE(out.find("JWT_KEY:  4 bytes\n"), std::string::npos) << out;
  EXPECT_NE(out.find("EXTRA:    5 bytes\n"), std::string::npos) << out;
  EXPECT_EQ(out.find("YXNkZg"), std::string::npos);
  EXPECT_EQ(out.find("asdf"), std::string::npos);
  EXPECT_EQ(out.find("plain"), std::string::npos);
  EXPECT_TRUE(out.ends_with("Events:             <none>\n") || out.ends_with("Events:   <none>\n"))
      << out;
}

TEST(Describe, DeploymentShowsReplicasTemplateEnvSourcesAndReplicaSets) {
  const Json d = Json::parse(R"({"apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "auth-depl", "namespace": "default", "uid": "u1"},
    "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "auth"}},
      "template": {"metadata": {"labels": {"app": "auth"}}, "spec": {"containers": [
        {"name": "auth", "image": "yourname/auth", "ports": [{"containerPort": 3000}],
         "env": [{"name": "JWT_KEY", "valueFrom": {"secretKeyRef": {"name": "jwt-secret", "key": "JWT_KEY"}}},
                 {"name": "MONGO_URI", "value": "mongodb://auth-mongo-srv:27017/auth"}]}]}}},
    "status": {"replicas": 2, "updatedReplicas": 2, "unavailableReplicas": 2}})");
  Related related;
  related.replicasets.push_back(Json::parse(R"({"metadata": {"name": "auth-depl-abc"},
      "spec": {"replicas": 2}, "status": {"replicas": 2}})"));
  related.events.push_back(Json::parse(R"({"type": "Normal", "reason": "ScalingReplicaSet",
      "source": {"component": "deployment-controller"},
      "message": "Scaled up replica set auth-depl-abc to 2"})"));
  const std::string out = describe("Deployment", d, related);
  EXPECT_NE(out.find("Replicas:               2 desired | 2 updated | 2 total | 0 available | 2 "
                     "unavailable\n"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("Selector:               app=auth\n"), std::string::npos) << out;
  EXPECT_NE(
      out.find("JWT_KEY:    <set to the key 'JWT_KEY' in secret 'jwt-secret'>  Optional: false\n"),
      std::string::npos)
      << out;
  EXPECT_NE(out.find("    Port:   3000/TCP\n"), std::string::npos) << out;
  EXPECT_NE(out.find("NewReplicaSet:   auth-depl-abc (2/2 replicas created)\n"), std::string::npos)
      << out;
  EXPECT_NE(out.find("  Normal  ScalingReplicaSet  deployment-controller  Scaled up replica set "
                     "auth-depl-abc to 2\n"),
            std::string::npos)
      << out;
}

TEST(Describe, ServiceShowsPortsAndNodePorts) {
  const Json s = Json::parse(R"({"metadata": {"name": "posts-srv", "namespace": "default"},
    "spec": {"type": "NodePort", "selector": {"app": "posts"},
             "ports": [{"name": "posts", "port": 4000, "targetPort": 4000, "nodePort": 30080}]}})");
  const std::string out = describe("Service", s, {});
  EXPECT_NE(out.find("Type:               NodePort\n"), std::string::npos) << out;
  EXPECT_NE(out.find("Port:               posts  4000/TCP\n"), std::string::npos) << out;
  EXPECT_NE(out.find("NodePort:           posts  30080/TCP\n"), std::string::npos) << out;
}

}  // namespace
}  // namespace ticketctl::cli
