// The tap's side of the relay: targets become the pods and Services the data plane routes
// through the observing relay, and what the relay saw becomes an exchange naming its pods.

#include "runtime/daemon/tap_relay.h"

#include <gtest/gtest.h>

#include <set>
#include <tuple>

#include "tests/support/temp_dir.h"

namespace ticketctl::daemon {
namespace {

class TapRelayUnit : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = store::Store::open(tmp_.path() / "state.db");
    ASSERT_TRUE(opened.ok()) << opened.error().message;
    store_ = std::move(opened.value());
    ASSERT_TRUE(store_
                    ->create("replicasets.apps",
                             Json{{"apiVersion", "apps/v1"},
                                  {"kind", "ReplicaSet"},
                                  {"metadata",
                                   {{"name", "event-bus-depl-5c"},
                                    {"namespace", "default"},
                                    {"ownerReferences",
                                     {{{"kind", "Deployment"}, {"name", "event-bus-depl"}}}}}}})
                    .ok());
    for (const auto& [name, ip, rs] :
         {std::tuple{"event-bus-depl-5c-aaaaa", "127.80.0.2", "event-bus-depl-5c"},
          std::tuple{"event-bus-depl-5c-bbbbb", "127.80.0.3", "event-bus-depl-5c"},
          std::tuple{"posts", "127.80.0.4", ""}}) {
      Json pod{{"apiVersion", "v1"},
               {"kind", "Pod"},
               {"metadata", {{"name", name}, {"namespace", "default"}}},
               {"status", {{"podIP", ip}}}};
      if (*rs) pod["metadata"]["ownerReferences"] = {{{"kind", "ReplicaSet"}, {"name", rs}}};
      ASSERT_TRUE(store_->create("pods", pod).ok());
    }
    peers_.rebuild(*store_);
  }
  ticketctl::testing::TempDir tmp_{"ticketctl-tap-relay"};
  std::unique_ptr<store::Store> store_;
  TapPeers peers_;
};

TEST_F(TapRelayUnit, TargetsBecomeTheServicesAndPodsTheRelayObserves) {
  using K = tap::Target::Kind;
  EXPECT_TRUE(tap_selection({{K::Ingress, "", ""}}, *store_, peers_).empty());
  const net::TapSelection deploy =
      tap_selection({{K::Deployment, "default", "event-bus-depl"}}, *store_, peers_);
  EXPECT_EQ(deploy.pods, (std::set<std::string>{"default/event-bus-depl-5c-aaaaa",
                                                "default/event-bus-depl-5c-bbbbb"}));
  EXPECT_TRUE(deploy.services.empty());
  const net::TapSelection mixed = tap_selection(
      {{K::Service, "default", "query-srv"}, {K::Pod, "default", "posts"}}, *store_, peers_);
  EXPECT_EQ(mixed.services, (std::set<std::string>{"default/query-srv"}));
  EXPECT_EQ(mixed.pods, (std::set<std::string>{"default/posts"}));
  EXPECT_TRUE(tap_selection({{K::All, "", ""}}, *store_, peers_).all);
  EXPECT_TRUE(
      tap_selection({{K::Deployment, "default", "nothing-depl"}}, *store_, peers_).empty());
}

TEST_F(TapRelayUnit, AnObservedExchangeNamesItsPodsAndService) {
  net::ObservedExchange seen;
  seen.tag = "default/event-bus-srv";
  seen.client_ip = "127.80.0.4";
  seen.client_port = 41000;
  seen.backend_ip = "127.80.0.3";
  seen.backend_port = 4005;
  seen.method = "POST";
  seen.path = "/events";
  seen.status = 200;
  seen.request_body = R"({"type":"PostCreated"})";
  const tap::Exchange e = relay_exchange(std::move(seen), peers_);
  EXPECT_EQ(e.via, tap::Exchange::Via::Relay);
  EXPECT_EQ(e.source.pod, "default/posts");
  EXPECT_EQ(e.source.port, 41000);
  EXPECT_EQ(e.destination.pod, "default/event-bus-depl-5c-bbbbb");
  EXPECT_EQ(e.destination.workload, "default/event-bus-depl");
  EXPECT_EQ(e.destination.service, "default/event-bus-srv");
  EXPECT_EQ(e.method, "POST");
  EXPECT_EQ(e.request_body, R"({"type":"PostCreated"})");
  EXPECT_TRUE(tap::matches({tap::Target::Kind::Deployment, "default", "event-bus-depl"}, e));
  EXPECT_FALSE(tap::matches({tap::Target::Kind::Service, "default", "query-srv"}, e));
}

TEST_F(TapRelayUnit, ThePublisherPublishesOnlyWhileSomebodyTapsAndCapturesBodiesOnRequest) {
  tap::Hub hub;
  const net::ExchangeObserver o = relay_publisher(hub, peers_);
  EXPECT_FALSE(o.want_bodies());
  EXPECT_EQ(o.body_limit, tap::kBodyLimit);
  net::ObservedExchange seen;
  seen.backend_ip = "127.80.0.2";
  o.report(net::ObservedExchange(seen));  // nobody taps: dropped
  auto sub = hub.subscribe({tap::Target::Kind::Deployment, "default", "event-bus-depl"}, true);
  EXPECT_TRUE(o.want_bodies());
  o.report(net::ObservedExchange(seen));
  const std::vector<tap::Exchange> got = sub->wait(std::chrono::milliseconds(1000));
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].destination.pod, "default/event-bus-depl-5c-aaaaa");
}

}  // namespace
}  // namespace ticketctl::daemon
