#include "runtime/api/printers.h"
#include "runtime/api/handler.h"

#include <gtest/gtest.h>

#include <chrono>
#include <ctime>
#include <string>
#include <vector>

namespace ticketctl::api {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::system_clock;

// Every age below is relative to 2026-11-25T22:16:16Z.
const Clock::time_point kNow =
    std::chrono::sys_days{std::chrono::year{2026} / 11 / 25} + 22h + 16min + 16s;

std::string ago(std::chrono::seconds d) {
  const std::time_t t = Clock::to_time_t(kNow - d);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// An object from JSON, created `age` before kNow.
Json make(std::string_view json, std::chrono::seconds age) {
  Json o = Json::parse(json);
  o["metadata"]["creationTimestamp"] = ago(age);
  return o;
}

constexpr std::chrono::seconds kDay = 24h;

// ---- HumanDuration and AGE.

TEST(HumanDuration, MatchesKubectlAtEveryBoundary) {
  const std::vector<std::pair<std::chrono::seconds, std::string>> cases = {
      {0s, "0s"},
      {59s, "59s"},
      {119s, "119s"},
      {2min, "2m"},
      {2min + 30s, "2m30s"},
      {9min + 59s, "9m59s"},
      {10min, "10m"},
      {10min + 59s, "10m"},
      {179min, "179m"},
      {179min + 59s, "179m"},
      {3h, "3h"},
      {3h + 4min, "3h4m"},
      {7h + 59min, "7h59m"},
      {8h, "8h"},
      {8h + 59min, "8h"},
      {47h, "47h"},
      {2 * kDay, "2d"},
      {2 * kDay + 3h, "2d3h"},
      {7 * kDay + 23h, "7d23h"},
      {8 * kDay, "8d"},
      {8 * kDay + 23h, "8d"},
      {729 * kDay, "729d"},
      {730 * kDay, "2y"},
      {760 * kDay, "2y30d"},
      {2919 * kDay, "7y364d"},
      {2920 * kDay, "8y"},
      {3000 * kDay, "8y"},
  };
  for (const auto& [d, want] : cases) EXPECT_EQ(human_duration(d), want) << d.count() << "s";
}

TEST(HumanDuration, TreatsSmallClockSkewAsNow) {
  EXPECT_EQ(human_duration(-1s), "0s");
  EXPECT_EQ(human_duration(-2s), "<invalid>");
  EXPECT_EQ(human_duration(-3h), "<invalid>");
}

TEST(Age, ReadsCreationTimestamp) {
  EXPECT_EQ(age(make(R"({"metadata":{"name":"a"}})", 10min), kNow), "10m");
  EXPECT_EQ(age(make(R"({"metadata":{"name":"a"}})", 400 * kDay), kNow), "400d");
  auto with = [](const char* ts) {
    return Json{{"metadata", {{"name", "a"}, {"creationTimestamp", ts}}}};
  };
  EXPECT_EQ(age(with("2026-11-25T22:06:16Z"), kNow), "10m");
  // Offsets and fractions count; the elapsed time truncates like Go's (599.5s is 9m59s).
  EXPECT_EQ(age(with("2026-11-25T23:06:16.5+01:00"), kNow), "9m59s");
  EXPECT_EQ(age(with("2026-11-25T12:16:16-05:00"), kNow), "5h");
  EXPECT_EQ(age(with("2026-11-25T22:16:17Z"), kNow), "0s");  // 1s ahead: skew
  EXPECT_EQ(age(with("2026-11-25T22:16:21Z"), kNow), "<invalid>");
  // Go's time.Duration saturates at about 292 years.
  EXPECT_EQ(age(with("1000-01-01T00:00:00Z"), kNow), "292y");
}

TEST(Age, UnknownWhenAbsentOrUnparsable) {
  EXPECT_EQ(age(Json::parse(R"({"metadata":{"name":"a"}})"), kNow), "<unknown>");
  EXPECT_EQ(age(Json::parse(R"({"kind":"Pod"})"), kNow), "<unknown>");
  EXPECT_EQ(age(Json::parse("null"), kNow), "<unknown>");
  for (const char* bad : {"yesterday", "2026-11-25", "2026-11-25 22:06:16Z", "2026-11-25T22:06:16",
                          "2026-02-30T00:00:00Z", "2026-11-25T24:00:00Z", "2026-11-25T22:06:16.Z",
                          "2026-11-25T22:06:16Zjunk", "0001-01-01T00:00:00Z"}) {
    const Json o = {{"metadata", {{"creationTimestamp", bad}}}};
    EXPECT_EQ(age(o, kNow), "<unknown>") << bad;
  }
  EXPECT_EQ(age(Json{{"metadata", {{"creationTimestamp", 12}}}}, kNow), "<unknown>");
}

// ---- Pods.

std::vector<Json> blog_pods() {
  Json posts = make(R"({"apiVersion": "v1", "kind": "Pod",
    "metadata": {"name": "posts-depl-5d8f9b7c6d-x2x7k", "namespace": "default"},
    "spec": {"containers": [{"name": "posts", "image": "example/posts:0.0.1"}],
             "nodeName": "minikube"},
    "status": {"phase": "Running", "podIP": "10.244.0.12", "podIPs": [{"ip": "10.244.0.12"}],
               "containerStatuses": [{"name": "posts", "ready": true, "restartCount": 0,
                 "state": {"running": {"startedAt": "2026-11-25T22:06:20Z"}}}]}})",
                    10min);
  Json comments = make(R"({"apiVersion": "v1", "kind": "Pod",
    "metadata": {"name": "comments-depl-6c9f8d7b5-q8w4z", "namespace": "default"},
    "spec": {"containers": [{"name": "comments", "image": "example/comments:0.0.2"}],
             "nodeName": "minikube"},
    "status": {"phase": "Running", "podIP": "10.244.0.13", "podIPs": [{"ip": "10.244.0.13"}],
               "containerStatuses": [{"name": "comments", "ready": false, "restartCount": 3,
                 "state": {"waiting": {"reason": "CrashLoopBackOff",
                                       "message": "back-off 40s restarting failed container"}},
                 "lastState": {"terminated": {"exitCode": 1, "reason": "Error"}}}]}})",
                       2 * kDay + 3h);
  comments["status"]["containerStatuses"][0]["lastState"]["terminated"]["finishedAt"] = ago(5min);
  Json moderation = make(R"({"apiVersion": "v1", "kind": "Pod",
    "metadata": {"name": "moderation-depl-7d9b8c6f5-m3n4p", "namespace": "default"},
    "spec": {"containers": [{"name": "moderation", "image": "example/moderation:0.0.1"}],
             "nodeName": "minikube"},
    "status": {"phase": "Running", "podIP": "10.244.0.14", "podIPs": [{"ip": "10.244.0.14"}],
               "containerStatuses": [{"name": "moderation", "ready": true, "restartCount": 0,
                                      "state": {"running": {}}}]}})",
                         45s);
  moderation["metadata"]["deletionTimestamp"] = ago(-30s);
  Json query = make(R"({"apiVersion": "v1", "kind": "Pod",
    "metadata": {"name": "query-depl-84c5f7d9b8-t6y7u", "namespace": "default"},
    "spec": {"containers": [{"name": "query", "image": "example/query:latest"}]}})",
                    150s);
  Json event_bus = make(R"({"apiVersion": "v1", "kind": "Pod",
    "metadata": {"name": "event-bus-depl-5b7c9d8f6-k9l0m", "namespace": "default"},
    "spec": {"containers": [{"name": "event-bus", "image": "example/event-bus:0.0.1"}],
             "nodeName": "minikube"},
    "status": {"phase": "Pending",
               "containerStatuses": [{"name": "event-bus", "ready": false, "restartCount": 0,
                                      "state": {"waiting": {"reason": "ContainerCreating"}}}]}})",
                        7s);
  return {posts, comments, moderation, query, event_bus};
}

