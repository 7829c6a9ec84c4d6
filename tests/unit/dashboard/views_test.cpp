// The dashboard's snapshot, through the API handler as the page's server reads it.

#include "runtime/dashboard/views.h"

#include <gtest/gtest.h>

#include <utility>

#include "runtime/api/handler.h"
#include "runtime/store/shared.h"
#include "tests/support/temp_dir.h"

namespace ticketctl::dashboard {
namespace {

// A Deployment's pods are those its whole selector picks: a pod that has the matchLabels but
// fails a matchExpressions requirement is not drawn under it.
TEST(DashboardSnapshot, DeploymentPodsFollowMatchExpressions) {
  ticketctl::testing::TempDir tmp("ticketctl-views");
  auto opened = store::Store::open(tmp.path() / "state.db");
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  store::Shared shared(std::move(opened.value()));
  api::ApiHandler handler(shared, nullptr, "127.0.0.1:6443");
  auto post = [&](const std::string& path, const std::string& body) {
    const api::Response r =
        handler.handle({"POST", path, {}, body, "application/json", "application/json"});
    EXPECT_TRUE(r.status == 201 || r.status == 409) << path << ": " << r.body.dump();
  };
  post("/api/v1/namespaces", R"({"apiVersion": "v1", "kind": "Namespace",
                                "metadata": {"name": "default"}})");
  post("/apis/apps/v1/namespaces/default/deployments", R"({
    "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "posts"},
    "spec": {"selector": {"matchLabels": {"app": "posts"},
                          "matchExpressions": [{"key": "track", "operator": "NotIn",
                                                "values": ["canary"]}]},
      "template": {"metadata": {"labels": {"app": "posts"}},
                   "spec": {"containers": [{"name": "posts", "image": "posts:1"}]}}}})");
  for (const char* pod :
       {R"({"name": "posts-stable", "labels": {"app": "posts"}})",
        R"({"name": "posts-canary", "labels": {"app": "posts", "track": "canary"}})",
        R"({"name": "users-a", "labels": {"app": "users"}})"}) {
    Json p = {{"apiVersion", "v1"},
              {"kind", "Pod"},
              {"metadata", Json::parse(pod)},
              {"spec", {{"containers", {{{"name", "c"}, {"image", "posts:1"}}}}}}};
    post("/api/v1/namespaces/default/pods", p.dump());
  }
  const Json snap = snapshot(
      handler, [](const Json&, const std::string&, bool) { return std::vector<std::string>{}; });
  ASSERT_EQ(snap["deployments"].size(), 1u) << snap.dump();
  EXPECT_EQ(snap["deployments"][0]["pods"], Json::array({"posts-stable"}));
  EXPECT_EQ(snap["pods"].size(), 3u);
}

}  // namespace
}  // namespace ticketctl::dashboard
