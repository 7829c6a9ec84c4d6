#include "runtime/manifest/legacy.h"

#include <gtest/gtest.h>

namespace ticketctl::manifest {
namespace {

TEST(ConvertLegacyIngress, MapsServiceNameAndPortAndDefaultsPathType) {
  Json legacy = Json::parse(R"({
    "apiVersion": "networking.k8s.io/v1beta1", "kind": "Ingress",
    "metadata": {"name": "ingress-srv", "annotations": {"kubernetes.io/ingress.class": "nginx"}},
    "spec": {
      "backend": {"serviceName": "client-srv", "servicePort": 3000},
      "rules": [{"host": "posts.com", "http": {"paths": [
        {"path": "/posts/?(.*)/comments", "backend": {"serviceName": "comments-srv", "servicePort": 4001}},
        {"path": "/", "pathType": "Prefix", "backend": {"serviceName": "client-srv", "servicePort": "http"}}
      ]}}]
    }})");
  Json v1 = convert_legacy_ingress(legacy);
  EXPECT_EQ(v1["apiVersion"], "networking.k8s.io/v1");
  EXPECT_EQ(v1["metadata"], legacy["metadata"]);
  EXPECT_FALSE(v1["spec"].contains("backend"));
  EXPECT_EQ(v1["spec"]["defaultBackend"],
            Json::parse(R"({"service": {"name": "client-srv", "port": {"number": 3000}}})"));
  const Json& paths = v1["spec"]["rules"][0]["http"]["paths"];
  EXPECT_EQ(paths[0], Json::parse(R"({"path": "/posts/?(.*)/comments",
      "pathType": "ImplementationSpecific",
      "backend": {"service": {"name": "comments-srv", "port": {"number": 4001}}}})"));
  EXPECT_EQ(paths[1]["pathType"], "Prefix");
  EXPECT_EQ(paths[1]["backend"]["service"]["port"], Json::parse(R"({"name": "http"})"));
  // Keys keep the order they were written in.
  EXPECT_EQ(v1.begin().key(), "apiVersion");
  EXPECT_EQ(paths[0].begin().key(), "path");
}

}  // namespace
}  // namespace ticketctl::manifest