TEST(PrintTable, Pods) {
  EXPECT_EQ(print_table("pods", blog_pods(), {}, kNow),
            R"(NAME                              READY   STATUS              RESTARTS     AGE
posts-depl-5d8f9b7c6d-x2x7k       1/1     Running             0            10m
comments-depl-6c9f8d7b5-q8w4z     0/1     CrashLoopBackOff    3 (5m ago)   2d3h
moderation-depl-7d9b8c6f5-m3n4p   1/1     Terminating         0            45s
query-depl-84c5f7d9b8-t6y7u       0/1     Pending             0            2m30s
event-bus-depl-5b7c9d8f6-k9l0m    0/1     ContainerCreating   0            7s
)");
}

TEST(PrintTable, PodsWide) {
  EXPECT_EQ(
      print_table("pods", blog_pods(), {.wide = true}, kNow),
      R"(NAME                              READY   STATUS              RESTARTS     AGE     IP            NODE       NOMINATED NODE   READINESS GATES
posts-depl-5d8f9b7c6d-x2x7k       1/1     Running             0            10m     10.244.0.12   minikube   <none>           <none>
comments-depl-6c9f8d7b5-q8w4z     0/1     CrashLoopBackOff    3 (5m ago)   2d3h    10.244.0.13   minikube   <none>           <none>
moderation-depl-7d9b8c6f5-m3n4p   1/1     Terminating         0            45s     10.244.0.14   minikube   <none>           <none>
query-depl-84c5f7d9b8-t6y7u       0/1     Pending             0            2m30s   <none>        <none>     <none>           <none>
event-bus-depl-5b7c9d8f6-k9l0m    0/1     ContainerCreating   0            7s      <none>        minikube   <none>           <none>
)");
}

TEST(PrintTable, NoHeadersAndShowLabelsAsKubectlPrintsThem) {
  std::vector<Json> pods = blog_pods();
  pods.resize(2);
  pods[0]["metadata"]["labels"] = {{"pod-template-hash", "5d8f9b7c6d"}, {"app", "posts"}};
  EXPECT_EQ(
      print_table("pods", pods, {.no_headers = true, .show_labels = true}, kNow),
      R"(posts-depl-5d8f9b7c6d-x2x7k     1/1   Running            0            10m    app=posts,pod-template-hash=5d8f9b7c6d
comments-depl-6c9f8d7b5-q8w4z   0/1   CrashLoopBackOff   3 (5m ago)   2d3h   <none>
)");
  EXPECT_EQ(
      print_table("pods", pods, {.show_labels = true}, kNow).substr(0, 86),
      "NAME                            READY   STATUS             RESTARTS     AGE    LABELS\n");
}

