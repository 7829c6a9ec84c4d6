#include "runtime/api/openapi.h"

#include <gtest/gtest.h>

namespace ticketctl::api {
namespace {

// What client-go's openapi3 root and cli-runtime's query parameter verifier read: the index
// names each group/version, and each resource's PATCH declares the kind and fieldValidation.
TEST(OpenApiV3, IndexPointsAtEveryServedGroupVersionWithAHash) {
  const Json index = openapi_v3_index();
  // The legacy Ingress versions too: kubectl validates on the server only where it finds them.
  for (const char* key : {"api/v1", "apis/apps/v1", "apis/networking.k8s.io/v1",
                          "apis/discovery.k8s.io/v1", "apis/coordination.k8s.io/v1",
                          "apis/networking.k8s.io/v1beta1", "apis/extensions/v1beta1"}) {
    const std::string url = index["paths"][key].value("serverRelativeURL", "");
    EXPECT_TRUE(url.starts_with(std::string("/openapi/v3/") + key + "?hash=")) << key << url;
    EXPECT_TRUE(openapi_v3_document(key).has_value()) << key;
  }
  EXPECT_EQ(index["paths"].size(), 7u);
  EXPECT_EQ(openapi_v3_index(), index);  // stable: clients cache by this URL
  EXPECT_FALSE(openapi_v3_document("apis/batch/v1").has_value());
}

TEST(OpenApiV3, PatchOperationsDeclareTheirKindAndFieldValidation) {
  const Json doc = *openapi_v3_document("apis/apps/v1");
  const Json& patch =
      doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"];
  EXPECT_EQ(patch["x-kubernetes-group-version-kind"],
            Json({{"group", "apps"}, {"version", "v1"}, {"kind", "Deployment"}}));
  ASSERT_EQ(patch["parameters"].size(), 1u);
  EXPECT_EQ(patch["parameters"][0]["name"], "fieldValidation");
  EXPECT_EQ(patch["parameters"][0]["in"], "query");
  // No request body: kubectl then computes apply patches from its own built-in types instead of
  // asking for component schemas the server does not publish.
  EXPECT_FALSE(patch.contains("requestBody"));
  EXPECT_EQ(doc["components"]["schemas"], Json::object());

  const Json core = *openapi_v3_document("api/v1");
  EXPECT_EQ(core["paths"]["/api/v1/namespaces/{name}"]["patch"]["x-kubernetes-group-version-kind"]
                ["kind"],
            "Namespace");  // cluster-scoped: no namespace segment
  EXPECT_TRUE(core["paths"].contains("/api/v1/namespaces/{namespace}/configmaps/{name}"));
  EXPECT_FALSE(core["paths"].contains("/api/v1/namespaces/{namespace}/deployments/{name}"));
}

}  // namespace
}  // namespace ticketctl::api
