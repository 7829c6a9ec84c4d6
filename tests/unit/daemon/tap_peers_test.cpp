// The tap's directory of pods: an address becomes a pod and its Deployment.

#include "runtime/daemon/tap_peers.h"
#include "runtime/daemon/ingress.h"

#include <gtest/gtest.h>

#include "tests/support/temp_dir.h"

namespace ticketctl::daemon {
namespace {

TEST(TapPeers, NamesThePodAtAnAddressAndItsDeployment) {
  ticketctl::testing::TempDir tmp("ticketctl-tap-peers");
  auto opened = store::Store::open(tmp.path() / "state.db");
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  store::Store& s = *opened.value();
  ASSERT_TRUE(s.create("replicasets.apps",
                       Json{{"apiVersion", "apps/v1"},
                            {"kind", "ReplicaSet"},
                            {"metadata",
                             {{"name", "posts-depl-6d5f8"},
                              {"namespace", "default"},
                              {"ownerReferences",
                               {{{"kind", "Deployment"}, {"name", "posts-depl"}}}}}}})
                  .ok());
  ASSERT_TRUE(s.create("pods", Json{{"apiVersion", "v1"},
                                    {"kind", "Pod"},
                                    {"metadata",
                                     {{"name", "posts-depl-6d5f8-x2k9q"},
                                      {"namespace", "default"},
                                      {"ownerReferences",
                                       {{{"kind", "ReplicaSet"}, {"name", "posts-depl-6d5f8"}}}}}},
                                    {"status", {{"podIP", "127.96.0.7"}}}})
                  .ok());
  ASSERT_TRUE(s.create("pods", Json{{"apiVersion", "v1"},
                                    {"kind", "Pod"},
                                    {"metadata", {{"name", "lonely"}, {"namespace", "default"}}},
                                    {"status", {{"podIP", "127.96.0.8"}}}})
                  .ok());
  TapPeers peers;
  EXPECT_TRUE(peers.at("127.96.0.7", 4000).pod.empty());  // nothing until rebuilt
  peers.rebuild(s);
  const tap::Peer posts = peers.at("127.96.0.7", 4000);
  EXPECT_EQ(posts.pod, "default/posts-depl-6d5f8-x2k9q");
  EXPECT_EQ(posts.workload, "default/posts-depl");
  EXPECT_EQ(posts.port, 4000);
  EXPECT_EQ(peers.at("127.96.0.8", 80).pod, "default/lonely");
  EXPECT_EQ(peers.at("127.96.0.8", 80).workload, "");
  EXPECT_EQ(peers.at("127.0.0.1", 5).pod, "");
  EXPECT_EQ(peers.workload_of("default/posts-depl-6d5f8-x2k9q"), "default/posts-depl");

  // An ingress request as the tap shows it: the answering pod named by its address, the
  // Service from the route; a client that is a pod named too.
  ingress::AccessLogEntry e;
  e.method = "POST";
  e.path = "/posts/create";
  e.host = "posts.com";
  e.status = 201;
  e.client = "127.96.0.8";
  e.client_port = 40000;
  e.upstream = "127.96.0.7:4000";
  e.pod = "default/posts-depl-6d5f8-x2k9q";
  e.service = "default/posts-clusterip-srv";
  e.bytes_in = 57;
  e.bytes_out = 112;
  e.duration_ms = 3.5;
  e.request_headers = {{"Cookie", "a=b"}};
  const tap::Exchange x = tap_exchange(e, peers);
  EXPECT_EQ(x.via, tap::Exchange::Via::Ingress);
  EXPECT_EQ(x.source.pod, "default/lonely");
  EXPECT_EQ(x.source.port, 40000);
  EXPECT_EQ(x.destination.ip, "127.96.0.7");
  EXPECT_EQ(x.destination.port, 4000);
  EXPECT_EQ(x.destination.pod, "default/posts-depl-6d5f8-x2k9q");
  EXPECT_EQ(x.destination.workload, "default/posts-depl");
  EXPECT_EQ(x.destination.service, "default/posts-clusterip-srv");
  EXPECT_EQ(x.status, 201);
  EXPECT_EQ(x.request_bytes, 57u);
  EXPECT_EQ(x.response_bytes, 112u);
  EXPECT_DOUBLE_EQ(x.latency_ms, 3.5);
  EXPECT_EQ(x.request_headers.at(0).second, "a=b");  // raw: readers mask
  EXPECT_TRUE(tap::matches(tap::Target{tap::Target::Kind::Service, "default", "posts-clusterip-srv"}, x));

  // A pod the directory does not know yet (it changed since the last rebuild): the proxy's own
  // record of the endpoint's pod stands in.
  e.upstream = "127.96.0.9:4000";
  e.pod = "default/posts-depl-6d5f8-new01";
  const tap::Exchange fresh = tap_exchange(e, peers);
  EXPECT_EQ(fresh.destination.pod, "default/posts-depl-6d5f8-new01");
  EXPECT_EQ(fresh.destination.ip, "127.96.0.9");
  // A 404 the ingress answered itself has no destination pod.
  e.upstream.clear();
  e.pod.clear();
  e.service.clear();
  EXPECT_TRUE(tap_exchange(e, peers).destination.pod.empty());
}

}  // namespace
}  // namespace ticketctl::daemon