std::vector<Json> unusual_pods() {
  std::vector<Json> pods;
  for (const char* json : {
           // An init container still running: Init:<done>/<declared>.
           R"({"metadata": {"name": "db-migrate"},
               "spec": {"initContainers": [{"name": "migrate"}], "containers": [{"name": "app"}]},
               "status": {"phase": "Pending",
                 "initContainerStatuses": [{"name": "migrate", "restartCount": 0,
                                            "state": {"running": {}}}],
                 "containerStatuses": [{"name": "app", "restartCount": 0,
                                        "state": {"waiting": {"reason": "PodInitializing"}}}]}})",
           R"({"metadata": {"name": "init-crash"},
               "spec": {"initContainers": [{"name": "migrate"}], "containers": [{"name": "app"}]},
               "status": {"phase": "Pending",
                 "initContainerStatuses": [{"name": "migrate", "restartCount": 2,
                   "state": {"terminated": {"exitCode": 1, "reason": "Error"}},
                   "lastState": {"terminated": {"exitCode": 1}}}]}})",
           R"({"metadata": {"name": "oom"}, "spec": {"containers": [{"name": "app"}]},
               "status": {"phase": "Running", "containerStatuses": [{"name": "app",
                 "state": {"terminated": {"exitCode": 137, "reason": "OOMKilled"}}}]}})",
           R"({"metadata": {"name": "signal"}, "spec": {"containers": [{"name": "app"}]},
               "status": {"phase": "Running", "containerStatuses": [{"name": "app",
                 "state": {"terminated": {"exitCode": 0, "signal": 9}}}]}})",
           R"({"metadata": {"name": "exit"}, "spec": {"containers": [{"name": "app"}]},
               "status": {"phase": "Running", "containerStatuses": [{"name": "app",
                 "state": {"terminated": {"exitCode": 2}}}]}})",
           // One container completed, one still running: not "Completed".
           R"({"metadata": {"name": "finished-helper"},
               "spec": {"containers": [{"name": "helper"}, {"name": "app"}]},
               "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "False"}],
                 "containerStatuses": [
                   {"name": "helper",
                    "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
                   {"name": "app", "ready": true, "state": {"running": {}}}]}})",
           // Finished pods are not "Terminating" while they are deleted.
           R"({"metadata": {"name": "job-done", "deletionTimestamp": "2026-11-25T22:16:00Z"},
               "spec": {"containers": [{"name": "job"}]},
               "status": {"phase": "Succeeded", "containerStatuses": [{"name": "job",
                 "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]}})",
           R"({"metadata": {"name": "evicted"}, "spec": {"containers": [{"name": "app"}]},
               "status": {"phase": "Failed", "reason": "Evicted",
                          "message": "The node was low on resource: memory."}})",
           R"({"metadata": {"name": "gated"}, "spec": {"containers": [{"name": "app"}]},
               "status": {"phase": "Pending", "conditions": [
                 {"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}]}})",
           R"({"metadata": {"name": "node-lost", "deletionTimestamp": "2026-11-25T22:16:00Z"},
               "spec": {"containers": [{"name": "app"}]},
               "status": {"phase": "Running", "reason": "NodeLost", "containerStatuses": [
                 {"name": "app", "ready": true, "state": {"running": {}}}]}})",
           // A sidecar (restartable init container) counts as a container.
           R"({"metadata": {"name": "with-sidecar"},
               "spec": {"initContainers": [{"name": "proxy", "restartPolicy": "Always"}],
                        "containers": [{"name": "app"}]},
               "status": {"phase": "Running",
                 "conditions": [{"type": "Initialized", "status": "True"},
                                {"type": "Ready", "status": "True"}],
                 "initContainerStatuses": [{"name": "proxy", "started": true, "ready": true,
                   "restartCount": 1, "state": {"running": {}},
                   "lastState": {"terminated": {"exitCode": 1,
                                                "finishedAt": "2026-11-25T18:16:16Z"}}}],
                 "containerStatuses": [{"name": "app", "ready": true, "restartCount": 0,
                                        "state": {"running": {}}}]}})",
           R"({"metadata": {"name": "gates"},
               "spec": {"containers": [{"name": "app"}], "nodeName": "minikube",
                        "readinessGates": [{"conditionType": "example.com/lb-ready"},
                                           {"conditionType": "example.com/feature"}]},
               "status": {"phase": "Running", "podIP": "10.244.0.50", "nominatedNodeName": "node-2",
                 "conditions": [{"type": "example.com/lb-ready", "status": "True"},
                                {"type": "example.com/feature", "status": "False"}],
                 "containerStatuses": [{"name": "app", "ready": true,
                                        "state": {"running": {}}}]}})",
       }) {
    pods.push_back(make(json, 1h));
  }
  return pods;
}

TEST(PrintTable, PodStatusFollowsKubectl) {
  EXPECT_EQ(print_table("pods", unusual_pods(), {}, kNow),
            R"(NAME              READY   STATUS            RESTARTS     AGE
db-migrate        0/1     Init:0/1          0            60m
init-crash        0/1     Init:Error        2            60m
oom               0/1     OOMKilled         0            60m
signal            0/1     Signal:9          0            60m
exit              0/1     ExitCode:2        0            60m
finished-helper   1/2     NotReady          0            60m
job-done          0/1     Completed         0            60m
evicted           0/1     Evicted           0            60m
gated             0/1     SchedulingGated   0            60m
node-lost         1/1     Unknown           0            60m
with-sidecar      2/2     Running           1 (4h ago)   60m
gates             1/1     Running           0            60m
)");
}

TEST(PrintTable, PodReadinessGatesAndPodIPFallback) {
  EXPECT_EQ(
      print_table("pods", {unusual_pods().back()}, {.wide = true}, kNow),
      R"(NAME    READY   STATUS    RESTARTS   AGE   IP            NODE       NOMINATED NODE   READINESS GATES
gates   1/1     Running   0          60m   10.244.0.50   minikube   node-2           1/2
)");
}

// ---- Workloads.

std::vector<Json> blog_deployments() {
  return {
      make(R"({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "comments-depl", "namespace": "default"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "comments"}},
                 "template": {"metadata": {"labels": {"app": "comments"}},
                   "spec": {"containers": [
                     {"name": "comments", "image": "example/comments:0.0.2"}]}}},
        "status": {"replicas": 2, "updatedReplicas": 2, "readyReplicas": 1,
                   "availableReplicas": 1}})",
           3h + 4min),
      make(R"({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "posts-depl", "namespace": "default"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "posts"}},
                 "template": {"metadata": {"labels": {"app": "posts"}},
                   "spec": {"containers": [{"name": "posts", "image": "example/posts:0.0.1"}]}}},
        "status": {"replicas": 1, "updatedReplicas": 1, "readyReplicas": 1,
                   "availableReplicas": 1}})",
           10min),
      // Just created: no replicas (defaults to 1) and no status yet.
      make(R"({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "query-depl", "namespace": "default"},
        "spec": {"selector": {"matchLabels": {"app": "query"},
                              "matchExpressions": [{"key": "tier", "operator": "In",
                                                    "values": ["backend", "api"]}]},
                 "template": {"spec": {"containers": [
                   {"name": "query", "image": "example/query:latest"},
                   {"name": "metrics", "image": "example/metrics:1.2"}]}}}})",
           5s),
  };
}

TEST(PrintTable, Deployments) {
  EXPECT_EQ(print_table("deployments", blog_deployments(), {}, kNow),
            R"(NAME            READY   UP-TO-DATE   AVAILABLE   AGE
comments-depl   1/2     2            1           3h4m
posts-depl      1/1     1            1           10m
query-depl      0/1     0            0           5s
)");
}

