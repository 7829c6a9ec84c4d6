// The scale subresource of Deployments and ReplicaSets, as `kubectl scale` and an HPA read it.

#include <gtest/gtest.h>

#include <utility>

#include "runtime/api/handler.h"
#include "runtime/store/shared.h"
#include "runtime/api/selector.h"
#include "tests/support/temp_dir.h"

namespace ticketctl::api {
namespace {

TEST(ScaleSubresource, StatusSelectorCarriesMatchExpressions) {
  ticketctl::testing::TempDir tmp("ticketctl-scale");
  auto opened = store::Store::open(tmp.path() / "state.db");
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  store::Shared shared(std::move(opened.value()));
  ApiHandler handler(shared, nullptr, "127.0.0.1:6443");
  Response ns = handler.handle({"POST",
                                "/api/v1/namespaces",
                                {},
                                R"({"apiVersion": "v1", "kind": "Namespace",
                                    "metadata": {"name": "default"}})",
                                "application/json",
                                "application/json"});
  ASSERT_TRUE(ns.status == 201 || ns.status == 409) << ns.body.dump();
  const Json deployment = Json::parse(R"({
    "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "posts"},
    "spec": {"replicas": 2,
      "selector": {"matchLabels": {"app": "posts"},
                   "matchExpressions": [{"key": "tier", "operator": "In", "values": ["web", "api"]},
                                        {"key": "canary", "operator": "DoesNotExist"}]},
      "template": {"metadata": {"labels": {"app": "posts", "tier": "api"}},
                   "spec": {"containers": [{"name": "posts", "image": "posts:1"}]}}}})");
  Response created = handler.handle({"POST",
                                     "/apis/apps/v1/namespaces/default/deployments",
                                     {},
                                     deployment.dump(),
                                     "application/json",
                                     "application/json"});
  ASSERT_EQ(created.status, 201) << created.body.dump();

  Response scale = handler.handle({"GET",
                                   "/apis/apps/v1/namespaces/default/deployments/posts/scale",
                                   {},
                                   "",
                                   "",
                                   "application/json"});
  ASSERT_EQ(scale.status, 200) << scale.body.dump();
  EXPECT_EQ(scale.body["kind"], "Scale");
  EXPECT_EQ(scale.body["spec"]["replicas"], 2);
  const std::string selector = scale.body["status"]["selector"].get<std::string>();
  EXPECT_EQ(selector, "app=posts,!canary,tier in (api,web)");
  // An HPA lists pods with it: the template's pods are selected, a canary is not.
  Result<Selector> parsed = parse_label_selector(selector);
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_TRUE(matches(parsed.value(), Json::parse(R"({"app": "posts", "tier": "api"})")));
  EXPECT_FALSE(
      matches(parsed.value(), Json::parse(R"({"app": "posts", "tier": "api", "canary": "1"})")));
  EXPECT_FALSE(matches(parsed.value(), Json::parse(R"({"app": "posts", "tier": "db"})")));
}

}  // namespace
}  // namespace ticketctl::api
