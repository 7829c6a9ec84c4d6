#include "runtime/net/allocator.h"

#include <gtest/gtest.h>

#include <set>

#include "runtime/controllers/endpoints.h"
#include "runtime/net/dataplane.h"
#include "tests/support/temp_dir.h"

namespace ticketctl::net {
namespace {

class ServiceAddresses : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = std::move(store::Store::open(dir_.path() / "state.db").value());
    store_->set_admission([](store::Store& s, const std::string& resource, Json& object,
                             const Json* old) -> Result<bool> {
      if (resource != "services") return true;
      return admit_service(s, ServiceRange{}, object, old);
    });
  }
  static Json service(const std::string& name, const std::string& extra = "") {
    return Json::parse(R"({"apiVersion": "v1", "kind": "Service", "metadata": {"name": ")" + name +
                       R"(", "namespace": "default"}, "spec": {"selector": {"app": ")" + name +
                       R"("}, "ports": [{"name": "http", "port": 80, "targetPort": "web"}])" +
                       extra + "}}");
  }
  std::string cluster_ip(const std::string& name) {
    return store_->get({"services", "default", name}).value()["spec"]["clusterIP"];
  }
  testing::TempDir dir_{"allocator"};
  std::unique_ptr<store::Store> store_;
};

TEST_F(ServiceAddresses, ClusterIpsComeFromTheRangeStayAcrossAppliesAndAreReleased) {
  ASSERT_TRUE(store_->create("services", service("a")).ok());
  ASSERT_TRUE(store_->create("services", service("b")).ok());
  EXPECT_EQ(cluster_ip("a"), "127.96.0.1");
  EXPECT_EQ(cluster_ip("b"), "127.96.0.2");
  // An apply of the same manifest (no clusterIP) is unchanged and keeps the address.
  auto applied = store_->apply({{"services", service("a")}});
  ASSERT_TRUE(applied.ok());
  EXPECT_EQ(applied.value()[0].outcome, store::Outcome::Unchanged);
  EXPECT_EQ(cluster_ip("a"), "127.96.0.1");
  ASSERT_TRUE(store_->remove({"services", "default", "a"}).ok());
  ASSERT_TRUE(store_->create("services", service("c")).ok());
  EXPECT_EQ(cluster_ip("c"), "127.96.0.1");  // released on delete
}

TEST_F(ServiceAddresses, AManifestsClusterIpIsHonouredInsideTheRangeOnly) {
  ASSERT_TRUE(store_->create("services", service("a", R"(, "clusterIP": "127.96.3.3")")).ok());
  EXPECT_EQ(cluster_ip("a"), "127.96.3.3");
  auto taken = store_->create("services", service("b", R"(, "clusterIP": "127.96.3.3")"));
  ASSERT_FALSE(taken.ok());
  EXPECT_EQ(taken.error().code, ErrorCode::Invalid);
  EXPECT_NE(taken.error().message.find("provided IP is already allocated"), std::string::npos);
  auto outside = store_->create("services", service("b", R"(, "clusterIP": "10.0.0.1")"));
  ASSERT_FALSE(outside.ok());
  EXPECT_NE(outside.error().message.find("is not in the valid range"), std::string::npos);
  Json changed = service("a", R"(, "clusterIP": "127.96.3.4")");
  auto immutable = store_->update("services", changed);
  ASSERT_FALSE(immutable.ok());
  EXPECT_NE(immutable.error().message.find("field is immutable"), std::string::npos);
  ASSERT_TRUE(store_->create("services", service("h", R"(, "clusterIP": "None")")).ok());
  EXPECT_EQ(cluster_ip("h"), "None");
}

TEST_F(ServiceAddresses, NodePortsAreAllocatedKeptAndChecked) {
  ASSERT_TRUE(store_->create("services", service("a", R"(, "type": "NodePort")")).ok());
  const int port =
      store_->get({"services", "default", "a"}).value()["spec"]["ports"][0]["nodePort"];
  EXPECT_GE(port, kNodePortMin);
  EXPECT_LE(port, kNodePortMax);
  ASSERT_TRUE(store_->apply({{"services", service("a", R"(, "type": "NodePort")")}}).ok());
  EXPECT_EQ(store_->get({"services", "default", "a"}).value()["spec"]["ports"][0]["nodePort"],
            port);
  Json fixed = service("b", R"(, "type": "NodePort")");
  fixed["spec"]["ports"][0]["nodePort"] = port;
  auto taken = store_->create("services", fixed);
  ASSERT_FALSE(taken.ok());
  EXPECT_NE(taken.error().message.find("spec.ports[0].nodePort: Invalid value"), std::string::npos);
  fixed["spec"]["ports"][0]["nodePort"] = 80;
  EXPECT_FALSE(store_->create("services", fixed).ok());
}