TEST(PrintTable, DeploymentsWide) {
  EXPECT_EQ(
      print_table("deployments", blog_deployments(), {.wide = true}, kNow),
      R"(NAME            READY   UP-TO-DATE   AVAILABLE   AGE    CONTAINERS      IMAGES                                     SELECTOR
comments-depl   1/2     2            1           3h4m   comments        example/comments:0.0.2                     app=comments
posts-depl      1/1     1            1           10m    posts           example/posts:0.0.1                        app=posts
query-depl      0/1     0            0           5s     query,metrics   example/query:latest,example/metrics:1.2   app=query,tier in (api,backend)
)");
}

TEST(PrintTable, SelectorsAsKubectlFormatsThem) {
  const std::vector<Json> deployments = {
      make(R"({"metadata": {"name": "bogus"}, "spec": {"replicas": 3,
        "selector": {"matchExpressions": [{"key": "app", "operator": "Bogus"}]}}})",
           10min),
      make(R"({"metadata": {"name": "everything"}, "spec": {"selector": {}}})", 10min),
      make(R"({"metadata": {"name": "exists"}, "spec": {"selector": {"matchExpressions": [
        {"key": "tier", "operator": "NotIn", "values": ["db"]},
        {"key": "app", "operator": "Exists"},
        {"key": "legacy", "operator": "DoesNotExist"}]}}})",
           10min),
  };
  EXPECT_EQ(print_table("deployments", deployments, {.wide = true}, kNow),
            R"(NAME         READY   UP-TO-DATE   AVAILABLE   AGE   CONTAINERS   IMAGES   SELECTOR
bogus        0/3     0            0           10m                         <invalid>
everything   0/1     0            0           10m
exists       0/1     0            0           10m                         app,!legacy,tier notin (db)
)");
  // Replica sets print through metav1.FormatLabelSelector: "<error>" and "<none>".
  EXPECT_EQ(print_table("replicasets", {deployments[0], deployments[1]}, {.wide = true}, kNow),
            R"(NAME         DESIRED   CURRENT   READY   AGE   CONTAINERS   IMAGES   SELECTOR
bogus        3         0         0       10m                         <error>
everything   1         0         0       10m                         <none>
)");
}

std::vector<Json> blog_replicasets() {
  return {
      make(R"({"apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": "posts-depl-5d8f9b7c6d", "namespace": "default"},
        "spec": {"replicas": 1,
                 "selector": {"matchLabels": {"pod-template-hash": "5d8f9b7c6d", "app": "posts"}},
                 "template": {"spec": {"containers": [
                   {"name": "posts", "image": "example/posts:0.0.1"}]}}},
        "status": {"replicas": 1, "readyReplicas": 1, "availableReplicas": 1}})",
           10min),
      make(R"({"apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": "posts-depl-7f6d5c4b3a", "namespace": "default"},
        "spec": {"replicas": 0,
                 "template": {"spec": {"containers": [
                   {"name": "posts", "image": "example/posts:0.0.1"}]}}},
        "status": {"replicas": 0}})",
           3 * kDay),
  };
}

TEST(PrintTable, ReplicaSets) {
  EXPECT_EQ(print_table("replicasets", blog_replicasets(), {}, kNow),
            R"(NAME                    DESIRED   CURRENT   READY   AGE
posts-depl-5d8f9b7c6d   1         1         1       10m
posts-depl-7f6d5c4b3a   0         0         0       3d
)");
  EXPECT_EQ(
      print_table("replicasets", blog_replicasets(), {.wide = true}, kNow),
      R"(NAME                    DESIRED   CURRENT   READY   AGE   CONTAINERS   IMAGES                SELECTOR
posts-depl-5d8f9b7c6d   1         1         1       10m   posts        example/posts:0.0.1   app=posts,pod-template-hash=5d8f9b7c6d
posts-depl-7f6d5c4b3a   0         0         0       3d    posts        example/posts:0.0.1   <none>
)");
}

// ---- Networking.

std::vector<Json> blog_services() {
  return {
      make(R"({"apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "kubernetes", "namespace": "default"},
        "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.1", "clusterIPs": ["10.96.0.1"],
                 "ports": [{"name": "https", "port": 443, "protocol": "TCP",
                            "targetPort": 8443}]}})",
           400 * kDay),
      make(R"({"apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "posts-srv", "namespace": "default"},
        "spec": {"type": "NodePort", "clusterIP": "10.96.0.20", "selector": {"app": "posts"},
                 "ports": [{"name": "posts", "port": 4000, "targetPort": 4000,
                            "nodePort": 31234}]}})",
           10min),
      make(R"({"apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "query-srv", "namespace": "default"},
        "spec": {"clusterIP": "10.96.0.12", "selector": {"app": "query"},
                 "ports": [{"name": "query", "protocol": "TCP", "port": 4002,
                            "targetPort": 4002}]}})",
           10min),
      make(R"({"apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "event-bus-srv", "namespace": "default"},
        "spec": {"clusterIP": "None", "selector": {"tier": "backend", "app": "event-bus"},
                 "ports": [{"port": 4005}, {"port": 4006, "protocol": "UDP"}]}})",
           10min),
      make(R"({"apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "client-srv", "namespace": "default"},
        "spec": {"clusterIP": ""}})",
           10min),
  };
}

TEST(PrintTable, Services) {
  EXPECT_EQ(print_table("services", blog_services(), {}, kNow),
            R"(NAME            TYPE        CLUSTER-IP   EXTERNAL-IP   PORT(S)             AGE
kubernetes      ClusterIP   10.96.0.1    <none>        443/TCP             400d
posts-srv       NodePort    10.96.0.20   <none>        4000:31234/TCP      10m
query-srv       ClusterIP   10.96.0.12   <none>        4002/TCP            10m
event-bus-srv   ClusterIP   None         <none>        4005/TCP,4006/UDP   10m
client-srv      ClusterIP   <none>       <none>        <none>              10m
)");
}

