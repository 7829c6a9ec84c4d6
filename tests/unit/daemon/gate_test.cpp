// The readiness gate's decision over typed values: every verdict, every failing reason, the
// error lines it picks from a crash and the hints it gives.

#include "runtime/daemon/gate.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace ticketctl::daemon {
namespace {

constexpr int64_t kNow = int64_t{1'800'000'000} * 1'000'000'000;

Json deployment(int64_t replicas, int64_t updated, int64_t total, int64_t available,
                int64_t generation = 1, int64_t observed = 1) {
  return Json{{"metadata",
               {{"name", "web"},
                {"namespace", "default"},
                {"uid", "d-uid"},
                {"generation", generation},
                {"annotations", {{"deployment.kubernetes.io/revision", "2"}}}}},
              {"spec", {{"replicas", replicas}, {"progressDeadlineSeconds", 30}}},
              {"status",
               {{"observedGeneration", observed},
                {"replicas", total},
                {"updatedReplicas", updated},
                {"availableReplicas", available},
                {"conditions", Json::array()}}}};
}

Json replicaset(const std::string& uid, int revision) {
  return Json{{"metadata",
               {{"name", "web-" + uid},
                {"namespace", "default"},
                {"uid", uid},
                {"annotations", {{"deployment.kubernetes.io/revision", std::to_string(revision)}}},
                {"ownerReferences", {{{"controller", true}, {"uid", "d-uid"}}}}}}};
}

Json pod(const std::string& name, const std::string& rs_uid, Json container_status,
         const std::string& image = "demo/web") {
  container_status["name"] = "web";
  return Json{{"metadata",
               {{"name", name},
                {"namespace", "default"},
                {"ownerReferences", {{{"controller", true}, {"uid", rs_uid}}}}}},
              {"spec", {{"containers", {{{"name", "web"}, {"image", image}}}}}},
              {"status", {{"containerStatuses", {container_status}}}}};
}

Json running(bool ready, int restarts = 0) {
  return Json{{"state", {{"running", {{"startedAt", "2027-01-15T08:00:00Z"}}}}},
              {"ready", ready},
              {"restartCount", restarts}};
}
Json waiting(const std::string& reason, int restarts = 0, const std::string& message = "") {
  return Json{{"state", {{"waiting", {{"reason", reason}, {"message", message}}}}},
              {"ready", false},
              {"restartCount", restarts}};
}

GateSnapshot snapshot(Json d, std::vector<Json> pods, std::vector<Json> events = {}) {
  GateSnapshot s;
  s.deployments = {std::move(d)};
  s.replicasets = {replicaset("old", 1), replicaset("new", 2)};
  s.pods = std::move(pods);
  s.events = std::move(events);
  s.now_ns = kNow;
  return s;
}

DeploymentVerdict judge_one(const GateSnapshot& s, bool deadline_passed = false,
                            GateOptions options = {}) {
  std::vector<DeploymentVerdict> v = judge_deployments(s, options, deadline_passed);
  EXPECT_EQ(v.size(), 1u);
  return v.empty() ? DeploymentVerdict{} : v[0];
}

TEST(Gate, StableExactlyAsRolloutStatus) {
  EXPECT_EQ(judge_one(snapshot(deployment(2, 2, 2, 2), {})).verdict, Verdict::Stable);
  // A spec change the controller has not seen yet.
  EXPECT_EQ(judge_one(snapshot(deployment(2, 2, 2, 2, 3, 2), {})).summary,
            "waiting for the deployment spec update to be observed");
  EXPECT_EQ(judge_one(snapshot(deployment(2, 1, 2, 2), {})).summary,
            "1 out of 2 new replicas have been updated");
  EXPECT_EQ(judge_one(snapshot(deployment(2, 2, 3, 2), {})).summary,
            "1 old replicas are pending termination");
  EXPECT_EQ(judge_one(snapshot(deployment(2, 2, 2, 1), {})).summary,
            "1 of 2 updated replicas are available");
  for (const Json& d : {deployment(2, 2, 2, 2, 3, 2), deployment(2, 1, 2, 2),
                        deployment(2, 2, 3, 2), deployment(2, 2, 2, 1)}) {
    EXPECT_EQ(judge_one(snapshot(d, {})).verdict, Verdict::Progressing);
    EXPECT_EQ(judge_one(snapshot(d, {}), true).verdict, Verdict::TimedOut);
  }
  // Zero replicas wanted is stable at once.
  EXPECT_EQ(judge_one(snapshot(deployment(0, 0, 0, 0), {})).verdict, Verdict::Stable);
}

TEST(Gate, ProgressDeadlineExceededFailsNamingTheProbe) {
  Json d = deployment(1, 1, 1, 0);
  d["status"]["conditions"].push_back(
      {{"type", "Progressing"}, {"status", "False"}, {"reason", "ProgressDeadlineExceeded"}});
  Json event = {
      {"type", "Warning"},
      {"reason", "Unhealthy"},
      {"message", "Readiness probe failed: HTTP probe failed with statuscode: 503"},
      {"lastTimestamp", "2027-01-15T08:00:05Z"},
      {"involvedObject", {{"kind", "Pod"}, {"name", "web-new-a"}, {"namespace", "default"}}}};
  Json older = event;
  older["message"] = "Readiness probe failed: connection refused";
  older["lastTimestamp"] = "2027-01-15T08:00:01Z";
  const DeploymentVerdict v =
      judge_one(snapshot(d, {pod("web-new-a", "new", running(false))}, {event, older}));
  EXPECT_EQ(v.verdict, Verdict::Failed);
  EXPECT_EQ(v.summary, "exceeded its progress deadline (30s)");
  ASSERT_EQ(v.blockers.size(), 1u);
  EXPECT_EQ(v.blockers[0].reason, "NotReady");
  EXPECT_EQ(v.blockers[0].event,
            "Unhealthy: Readiness probe failed: HTTP probe failed with statuscode: 503");
}

TEST(Gate, ReasonsThatCannotClearFailAtOnce) {
  for (const char* reason : {"ErrImageNotMapped", "ErrImageBinaryMissing", "BuildFailed",
                             "ErrDockerfile", "RunContainerError"}) {
    const DeploymentVerdict v =
        judge_one(snapshot(deployment(1, 1, 1, 0), {pod("web-new-a", "new", waiting(reason))}));
    EXPECT_EQ(v.verdict, Verdict::Failed) << reason;
    EXPECT_EQ(v.summary, std::string("pod web-new-a container web: ") + reason);
    EXPECT_TRUE(v.blockers.at(0).permanent);
  }
}

// A container the kubelet lost track of (ContainerStatusUnknown, exit code 137) ended like a
// crash: it counts against --max-restarts and blocks under its own reason.
TEST(Gate, ContainerStatusUnknownCountsAsACrash) {
  auto lost = [](int restarts) {
    return Json{{"state",
                 {{"terminated",
                   {{"exitCode", 137},
                    {"reason", "ContainerStatusUnknown"},
                    {"finishedAt", "2027-01-15T07:59:59.5Z"}}}}},
                {"ready", false},
                {"restartCount", restarts}};
  };
  DeploymentVerdict v =
      judge_one(snapshot(deployment(1, 1, 1, 0), {pod("web-new-a", "new", lost(0))}));
  EXPECT_EQ(v.verdict, Verdict::Progressing);
  ASSERT_EQ(v.blockers.size(), 1u);
  EXPECT_EQ(v.blockers[0].reason, "ContainerStatusUnknown");
  EXPECT_EQ(v.blockers[0].crashes, 1);
  EXPECT_EQ(v.blockers[0].exit_code, 137);
  v = judge_one(snapshot(deployment(1, 1, 1, 0), {pod("web-new-a", "new", lost(1))}));
  EXPECT_EQ(v.verdict, Verdict::Failed);
  EXPECT_EQ(v.blockers.at(0).crashes, 2);
  EXPECT_TRUE(v.blockers.at(0).permanent);
}

TEST(Gate, MissingSecretBlocksWithAHintButKeepsWaiting) {
  const DeploymentVerdict v = judge_one(
      snapshot(deployment(1, 1, 1, 0),
               {pod("web-new-a", "new",
                    waiting("CreateContainerConfigError", 0, "secret \"jwt-secret\" not found"))}));
  EXPECT_EQ(v.verdict, Verdict::Progressing);
  ASSERT_EQ(v.blockers.size(), 1u);
  EXPECT_FALSE(v.blockers[0].permanent);
  EXPECT_NE(v.blockers[0].hint.find("kubectl create secret generic"), std::string::npos);
}

TEST(Gate, UnmappedImageInANewTemplateFailsAlthoughTheOldPodIsReady) {
  // The old pod serves; the new ReplicaSet's pod can never start.
  const DeploymentVerdict v = judge_one(
      snapshot(deployment(1, 1, 2, 1), {pod("web-old-a", "old", running(true)),
                                        pod("web-new-a", "new", waiting("ErrImageNotMapped"))}));
  EXPECT_EQ(v.verdict, Verdict::Failed);
  ASSERT_EQ(v.blockers.size(), 1u);
  EXPECT_EQ(v.blockers[0].pod, "web-new-a");
}

TEST(Gate, OldPodsDoNotBlockAndTheirCrashesDoNotFail) {
  const DeploymentVerdict v = judge_one(
      snapshot(deployment(1, 1, 1, 1), {pod("web-old-a", "old", waiting("CrashLoopBackOff", 5)),
                                        pod("web-new-a", "new", running(true))}));
  EXPECT_EQ(v.verdict, Verdict::Stable);
  EXPECT_TRUE(v.blockers.empty());
}

TEST(Gate, CrashesCountUntilTheLimit) {
  // One crash, waiting out its back-off: still progressing with the default limit of 2.
  DeploymentVerdict v = judge_one(
      snapshot(deployment(1, 1, 1, 0), {pod("web-new-a", "new", waiting("CrashLoopBackOff", 0))}));
  EXPECT_EQ(v.verdict, Verdict::Progressing);
  EXPECT_EQ(v.blockers.at(0).crashes, 1);
  // The second crash fails it.
  v = judge_one(
      snapshot(deployment(1, 1, 1, 0), {pod("web-new-a", "new", waiting("CrashLoopBackOff", 1))}));
  EXPECT_EQ(v.verdict, Verdict::Failed);
  EXPECT_EQ(v.blockers.at(0).crashes, 2);
  EXPECT_NE(v.blockers.at(0).message.find("crashed 2 times"), std::string::npos);
  // Running again after two crashes, not ready: failed, its error is in the previous run.
  v = judge_one(snapshot(deployment(1, 1, 1, 0), {pod("web-new-a", "new", running(false, 2))}));
  EXPECT_EQ(v.verdict, Verdict::Failed);
  EXPECT_TRUE(v.blockers.at(0).restarted);
  // A higher limit waits.
  v = judge_one(
      snapshot(deployment(1, 1, 1, 0), {pod("web-new-a", "new", waiting("CrashLoopBackOff", 1))}),
      false, [] {
        GateOptions o;
        o.max_restarts = 5;
        return o;
      }());
  EXPECT_EQ(v.verdict, Verdict::Progressing);
}

TEST(Gate, ACrashLoopIsNotStableInTheMomentItIsReady) {
  Json status = running(true, 3);
  status["lastState"] = {{"terminated", {{"exitCode", 1}, {"finishedAt", "2027-01-15T07:59:58Z"}}}};
  GateSnapshot s = snapshot(deployment(1, 1, 1, 1), {pod("web-new-a", "new", status)});
  // Two seconds after the last crash.
  s.now_ns = int64_t{1800000000} * 1'000'000'000;  // 2027-01-15T08:00:00Z
  EXPECT_EQ(judge_one(s).verdict, Verdict::Failed);
  // An hour later it has recovered: stable.
  s.now_ns += int64_t{3600} * 1'000'000'000;
  EXPECT_EQ(judge_one(s).verdict, Verdict::Stable);
}

TEST(Gate, OverallVerdict) {
  auto with = [](std::vector<Verdict> vs) {
    std::vector<DeploymentVerdict> out;
    for (Verdict v : vs) out.push_back(DeploymentVerdict{"default", "x", v, "", {}});
    return overall(out);
  };
  EXPECT_EQ(with({}), Verdict::Stable);
  EXPECT_EQ(with({Verdict::Stable, Verdict::Stable}), Verdict::Stable);
  EXPECT_EQ(with({Verdict::Stable, Verdict::Progressing}), Verdict::Progressing);
  EXPECT_EQ(with({Verdict::TimedOut, Verdict::Progressing}), Verdict::TimedOut);
  EXPECT_EQ(with({Verdict::TimedOut, Verdict::Failed}), Verdict::Failed);
  EXPECT_EQ(exit_code(Verdict::Stable), 0);
  EXPECT_EQ(exit_code(Verdict::Failed), 1);
  EXPECT_EQ(exit_code(Verdict::TimedOut), 3);
}

TEST(Gate, ErrorExcerptIsTheErrorLineAndFirstFrameNotTheTail) {
  const std::vector<std::string> node = {
      "Listening on 4000",
      "/app/index.js:12",
      "    throw err;",
      "    ^",
      "",
      "Error: connect ECONNREFUSED 127.0.0.1:5000",
      "    at TCPConnectWrap.afterConnect [as oncomplete] (node:net:1555:16) {",
      "    at other (node:net:1:1)",
      "  errno: -111,",
      "  address: '::',",
      "  port: 5000",
      "}",
      "",
      "Node.js v20.20.2"};
  EXPECT_EQ(error_excerpt(node),
            (std::vector<std::string>{
                "/app/index.js:12", "Error: connect ECONNREFUSED 127.0.0.1:5000",
                "    at TCPConnectWrap.afterConnect [as oncomplete] (node:net:1555:16) {"}));
  EXPECT_EQ(error_excerpt({"x", "TypeError: a is not a function", "y"}),
            (std::vector<std::string>{"TypeError: a is not a function"}));
  EXPECT_EQ(error_excerpt({"Error [ERR_MODULE_NOT_FOUND]: Cannot find package 'x'"}).size(), 1u);
  // No error line: the tail.
  EXPECT_EQ(error_excerpt({"a", "b", "c", "d", "e", "f"}, 2), (std::vector<std::string>{"e", "f"}));
  EXPECT_TRUE(error_excerpt({}).empty());
  EXPECT_FALSE(has_error_line({"all good", "error handling enabled"}));
  EXPECT_TRUE(has_error_line({"MongooseServerSelectionError: connect ECONNREFUSED"}));
}

TEST(Gate, HintsForKnownCrashes) {
  const auto nobody = [](int) { return std::string(); };
  auto hint = [&](std::vector<std::string> lines) {
    return crash_hint(lines, "course/client", nobody).value_or("");
  };
  EXPECT_NE(hint({"Error: error:0308010C:digital envelope routines::unsupported",
                  "  code: 'ERR_OSSL_EVP_UNSUPPORTED'"})
                .find("images: {course/client: {env: {NODE_OPTIONS: --openssl-legacy-provider}}}"),
            std::string::npos);
  EXPECT_NE(hint({"Error: Cannot find module 'express'"}).find("module express is not installed"),
            std::string::npos);
  EXPECT_NE(hint({"Error: Cannot find module '/app/src/index.js'"})
                .find("/app/src/index.js does not exist"),
            std::string::npos);
  EXPECT_NE(hint({"sh: 1: ts-node-dev: not found"}).find("ts-node-dev is not installed"),
            std::string::npos);
  EXPECT_EQ(hint({"Error: listen EADDRINUSE: address already in use :::4000"}),
            "hint: port 4000 is already in use in the pod");
  const auto holder = [](int port) { return "pid 7 (node) listens on " + std::to_string(port); };
  EXPECT_EQ(
      crash_hint({"Error: listen EADDRINUSE: address already in use 127.0.0.1:3000"}, "x", holder),
      "hint: port 3000 is already in use: pid 7 (node) listens on 3000");
  EXPECT_FALSE(crash_hint({"Error: boom"}, "x", nobody).has_value());
}

}  // namespace
}  // namespace ticketctl::daemon
