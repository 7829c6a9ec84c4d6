#include "runtime/controllers/endpoint_slices.h"

#include <gtest/gtest.h>

namespace ticketctl::controllers {
namespace {

const Json kEndpoints = Json::parse(R"({"apiVersion": "v1", "kind": "Endpoints",
  "metadata": {"name": "auth-srv", "namespace": "default"},
  "subsets": [{"addresses": [{"ip": "127.80.0.2", "nodeName": "localhost",
                              "targetRef": {"kind": "Pod", "name": "auth-1", "uid": "u1"}}],
               "notReadyAddresses": [{"ip": "127.80.0.3"}],
               "ports": [{"name": "http", "port": 3000, "protocol": "TCP"}]}]})");

TEST(EndpointSlices, MirrorASubsetWithConditionsAndNamedPorts) {
  const Json service = Json::parse(R"({"metadata": {"name": "auth-srv", "uid": "s1",
    "labels": {"app": "auth"}}, "spec": {"selector": {"app": "auth"}}})");
  const std::vector<Json> slices = endpoint_slices_for(kEndpoints, &service);
  ASSERT_EQ(slices.size(), 1u);
  const Json& s = slices[0];
  EXPECT_EQ(s["apiVersion"], "discovery.k8s.io/v1");
  EXPECT_EQ(s["kind"], "EndpointSlice");
  const std::string name = s["metadata"]["name"];
  EXPECT_EQ(name.rfind("auth-srv-", 0), 0u) << name;
  EXPECT_EQ(name.size(), std::string("auth-srv-").size() + 5);
  EXPECT_EQ(s["metadata"]["labels"], Json::parse(R"({"app": "auth",
    "kubernetes.io/service-name": "auth-srv",
    "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"})"));
  EXPECT_EQ(s["metadata"]["ownerReferences"][0]["uid"], "s1");
  EXPECT_EQ(s["addressType"], "IPv4");
  EXPECT_EQ(s["endpoints"], Json::parse(R"([
    {"addresses": ["127.80.0.2"],
     "conditions": {"ready": true, "serving": true, "terminating": false},
     "nodeName": "localhost", "targetRef": {"kind": "Pod", "name": "auth-1", "uid": "u1"}},
    {"addresses": ["127.80.0.3"],
     "conditions": {"ready": false, "serving": false, "terminating": false}}])"));
  EXPECT_EQ(s["ports"], Json::parse(R"([{"name": "http", "port": 3000, "protocol": "TCP"}])"));
  // The same input names the same slice: reconciling updates it rather than adding another.
  EXPECT_EQ(endpoint_slices_for(kEndpoints, &service)[0]["metadata"]["name"], name);
}

TEST(EndpointSlices, ServicesWithoutSelectorOrEndpointsStillGetOne) {
  const std::vector<Json> mirrored = endpoint_slices_for(kEndpoints, nullptr);
  ASSERT_EQ(mirrored.size(), 1u);
  EXPECT_EQ(mirrored[0]["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"],
            "endpointslicemirroring-controller.k8s.io");
  EXPECT_FALSE(mirrored[0]["metadata"].contains("ownerReferences"));
  Json empty = kEndpoints;
  empty.erase("subsets");
  const std::vector<Json> none = endpoint_slices_for(empty, nullptr);
  ASSERT_EQ(none.size(), 1u);
  EXPECT_TRUE(none[0]["endpoints"].empty());
}

}  // namespace
}  // namespace ticketctl::controllers