TEST(PrintTable, ServicesWide) {
  EXPECT_EQ(
      print_table("services", blog_services(), {.wide = true}, kNow),
      R"(NAME            TYPE        CLUSTER-IP   EXTERNAL-IP   PORT(S)             AGE    SELECTOR
kubernetes      ClusterIP   10.96.0.1    <none>        443/TCP             400d   <none>
posts-srv       NodePort    10.96.0.20   <none>        4000:31234/TCP      10m    app=posts
query-srv       ClusterIP   10.96.0.12   <none>        4002/TCP            10m    app=query
event-bus-srv   ClusterIP   None         <none>        4005/TCP,4006/UDP   10m    app=event-bus,tier=backend
client-srv      ClusterIP   <none>       <none>        <none>              10m    <none>
)");
}

TEST(PrintTable, ServicesAllNamespaces) {
  const std::vector<Json> services = {
      blog_services()[2],
      make(R"({"metadata": {"name": "ingress-nginx-controller", "namespace": "ingress-nginx"},
        "spec": {"type": "LoadBalancer", "clusterIP": "10.96.0.40",
                 "ports": [{"name": "http", "port": 80, "nodePort": 30080},
                           {"name": "https", "port": 443, "nodePort": 30443}]},
        "status": {"loadBalancer": {}}})",
           10min),
      // The server prints wide, so a long load-balancer hostname is never clipped.
      make(R"({"metadata": {"name": "lb-ready", "namespace": "ingress-nginx"},
        "spec": {"type": "LoadBalancer", "clusterIP": "10.96.0.41",
                 "ports": [{"port": 80, "nodePort": 30081}]},
        "status": {"loadBalancer": {"ingress": [
          {"hostname": "a1b2c3d4e5f6-1234567890.us-east-1.elb.amazonaws.com"}]}}})",
           10min),
      make(R"({"metadata": {"name": "lb-with-external", "namespace": "ingress-nginx"},
        "spec": {"type": "LoadBalancer", "clusterIP": "10.96.0.42", "externalIPs": ["203.0.113.7"],
                 "ports": [{"port": 80, "nodePort": 30082}]},
        "status": {"loadBalancer": {"ingress": [
          {"ip": "192.168.49.4"}, {"ip": "192.168.49.3"}, {"ip": "192.168.49.4"}]}}})",
           10min),
      make(R"({"metadata": {"name": "external-db", "namespace": "ingress-nginx"},
        "spec": {"type": "ExternalName", "externalName": "db.example.com",
                 "ports": [{"port": 5432}]}})",
           10min),
  };
  EXPECT_EQ(
      print_table("services", services, {.with_namespace = true}, kNow),
      R"(NAMESPACE       NAME                       TYPE           CLUSTER-IP   EXTERNAL-IP                                           PORT(S)                      AGE
default         query-srv                  ClusterIP      10.96.0.12   <none>                                                4002/TCP                     10m
ingress-nginx   ingress-nginx-controller   LoadBalancer   10.96.0.40   <pending>                                             80:30080/TCP,443:30443/TCP   10m
ingress-nginx   lb-ready                   LoadBalancer   10.96.0.41   a1b2c3d4e5f6-1234567890.us-east-1.elb.amazonaws.com   80:30081/TCP                 10m
ingress-nginx   lb-with-external           LoadBalancer   10.96.0.42   192.168.49.3,192.168.49.4,203.0.113.7                 80:30082/TCP                 10m
ingress-nginx   external-db                ExternalName   <none>       db.example.com                                        5432/TCP                     10m
)");
}

std::vector<Json> blog_ingresses() {
  return {
      make(R"({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": {"name": "ingress-srv", "namespace": "default",
                     "annotations": {"nginx.ingress.kubernetes.io/use-regex": "true"}},
        "spec": {"ingressClassName": "nginx", "rules": [{"host": "posts.com", "http": {"paths": [
          {"path": "/posts/create", "pathType": "Prefix",
           "backend": {"service": {"name": "posts-clusterip-srv", "port": {"number": 4000}}}}]}}]},
        "status": {"loadBalancer": {"ingress": [{"ip": "192.168.49.2"}]}}})",
           10min),
      make(R"({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": {"name": "catch-all", "namespace": "default"},
        "spec": {"tls": [{"secretName": "posts-tls"}],
                 "rules": [{"http": {"paths": [{"path": "/", "pathType": "Prefix",
                   "backend": {"service": {"name": "client-srv",
                                           "port": {"number": 3000}}}}]}}]}})",
           10min),
      make(R"({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": {"name": "many-hosts", "namespace": "default"},
        "spec": {"ingressClassName": "nginx", "rules": [
          {"host": "a.com"}, {"host": "b.com"}, {"host": "c.com"}, {"host": "d.com"}, {}]},
        "status": {"loadBalancer": {"ingress": [{"hostname": "lb.example.com"}]}}})",
           10min),
  };
}

TEST(PrintTable, Ingresses) {
  EXPECT_EQ(print_table("ingresses", blog_ingresses(), {}, kNow),
            R"(NAME          CLASS    HOSTS                           ADDRESS          PORTS     AGE
ingress-srv   nginx    posts.com                       192.168.49.2     80        10m
catch-all     <none>   *                                                80, 443   10m
many-hosts    nginx    a.com,b.com,c.com + 2 more...   lb.example.com   80        10m
)");
  // Ingresses have no wide-only columns.
  EXPECT_EQ(print_table("ingresses", blog_ingresses(), {.wide = true}, kNow),
            R"(NAME          CLASS    HOSTS                           ADDRESS          PORTS     AGE
ingress-srv   nginx    posts.com                       192.168.49.2     80        10m
catch-all     <none>   *                                                80, 443   10m
many-hosts    nginx    a.com,b.com,c.com + 2 more...   lb.example.com   80        10m
)");
}