TEST_F(ServiceAddresses, EndpointsListReadyPodsByNamedTargetPortAndFeedTheDataplane) {
  ASSERT_TRUE(store_->create("services", service("web")).ok());
  auto pod = [](const std::string& name, const std::string& ip, bool ready) {
    return Json::parse(R"({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": ")" + name +
                       R"(", "namespace": "default", "labels": {"app": "web"}}, "spec":
                       {"containers": [{"name": "c", "image": "x", "ports": [{"name": "web",
                       "containerPort": 3000}]}]}, "status": {"podIP": ")" +
                       ip + R"(", "conditions": [{"type": "Ready", "status": ")" +
                       (ready ? "True" : "False") + R"("}]}})");
  };
  ASSERT_TRUE(store_->create("pods", pod("web-1", "127.80.0.2", true)).ok());
  ASSERT_TRUE(store_->create("pods", pod("web-2", "127.80.0.3", false)).ok());
  controllers::EndpointsController endpoints(*store_);
  EXPECT_EQ(endpoints.reconcile(), 2);  // the Endpoints and its EndpointSlice
  EXPECT_EQ(endpoints.reconcile(), 0);  // level-based: nothing changed, nothing written
  const Json ep = store_->get({"endpoints", "default", "web"}).value();
  ASSERT_EQ(ep["subsets"].size(), 1u);
  EXPECT_EQ(ep["subsets"][0]["addresses"][0]["ip"], "127.80.0.2");
  EXPECT_EQ(ep["subsets"][0]["notReadyAddresses"][0]["ip"], "127.80.0.3");
  EXPECT_EQ(ep["subsets"][0]["ports"][0]["port"], 3000);

  const DataplanePlan plan = Dataplane::plan(*store_);
  ASSERT_EQ(plan.listeners.size(), 1u);
  EXPECT_EQ(plan.listeners[0].ip, "127.96.0.1");
  EXPECT_EQ(plan.listeners[0].port, 80);
  EXPECT_TRUE(plan.listeners[0].privileged);  // below 1024: relayed from an unprivileged port
  ASSERT_EQ(plan.listeners[0].backends.size(), 1u);
  EXPECT_EQ(plan.listeners[0].backends[0].ip, "127.80.0.2");
  EXPECT_EQ(plan.listeners[0].backends[0].port, 3000);
  EXPECT_EQ(plan.backends.at("default/web/http"), plan.backends.at("default/web/80"));
  // The preload library balances the ClusterIP port itself: only the ready pod is listed.
  EXPECT_EQ(plan.balanced,
            (std::vector<BalancedPort>{{"127.96.0.1", 80, false, {{"127.80.0.2", 3000}}}}));

  ASSERT_TRUE(store_->remove({"services", "default", "web"}).ok());
  EXPECT_EQ(endpoints.reconcile(), 2);
  EXPECT_FALSE(store_->get({"endpoints", "default", "web"}).ok());
  EXPECT_TRUE(store_->list("endpointslices.discovery.k8s.io", "default").empty());
}

// While a tap is active: a tapped Service's ClusterIP port leaves the preload's balancing and
// its listener observes; a tapped pod gets a `tapped` line, every listener observes, and a
// Service serving that pod is tapped too. With no tap the plan is the untapped one.
TEST_F(ServiceAddresses, TapsRouteTappedServicesAndPodsThroughTheObservingRelay) {
  ASSERT_TRUE(store_->create("services", service("web")).ok());
  ASSERT_TRUE(store_->create("services", service("api")).ok());
  auto pod = [](const std::string& name, const std::string& app, const std::string& ip) {
    return Json::parse(R"({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": ")" + name +
                       R"(", "namespace": "default", "labels": {"app": ")" + app +
                       R"("}}, "spec": {"containers": [{"name": "c", "image": "x", "ports":
                       [{"name": "web", "containerPort": 3000}]}]}, "status": {"podIP": ")" +
                       ip + R"(", "conditions": [{"type": "Ready", "status": "True"}]}})");
  };
  ASSERT_TRUE(store_->create("pods", pod("web-1", "web", "127.80.0.2")).ok());
  ASSERT_TRUE(store_->create("pods", pod("api-1", "api", "127.80.0.3")).ok());
  ASSERT_TRUE(store_->create("pods", pod("client", "none", "127.80.0.4")).ok());
  controllers::EndpointsController endpoints(*store_);
  endpoints.reconcile();
  const auto observing = [](const DataplanePlan& plan) {
    std::set<std::string> out;
    for (const auto& l : plan.listeners)
      if (l.observe) out.insert(l.service);
    return out;
  };
  const auto balanced = [](const DataplanePlan& plan) {
    std::set<std::string> out;
    for (const auto& b : plan.balanced) out.insert(b.ip);
    return out;
  };
  const std::string web = cluster_ip("web"), api = cluster_ip("api");

  const DataplanePlan untapped = Dataplane::plan(*store_);
  EXPECT_TRUE(observing(untapped).empty());
  EXPECT_EQ(balanced(untapped), (std::set<std::string>{web, api}));
  EXPECT_TRUE(untapped.tapped.empty());

  TapSelection svc;
  svc.services = {"default/web"};
  const DataplanePlan by_service = Dataplane::plan(*store_, {}, svc);
  EXPECT_EQ(observing(by_service), (std::set<std::string>{"default/web"}));
  EXPECT_EQ(balanced(by_service), (std::set<std::string>{api}));
  EXPECT_TRUE(by_service.tapped.empty());

  TapSelection client;
  client.pods = {"default/client"};
  const DataplanePlan by_client = Dataplane::plan(*store_, {}, client);
  EXPECT_EQ(by_client.tapped, (std::vector<std::string>{"127.80.0.4"}));
  EXPECT_EQ(observing(by_client), (std::set<std::string>{"default/web", "default/api"}));
  EXPECT_EQ(balanced(by_client), (std::set<std::string>{web, api}));  // others still balance

  TapSelection server;
  server.pods = {"default/api-1"};
  const DataplanePlan by_server = Dataplane::plan(*store_, {}, server);
  EXPECT_EQ(by_server.tapped, (std::vector<std::string>{"127.80.0.3"}));
  EXPECT_EQ(balanced(by_server), (std::set<std::string>{web}));  // api serves the tapped pod

  TapSelection all;
  all.all = true;
  const DataplanePlan everything = Dataplane::plan(*store_, {}, all);
  EXPECT_TRUE(everything.balanced.empty());
  EXPECT_EQ(everything.tapped.size(), 3u);
  EXPECT_EQ(observing(everything), (std::set<std::string>{"default/web", "default/api"}));
}

}  // namespace
}  // namespace ticketctl::net
