// The tap's stream: targets as the CLI takes them, what each target follows, and the hub's
// bounds (a slow reader loses the oldest, counted; bodies only for those who asked).

#include "runtime/tap/tap.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

namespace ticketctl::tap {
namespace {

using namespace std::chrono_literals;

Exchange relayed(std::string from_workload, std::string to_service, std::string to_workload) {
  Exchange e;
  e.via = Exchange::Via::Relay;
  e.source.workload = std::move(from_workload);
  e.destination.service = std::move(to_service);
  e.destination.workload = std::move(to_workload);
  e.method = "POST";
  e.path = "/events";
  e.status = 200;
  return e;
}

TEST(TapTarget, ParsesTheKindsTheCliTakes) {
  auto svc = parse_target("svc/query-srv", "default");
  ASSERT_TRUE(svc.ok()) << svc.error().message;
  EXPECT_EQ(svc.value(), (Target{Target::Kind::Service, "default", "query-srv"}));
  EXPECT_EQ(to_string(svc.value()), "svc/default/query-srv");
  EXPECT_EQ(parse_target("deployment/event-bus-depl", "blog").value(),
            (Target{Target::Kind::Deployment, "blog", "event-bus-depl"}));
  EXPECT_EQ(parse_target("po/posts-1.a", "default").value().kind, Target::Kind::Pod);
  EXPECT_EQ(parse_target("ingress", "default").value().kind, Target::Kind::Ingress);
  EXPECT_EQ(parse_target("", "default").value().kind, Target::Kind::All);
  EXPECT_EQ(to_string(parse_target("all", "default").value()), "all");
}

TEST(TapTarget, RefusesWhatIsNotATargetAndSaysWhy) {
  const auto no_kind = parse_target("query-srv", "default");
  ASSERT_FALSE(no_kind.ok());
  EXPECT_NE(no_kind.error().message.find("expected all, ingress, svc/NAME"), std::string::npos);
  const auto bad_kind = parse_target("cm/settings", "default");
  ASSERT_FALSE(bad_kind.ok());
  EXPECT_NE(bad_kind.error().message.find("unknown kind \"cm\""), std::string::npos);
  const auto bad_name = parse_target("svc/Query_Srv", "default");
  ASSERT_FALSE(bad_name.ok());
  EXPECT_NE(bad_name.error().message.find("invalid name"), std::string::npos);
  EXPECT_FALSE(parse_target("svc/", "default").ok());
  EXPECT_FALSE(parse_target("svc/query-srv", "Bad NS").ok());
}

TEST(TapTarget, MatchesWhatReachesAServiceAndWhatADeploymentSendsAndReceives) {
  const Exchange publish = relayed("default/posts-depl", "default/event-bus-srv",
                                   "default/event-bus-depl");
  const Exchange deliver = relayed("default/event-bus-depl", "default/query-srv",
                                   "default/query-depl");
  const Target bus{Target::Kind::Deployment, "default", "event-bus-depl"};
  EXPECT_TRUE(matches(bus, publish));
  EXPECT_TRUE(matches(bus, deliver));
  const Target query{Target::Kind::Service, "default", "query-srv"};
  EXPECT_FALSE(matches(query, publish));
  EXPECT_TRUE(matches(query, deliver));
  EXPECT_FALSE(matches(Target{Target::Kind::Ingress, "", ""}, deliver));
  EXPECT_TRUE(matches(Target{Target::Kind::All, "", ""}, deliver));
  Exchange via_ingress = deliver;
  via_ingress.via = Exchange::Via::Ingress;
  EXPECT_TRUE(matches(Target{Target::Kind::Ingress, "", ""}, via_ingress));
  const Target other_ns{Target::Kind::Service, "blog", "query-srv"};
  EXPECT_FALSE(matches(other_ns, deliver));
}

TEST(TapMask, HidesCredentialsAndKeepsTheRest) {
  Exchange e;
  e.request_headers = {{"Authorization", "Bearer abc"}, {"cookie", "session=1"},
                       {"Content-Type", "application/json"}};
  e.response_headers = {{"Set-Cookie", "session=2"}};
  mask_secrets(e);
  EXPECT_EQ(e.request_headers[0].second, "***");
  EXPECT_EQ(e.request_headers[1].second, "***");
  EXPECT_EQ(e.request_headers[2].second, "application/json");
  EXPECT_EQ(e.response_headers[0].second, "***");
}

TEST(TapHub, InactiveWithoutSubscribersAndTellsTheDataPlaneWhenTargetsChange) {
  Hub hub;
  int changes = 0;
  hub.on_targets_changed([&] { ++changes; });
  EXPECT_FALSE(hub.active());
  hub.publish(relayed("a", "default/query-srv", "b"));  // nobody: dropped, no sequence used
  {
    auto s1 = hub.subscribe({Target::Kind::Service, "default", "query-srv"}, false);
    EXPECT_TRUE(hub.active());
    EXPECT_FALSE(hub.wants_bodies());
    EXPECT_EQ(changes, 1);
    auto s2 = hub.subscribe({Target::Kind::Service, "default", "query-srv"}, true);
    EXPECT_TRUE(hub.wants_bodies());
    EXPECT_EQ(changes, 1);  // the same target again: nothing to re-route
    EXPECT_EQ(hub.targets().size(), 1u);
    s2.reset();
    EXPECT_EQ(changes, 1);
    EXPECT_FALSE(hub.wants_bodies());
  }
  EXPECT_EQ(changes, 2);
  EXPECT_FALSE(hub.active());
  EXPECT_TRUE(hub.targets().empty());
}

TEST(TapHub, DeliversMatchingExchangesInOrderWithBodiesOnlyToThoseWhoAsked) {
  Hub hub;
  auto plain = hub.subscribe({Target::Kind::Service, "default", "query-srv"}, false);
  auto bodies = hub.subscribe({Target::Kind::Service, "default", "query-srv"}, true);
  auto other = hub.subscribe({Target::Kind::Service, "default", "posts-srv"}, false);
  Exchange e = relayed("default/event-bus-depl", "default/query-srv", "default/query-depl");
  e.request_body = std::string(3000, 'x');
  hub.publish(e);
  hub.publish(relayed("default/event-bus-depl", "default/query-srv", "default/query-depl"));
  const auto got = bodies->wait(1s);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_LT(got[0].seq, got[1].seq);
  EXPECT_EQ(got[0].request_body.size(), kBodyLimit);
  const auto got_plain = plain->wait(1s);
  ASSERT_EQ(got_plain.size(), 2u);
  EXPECT_TRUE(got_plain[0].request_body.empty());
  EXPECT_TRUE(other->wait(0ms).empty());
}

TEST(TapHub, ASlowReaderLosesTheOldestAndCountsThem) {
  Hub hub(3);
  auto s = hub.subscribe({Target::Kind::Ingress, "", ""}, false);
  for (int i = 0; i < 5; ++i) {
    Exchange e;
    e.via = Exchange::Via::Ingress;
    e.path = "/" + std::to_string(i);
    hub.publish(e);
  }
  const auto got = s->wait(0ms);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].path, "/2");
  EXPECT_EQ(s->dropped(), 2u);
}

TEST(TapHub, CloseEndsAWaitAtOnce) {
  Hub hub;
  auto s = hub.subscribe({Target::Kind::Ingress, "", ""}, false);
  std::thread closer([&] { hub.close(); });
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(s->wait(30s).empty());
  closer.join();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
  EXPECT_TRUE(s->closed());
}

}  // namespace
}  // namespace ticketctl::tap