TEST(PrintTable, Endpoints) {
  const std::vector<Json> endpoints = {
      make(R"({"metadata": {"name": "kubernetes", "namespace": "default"},
        "subsets": [{"addresses": [{"ip": "192.168.49.2"}],
                     "ports": [{"name": "https", "port": 8443, "protocol": "TCP"}]}]})",
           400 * kDay),
      make(R"({"metadata": {"name": "posts-clusterip-srv", "namespace": "default"},
        "subsets": [{"addresses": [{"ip": "10.244.0.12"}], "ports": [{"port": 4000}]}]})",
           10min),
      make(R"({"metadata": {"name": "event-bus-srv", "namespace": "default"},
        "subsets": [{"addresses": [{"ip": "10.244.0.20"}, {"ip": "10.244.0.21"}],
                     "ports": [{"port": 4005}, {"port": 4006}]}]})",
           10min),
      make(R"({"metadata": {"name": "headless", "namespace": "default"},
        "subsets": [{"addresses": [{"ip": "10.244.0.30"}, {"ip": "10.244.0.31"}]}]})",
           10min),
      make(R"({"metadata": {"name": "ipv6", "namespace": "default"},
        "subsets": [{"addresses": [{"ip": "fd00::1"}], "ports": [{"port": 80}]}]})",
           10min),
      make(R"({"metadata": {"name": "query-srv", "namespace": "default"}})", 10min),
  };
  EXPECT_EQ(
      print_table("endpoints", endpoints, {}, kNow),
      R"(NAME                  ENDPOINTS                                                        AGE
kubernetes            192.168.49.2:8443                                                400d
posts-clusterip-srv   10.244.0.12:4000                                                 10m
event-bus-srv         10.244.0.20:4005,10.244.0.21:4005,10.244.0.20:4006 + 1 more...   10m
headless              10.244.0.30,10.244.0.31                                          10m
ipv6                  [fd00::1]:80                                                     10m
query-srv             <none>                                                           10m
)");
}

// ---- Configuration and cluster objects.

TEST(PrintTable, Secrets) {
  const std::vector<Json> secrets = {
      make(R"({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "jwt-secret", "namespace": "default"},
        "type": "Opaque", "data": {"JWT_KEY": "YXNkZg=="}})",
           10min),
      make(R"({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "posts-tls", "namespace": "default"},
        "type": "kubernetes.io/tls", "data": {"tls.crt": "Y2VydA==", "tls.key": "a2V5"}})",
           10min),
      // No type: Opaque. stringData merges into data on write.
      make(R"({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "merged", "namespace": "default"},
        "data": {"a": "YQ=="}, "stringData": {"a": "x", "b": "y", "c": "z"}})",
           10min),
  };
  EXPECT_EQ(print_table("secrets", secrets, {}, kNow),
            R"(NAME         TYPE                DATA   AGE
jwt-secret   Opaque              1      10m
posts-tls    kubernetes.io/tls   2      10m
merged       Opaque              3      10m
)");
}

TEST(PrintTable, ConfigMaps) {
  const std::vector<Json> configmaps = {
      make(R"({"metadata": {"name": "kube-root-ca.crt", "namespace": "default"},
               "data": {"ca.crt": "-----BEGIN CERTIFICATE-----"}})",
           400 * kDay),
      make(R"({"metadata": {"name": "client-config", "namespace": "default"},
               "data": {"API_URL": "http://posts.com", "MODE": "dev"},
               "binaryData": {"logo.png": "iVBORw0KGgo="}})",
           10min),
      make(R"({"metadata": {"name": "empty", "namespace": "default"}})", 10min),
  };
  EXPECT_EQ(print_table("configmaps", configmaps, {}, kNow), R"(NAME               DATA   AGE
kube-root-ca.crt   1      400d
client-config      3      10m
empty              0      10m
)");
}

TEST(PrintTable, Namespaces) {
  const std::vector<Json> namespaces = {
      make(R"({"metadata": {"name": "default"}})", 400 * kDay),
      make(R"({"metadata": {"name": "ingress-nginx"}, "status": {"phase": "Active"}})", 10min),
      make(R"({"metadata": {"name": "old-blog"}, "status": {"phase": "Terminating"}})", 45s),
  };
  EXPECT_EQ(print_table("namespaces", namespaces, {}, kNow), R"(NAME            STATUS        AGE
default         Active        400d
ingress-nginx   Active        10m
old-blog        Terminating   45s
)");
  // Namespaces are cluster-scoped: kubectl shows no NAMESPACE column even with -A.
  EXPECT_EQ(print_table("namespaces", {namespaces[0]}, {.with_namespace = true}, kNow),
            R"(NAME      STATUS   AGE
default   Active   400d
)");
}

std::vector<Json> blog_events() {
  Json scheduled = make(R"({"apiVersion": "v1", "kind": "Event",
    "metadata": {"name": "posts-depl-5d8f9b7c6d-x2x7k.17f0a1b2c3d4e5f6", "namespace": "default"},
    "involvedObject": {"kind": "Pod", "name": "posts-depl-5d8f9b7c6d-x2x7k",
                       "namespace": "default"},
    "reason": "Scheduled", "type": "Normal", "count": 1,
    "message": "Successfully assigned default/posts-depl-5d8f9b7c6d-x2x7k to minikube",
    "source": {"component": "default-scheduler"}})",
                        2min);
  scheduled["firstTimestamp"] = scheduled["lastTimestamp"] = ago(2min);
  Json backoff = make(R"({"apiVersion": "v1", "kind": "Event",
    "metadata": {"name": "comments-depl-6c9f8d7b5-q8w4z.17f0a1b2c3d4e5f7", "namespace": "default"},
    "involvedObject": {"kind": "Pod", "name": "comments-depl-6c9f8d7b5-q8w4z",
                       "fieldPath": "spec.containers{comments}"},
    "reason": "BackOff", "type": "Warning", "count": 12,
    "source": {"component": "kubelet", "host": "minikube"}})",
                      5min);
  // TrimSpace comes before the first-line cut: the trailing newline does not show as "...".
  backoff["message"] =
      "Back-off restarting failed container comments in pod "
      "comments-depl-6c9f8d7b5-q8w4z_default(1234)\n";
  backoff["firstTimestamp"] = ago(5min);
  backoff["lastTimestamp"] = ago(30s);
  // events.k8s.io style: eventTime (microseconds) and the reporting controller, no count.
  Json scaled = make(R"({"apiVersion": "v1", "kind": "Event",
    "metadata": {"name": "posts-depl.17f0a1b2c3d4e5f8", "namespace": "default"},
    "involvedObject": {"kind": "Deployment", "name": "posts-depl"},
    "reason": "ScalingReplicaSet", "type": "Normal",
    "eventTime": "2026-11-25T22:15:16.123456Z", "reportingComponent": "deployment-controller",
    "message": "Scaled up replica set posts-depl-5d8f9b7c6d to 1"})",
                     1h);
  // No event time at all: ticketctl falls back to when the event was created.
  Json failed = make(R"({"apiVersion": "v1", "kind": "Event",
    "metadata": {"name": "query-depl-84c5f7d9b8-t6y7u.17f0a1b2c3d4e5f9", "namespace": "default"},
    "involvedObject": {"kind": "Pod", "name": "query-depl-84c5f7d9b8-t6y7u"},
    "reason": "Failed", "type": "Warning", "message": "first line\nsecond line"})",
                     10min);
  Json sync = Json::parse(R"({"apiVersion": "v1", "kind": "Event",
    "metadata": {"name": "sync.1", "namespace": "default"},
    "involvedObject": {"kind": "Node"}, "reason": "Sync", "type": "Normal", "count": 4,
    "message": "\u001b[31mred\u001b[0m"})");
  sync["lastTimestamp"] = ago(5min);
  Json pulled = make(R"({"apiVersion": "v1", "kind": "Event",
    "metadata": {"name": "pulled.1", "namespace": "default"},
    "involvedObject": {"kind": "Pod", "name": "posts-depl-5d8f9b7c6d-x2x7k"},
    "reason": "Pulled", "type": "Normal", "reportingComponent": "kubelet",
    "reportingInstance": "minikube", "message": "Container image already present on machine"})",
                     3min);
  pulled["eventTime"] = ago(3min);
  pulled["series"] = {{"count", 7}, {"lastObservedTime", ago(20s)}};
  return {scheduled, backoff, scaled, failed, sync, pulled};
}

