// The tap's directory of pods: an address becomes a pod and its Deployment.

#include "runtime/daemon/tap_peers.h"

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
}

}  // namespace
}  // namespace ticketctl::daemon