TEST(PrintTable, Events) {
  EXPECT_EQ(print_table("events", blog_events(), {}, kNow),
            R"(LAST SEEN   TYPE      REASON              OBJECT                              MESSAGE
2m          Normal    Scheduled           pod/posts-depl-5d8f9b7c6d-x2x7k     Successfully assigned default/posts-depl-5d8f9b7c6d-x2x7k to minikube
30s         Warning   BackOff             pod/comments-depl-6c9f8d7b5-q8w4z   Back-off restarting failed container comments in pod comments-depl-6c9f8d7b5-q8w4z_default(1234)
59s         Normal    ScalingReplicaSet   deployment/posts-depl               Scaled up replica set posts-depl-5d8f9b7c6d to 1
10m         Warning   Failed              pod/query-depl-84c5f7d9b8-t6y7u     first line...
5m          Normal    Sync                node                                ^[[31mred^[[0m
20s         Normal    Pulled              pod/posts-depl-5d8f9b7c6d-x2x7k     Container image already present on machine
)");
}

TEST(PrintTable, EventsWide) {
  EXPECT_EQ(
      print_table("events", blog_events(), {.wide = true}, kNow),
      R"(LAST SEEN   TYPE      REASON              OBJECT                              SUBOBJECT                   SOURCE                  MESSAGE                                                                                            FIRST SEEN   COUNT   NAME
2m          Normal    Scheduled           pod/posts-depl-5d8f9b7c6d-x2x7k                                 default-scheduler       Successfully assigned default/posts-depl-5d8f9b7c6d-x2x7k to minikube                              2m           1       posts-depl-5d8f9b7c6d-x2x7k.17f0a1b2c3d4e5f6
30s         Warning   BackOff             pod/comments-depl-6c9f8d7b5-q8w4z   spec.containers{comments}   kubelet, minikube       Back-off restarting failed container comments in pod comments-depl-6c9f8d7b5-q8w4z_default(1234)   5m           12      comments-depl-6c9f8d7b5-q8w4z.17f0a1b2c3d4e5f7
59s         Normal    ScalingReplicaSet   deployment/posts-depl                                           deployment-controller   Scaled up replica set posts-depl-5d8f9b7c6d to 1                                                   59s          1       posts-depl.17f0a1b2c3d4e5f8
10m         Warning   Failed              pod/query-depl-84c5f7d9b8-t6y7u                                                         first line...                                                                                      10m          1       query-depl-84c5f7d9b8-t6y7u.17f0a1b2c3d4e5f9
5m          Normal    Sync                node                                                                                    ^[[31mred^[[0m                                                                                     <unknown>    4       sync.1
20s         Normal    Pulled              pod/posts-depl-5d8f9b7c6d-x2x7k                                 kubelet, minikube       Container image already present on machine                                                         3m           7       pulled.1
)");
}

TEST(PrintTable, TrimsTrailingSpaces) {
  Json killing = make(R"({"metadata": {"name": "killing.1", "namespace": "default"},
    "involvedObject": {"kind": "Pod", "name": "posts-depl-5d8f9b7c6d-x2x7k"},
    "reason": "Killing", "type": "Normal", "message": "  "})",
                      10min);
  EXPECT_EQ(print_table("events", {killing}, {}, kNow),
            R"(LAST SEEN   TYPE     REASON    OBJECT                            MESSAGE
10m         Normal   Killing   pod/posts-depl-5d8f9b7c6d-x2x7k
)");
}

// ---- Decorations: -A, `get all`, and resources without a printer.

TEST(PrintTable, ShowKindAsGetAllDoes) {
  EXPECT_EQ(print_table("pods", {blog_pods()[0]}, {.show_kind = true}, kNow),
            R"(NAME                              READY   STATUS    RESTARTS   AGE
pod/posts-depl-5d8f9b7c6d-x2x7k   1/1     Running   0          10m
)");
  EXPECT_EQ(
      print_table("services", {blog_services()[1], blog_services()[2]}, {.show_kind = true}, kNow),
      R"(NAME                TYPE        CLUSTER-IP   EXTERNAL-IP   PORT(S)          AGE
service/posts-srv   NodePort    10.96.0.20   <none>        4000:31234/TCP   10m
service/query-srv   ClusterIP   10.96.0.12   <none>        4002/TCP         10m
)");
  EXPECT_EQ(print_table("deployments", blog_deployments(), {.show_kind = true}, kNow),
            R"(NAME                            READY   UP-TO-DATE   AVAILABLE   AGE
deployment.apps/comments-depl   1/2     2            1           3h4m
deployment.apps/posts-depl      1/1     1            1           10m
deployment.apps/query-depl      0/1     0            0           5s
)");
  EXPECT_EQ(print_table("replicasets", blog_replicasets(),
                        {.with_namespace = true, .show_kind = true}, kNow),
            R"(NAMESPACE   NAME                                    DESIRED   CURRENT   READY   AGE
default     replicaset.apps/posts-depl-5d8f9b7c6d   1         1         1       10m
default     replicaset.apps/posts-depl-7f6d5c4b3a   0         0         0       3d
)");
  EXPECT_EQ(
      print_table("ingresses", {blog_ingresses()[0]}, {.show_kind = true}, kNow),
      R"(NAME                                    CLASS   HOSTS       ADDRESS        PORTS   AGE
ingress.networking.k8s.io/ingress-srv   nginx   posts.com   192.168.49.2   80      10m
)");
}

TEST(PrintTable, UnknownResourceIsNameAndAge) {
  const std::vector<Json> widgets = {
      make(R"({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "a"},
               "spec": {"size": 3}})",
           10min),
      Json::parse(R"({"metadata": {"name": "tickets-crd-object"}})"),
  };
  EXPECT_EQ(print_table("widgets", widgets, {}, kNow), R"(NAME                 AGE
a                    10m
tickets-crd-object   <unknown>
)");
  EXPECT_EQ(print_table("widgets", widgets, {.wide = true}, kNow), R"(NAME                 AGE
a                    10m
tickets-crd-object   <unknown>
)");
  EXPECT_EQ(print_table("widgets", widgets, {.show_kind = true}, kNow),
            R"(NAME                   AGE
widget.example.com/a   10m
tickets-crd-object     <unknown>
)");
}

TEST(PrintTable, NothingToPrintIsEmpty) {
  EXPECT_EQ(print_table("pods", {}, {}, kNow), "");
  EXPECT_EQ(print_table("widgets", {}, {.wide = true, .with_namespace = true}, kNow), "");
}

}  // namespace
}  // namespace ticketctl::api

namespace ticketctl::api {
namespace {

TEST(TableJson, IsAMetaV1TableWithPrioritiesAndObjectMetadata) {
  const Json svc = Json::parse(R"({"metadata": {"name": "query-srv", "namespace": "default",
      "uid": "u"}, "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.12",
      "selector": {"app": "query"}, "ports": [{"port": 4002, "protocol": "TCP"}]}})");
  const Json t = table_json("services", {svc}, "7");
  EXPECT_EQ(t["kind"], "Table");
  EXPECT_EQ(t["apiVersion"], "meta.k8s.io/v1");
  EXPECT_EQ(t["metadata"]["resourceVersion"], "7");
  std::vector<std::string> names;
  for (const Json& c : t["columnDefinitions"]) names.push_back(c["name"]);
  EXPECT_EQ(names, (std::vector<std::string>{"NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)",
                                             "AGE", "SELECTOR"}));
  EXPECT_EQ(t["columnDefinitions"][6]["priority"], 1);  // SELECTOR only with -o wide
  EXPECT_EQ(t["columnDefinitions"][0]["format"], "name");
  ASSERT_EQ(t["rows"].size(), 1u);
  EXPECT_EQ(t["rows"][0]["cells"][0], "query-srv");
  EXPECT_EQ(t["rows"][0]["cells"][4], "4002/TCP");
  EXPECT_EQ(t["rows"][0]["object"]["metadata"]["uid"], "u");
}

// ---- The cluster's own objects: the localhost Node and EndpointSlices, as kubectl prints them.

TEST(Printers, NodesAndEndpointSlices) {
  const Json node = make(R"j({"metadata": {"name": "localhost",
    "labels": {"node-role.kubernetes.io/control-plane": "", "kubernetes.io/os": "linux"}},
    "status": {"conditions": [{"type": "Ready", "status": "True"}],
      "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
      "nodeInfo": {"kubeletVersion": "v1.32.0", "osImage": "Debian GNU/Linux 12 (bookworm)",
        "kernelVersion": "6.1.0", "containerRuntimeVersion": "ticketctl://0.1.0"}}})j",
                         2 * kDay);
  EXPECT_EQ(print_table("nodes", {node}, {.wide = true}, kNow),
            "NAME        STATUS   ROLES           AGE   VERSION   INTERNAL-IP   EXTERNAL-IP   "
            "OS-IMAGE                         KERNEL-VERSION   CONTAINER-RUNTIME\n"
            "localhost   Ready    control-plane   2d    v1.32.0   127.0.0.1     <none>        "
            "Debian GNU/Linux 12 (bookworm)   6.1.0            ticketctl://0.1.0\n");
  Json not_ready = node;
  not_ready["status"]["conditions"][0]["status"] = "False";
  not_ready["metadata"].erase("labels");
  EXPECT_EQ(table_data("nodes", {not_ready}, kNow).rows[0][1], "NotReady");
  EXPECT_EQ(table_data("nodes", {not_ready}, kNow).rows[0][2], "<none>");

  Json slice = make(R"({"metadata": {"name": "web-abcde"}, "addressType": "IPv4",
    "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]})",
                    60s);
  for (const char* ip : {"127.80.0.2", "127.80.0.3", "127.80.0.4", "127.80.0.5", "127.80.0.6"})
    slice["endpoints"].push_back({{"addresses", {ip}}});
  EXPECT_EQ(
      print_table("endpointslices", {slice}, {}, kNow),
      "NAME        ADDRESSTYPE   PORTS   ENDPOINTS                                      AGE\n"
      "web-abcde   IPv4          8080    127.80.0.2,127.80.0.3,127.80.0.4 + 2 more...   60s\n");
  const Json empty = make(R"({"metadata": {"name": "web-abcde"}, "addressType": "IPv4"})", 60s);
  EXPECT_EQ(table_data("endpointslices", {empty}, kNow).rows[0][2], "<unset>");
  EXPECT_EQ(table_data("endpointslices", {empty}, kNow).rows[0][3], "<unset>");
}

}  // namespace
}  // namespace ticketctl::api
