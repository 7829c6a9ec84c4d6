// The control plane end to end: `ticketctl up -d` in a temporary state directory, the CLI and a
// raw HTTPS client against its API on loopback, `down`, and a restart after kill -9.

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>

#include <gtest/gtest.h>

#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <thread>

#include "runtime/api/client.h"
#include "runtime/daemon/state_dir.h"
#include "tests/support/eventually.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

namespace ticketctl {
namespace {
namespace fs = std::filesystem;
using testing::Result;
using testing::ticketctl;

class ControlPlaneTest : public ::testing::Test {
 protected:
  // Whatever a test started is stopped before its state directory goes.
  void TearDown() override { ticketctl({"down", "--state-dir", dir_.string()}); }
  Result run(std::vector<std::string> args, const std::string& input = "") {
    args.push_back("--state-dir");
    args.push_back(dir_.string());
    return ticketctl(std::move(args), input);
  }
  api::ApiClient client(const std::string& token_override = "") {
    auto c = daemon::connection_for(daemon::StateDir{dir_});
    EXPECT_TRUE(c.ok()) << (c.ok() ? "" : c.error().message);
    api::Connection conn = c.value();
    if (!token_override.empty()) conn.token = token_override;
    return api::ApiClient(conn);
  }
  static unsigned mode(const fs::path& p) {
    struct stat st {};
    ::stat(p.c_str(), &st);
    return st.st_mode & 0777;
  }
  ticketctl::testing::TempDir tmp_{"ticketctl-cp"};
  const fs::path& dir_ = tmp_.path();
};

TEST_F(ControlPlaneTest, UpApplyGetDeleteDown) {
  Result up = run({"up", "-d", "-f", "manifests/blog"});
  ASSERT_EQ(up.status, 0) << up.out << up.err;
  EXPECT_NE(up.out.find("deployment.apps/posts-depl created\n"), std::string::npos) << up.out;
  EXPECT_NE(up.out.find("ingress.networking.k8s.io/ingress-srv created\n"), std::string::npos);
  EXPECT_NE(up.out.find("control plane ready: https://127.0.0.1:"), std::string::npos);
  for (const char* f : {"kubeconfig", "token", "state.db", "pki/ca.key", "pki/server.key"})
    EXPECT_EQ(mode(dir_ / f), 0600u) << f;

  Result get = run({"get", "deployments"});
  ASSERT_EQ(get.status, 0) << get.err;
  EXPECT_TRUE(get.out.starts_with("NAME ")) << get.out;
  EXPECT_NE(get.out.find("posts-depl "), std::string::npos) << get.out;
  EXPECT_NE(get.out.find("query-depl "), std::string::npos) << get.out;

  Result svc = run({"get", "svc", "posts-srv", "-o", "json"});
  ASSERT_EQ(svc.status, 0) << svc.err;
  const Json s = Json::parse(svc.out);
  EXPECT_EQ(s["kind"], "Service");
  EXPECT_EQ(s["spec"]["type"], "NodePort");
  EXPECT_FALSE(s["metadata"]["uid"].get<std::string>().empty());

  Result again = run({"apply", "-f", "manifests/blog"});
  ASSERT_EQ(again.status, 0) << again.err;
  EXPECT_NE(again.out.find("deployment.apps/posts-depl unchanged\n"), std::string::npos)
      << again.out;

  Result del = run({"delete", "deployment", "posts-depl"});
  ASSERT_EQ(del.status, 0) << del.err;
  EXPECT_EQ(del.out, "deployment.apps \"posts-depl\" deleted\n");
  Result gone = run({"get", "deploy", "posts-depl"});
  EXPECT_EQ(gone.status, 1);
  EXPECT_EQ(gone.err, "Error from server (NotFound): deployments.apps \"posts-depl\" not found\n");

  // The same app again: nothing to do, and it says so.
  Result second = run({"up", "-d"});
  EXPECT_EQ(second.status, 0) << second.err;
  EXPECT_NE(second.out.find("ticketctl up: already running for " + dir_.string()),
            std::string::npos)
      << second.out;
  EXPECT_NE(second.out.find("nothing to do"), std::string::npos) << second.out;

  Result down = run({"down"});
  ASSERT_EQ(down.status, 0) << down.err;
  EXPECT_NE(down.out.find("stopped"), std::string::npos);
  Result after = run({"get", "pods"});
  EXPECT_EQ(after.status, 1);
  EXPECT_NE(after.err.find("no control plane is running"), std::string::npos) << after.err;
}

TEST_F(ControlPlaneTest, ApiRejectsMissingTokenStaleUpdatesAndInvalidObjects) {
  ASSERT_EQ(run({"up", "-d", "-f", "manifests/blog/posts-depl.yaml"}).status, 0);

  auto unauthorized =
      client(std::string(64, '0')).raw("GET", "/api/v1/namespaces/default/services");
  ASSERT_TRUE(unauthorized.ok());
  EXPECT_EQ(unauthorized.value().first, 401);
  EXPECT_EQ(Json::parse(unauthorized.value().second)["reason"], "Unauthorized");
  EXPECT_EQ(unauthorized.value().second.find("posts"), std::string::npos);

  api::ApiClient c = client();
  const std::string path = "/apis/apps/v1/namespaces/default/deployments/posts-depl";
  Json d = c.get(path).value();
  d["spec"]["replicas"] = 2;
  ASSERT_TRUE(c.put(path, d).ok());
  // A dry run (kubectl diff) is refused, and changes nothing.
  Json dry = c.get(path).value();
  dry["spec"]["replicas"] = 5;
  auto refused = c.raw("PUT", path + "?dryRun=All", dry.dump());
  ASSERT_TRUE(refused.ok());
  EXPECT_EQ(refused.value().first, 400);
  EXPECT_NE(Json::parse(refused.value().second)["message"].get<std::string>().find("dryRun"),
            std::string::npos);
  EXPECT_EQ(c.get(path).value()["spec"]["replicas"], 2);
  auto stale = c.raw("PUT", path, d.dump());  // same, now outdated, resourceVersion
  ASSERT_TRUE(stale.ok());
  EXPECT_EQ(stale.value().first, 409);
  EXPECT_EQ(Json::parse(stale.value().second)["reason"], "Conflict");

  Json bad = d;
  bad["metadata"].erase("resourceVersion");
  bad["metadata"]["name"] = "bad-depl";
  bad["spec"]["replicas"] = "two";
  bad["spec"]["template"]["spec"]["containers"][0]["image"] = "";
  auto invalid = c.raw("POST", "/apis/apps/v1/namespaces/default/deployments", bad.dump());
  ASSERT_TRUE(invalid.ok());
  EXPECT_EQ(invalid.value().first, 422);
  const Json status = Json::parse(invalid.value().second);
  EXPECT_EQ(status["reason"], "Invalid");
  ASSERT_EQ(status["details"]["causes"].size(), 2u) << status.dump(2);
  EXPECT_EQ(status["details"]["causes"][0]["field"], "spec.replicas");
  EXPECT_EQ(status["details"]["causes"][1]["field"], "spec.template.spec.containers[0].image");
  EXPECT_EQ(c.get("/apis/apps/v1/namespaces/default/deployments/bad-depl").error().code,
            ErrorCode::NotFound);
}

TEST_F(ControlPlaneTest, AnApplyWithOneInvalidDocumentStoresNothing) {
  ASSERT_EQ(run({"up", "-d", "--empty"}).status, 0);
  Result apply = run({"apply", "-f", "tests/manifests/bad-dir"});
  EXPECT_EQ(apply.status, 1);
  EXPECT_EQ(apply.out, "");
  Result get = run({"get", "deployments,services,secrets", "-o", "name"});
  EXPECT_EQ(get.status, 0) << get.err;
  EXPECT_EQ(get.out, "service/kubernetes\n");  // the API's own, as every cluster has
}

TEST_F(ControlPlaneTest, KillNineThenUpFindsEveryObjectAndResourceVersion) {
  ASSERT_EQ(run({"up", "-d", "-f", "manifests/blog"}).status, 0);
  Result before = run({"get", "deployments,services,ingresses", "-o", "json"});
  ASSERT_EQ(before.status, 0);
  const Json info = Json::parse(testing::slurp(dir_ / "apiserver.json"));
  ASSERT_EQ(::kill(info["pid"].get<pid_t>(), SIGKILL), 0);

  Result up = run({"up", "-d"});  // the dead control plane's lock is taken over
  ASSERT_EQ(up.status, 0) << up.out << up.err;
  Result after = run({"get", "deployments,services,ingresses", "-o", "json"});
  ASSERT_EQ(after.status, 0);
  EXPECT_EQ(Json::parse(after.out), Json::parse(before.out));
}

TEST_F(ControlPlaneTest, DeploymentsGetReplicaSetsAndPendingPodsThatFollowScaleAndDelete) {
  ASSERT_EQ(run({"up", "-d", "-f", "manifests/blog"}).status, 0);
  // `up -d` returns after the controllers converged: the pods are there at once.
  Result pods = run({"get", "pods", "-l", "app=posts", "-o", "json"});
  ASSERT_EQ(pods.status, 0) << pods.err;
  Json list = Json::parse(pods.out);
  ASSERT_EQ(list["items"].size(), 1u);
  EXPECT_TRUE(list["items"][0]["metadata"]["name"].get<std::string>().starts_with("posts-depl-"));
  EXPECT_EQ(list["items"][0]["status"]["phase"], "Pending");

  // Scaling through the API: the controller follows (waited for with a deadline, not a sleep).
  api::ApiClient c = client();
  const std::string path = "/apis/apps/v1/namespaces/default/deployments/posts-depl";
  Json d = c.get(path).value();
  d["spec"]["replicas"] = 3;
  ASSERT_TRUE(c.put(path, d).ok());
  auto count_pods = [&] {
    return c.get("/api/v1/namespaces/default/pods?labelSelector=app%3Dposts")
        .value()["items"]
        .size();
  };
  auto wait_for = [&](size_t n) {
    testing::eventually([&] { return count_pods() == n; }, std::chrono::seconds(10));
    return count_pods();
  };
  EXPECT_EQ(wait_for(3), 3u);

  ASSERT_EQ(run({"delete", "deployment", "posts-depl"}).status, 0);
  EXPECT_EQ(wait_for(0), 0u);
  Result rs = run({"get", "rs", "-l", "app=posts", "-o", "name"});
  EXPECT_EQ(rs.out, "");
}

// A manifest that changes a Deployment's selector cannot be applied onto the stored one (the
// API server refuses it); `up` deletes it and creates it again, says so, and the old pods go.
// The Service beside it, whose selector may change, is only updated.
TEST_F(ControlPlaneTest, UpReplacesWhatItsManifestChangedThatCannotBeUpdated) {
  ticketctl::testing::TempDir files{"ticketctl-cp-files"};
  auto write = [&](const std::string& file, const std::string& app) {
    std::ofstream(files.path() / file)
        << "apiVersion: apps/v1\nkind: Deployment\n"
           "metadata: {name: sel}\nspec:\n  replicas: 1\n"
           "  selector: {matchLabels: {app: "
        << app << "}}\n  template:\n    metadata: {labels: {app: " << app
        << "}}\n    spec:\n      containers:\n"
           "        - {name: web, image: demo/web:1}\n"
           "---\napiVersion: v1\nkind: Service\nmetadata: {name: sel}\nspec:\n"
           "  selector: {app: "
        << app << "}\n  ports: [{port: 80}]\n"
        << "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: sel}\nimmutable: true\n"
           "data: {app: "
        << app << "}\n";
  };
  write("a.yaml", "sel");
  write("b.yaml", "sel-v2");
  ASSERT_EQ(run({"up", "-d", "-f", (files.path() / "a.yaml").string()}).status, 0);
  EXPECT_NE(run({"get", "pods", "-l", "app=sel", "-o", "name"}).out, "");
  ASSERT_EQ(run({"down"}).status, 0);

  Result up = run({"up", "-d", "-f", (files.path() / "b.yaml").string()});
  ASSERT_EQ(up.status, 0) << up.out << up.err;
  EXPECT_NE(up.out.find("deployment.apps/sel replaced (spec.selector changed, and it cannot be "
                        "updated: deleted and created again)\n"),
            std::string::npos)
      << up.out;
  // A Service's selector may change: it is updated, not replaced.
  EXPECT_NE(up.out.find("service/sel configured\n"), std::string::npos) << up.out;
  // An immutable ConfigMap whose data changed is replaced, as the Deployment is.
  EXPECT_NE(up.out.find("configmap/sel replaced (it is immutable and its data changed, so it "
                        "cannot be updated: deleted and created again)\n"),
            std::string::npos)
      << up.out;
  EXPECT_EQ(run({"get", "cm", "sel", "-o", "jsonpath={.data.app}"}).out, "sel-v2");
  EXPECT_TRUE(testing::eventually(
      [&] {
        return run({"get", "pods", "-l", "app=sel", "-o", "name"}).out.empty() &&
               !run({"get", "pods", "-l", "app=sel-v2", "-o", "name"}).out.empty();
      },
      std::chrono::seconds(30)));
}

bool kubectl_on_path() {
  return std::system("command -v kubectl >/dev/null 2>&1") == 0;
}

// Exit status and combined output of a shell command.
std::pair<int, std::string> shell(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  const int status = ::pclose(p);
  return std::make_pair(WEXITSTATUS(status), out);
}

// Real kubectl is the API's second client. It is not in Debian's archive, so a machine without
// it skips this test and says so.
TEST_F(ControlPlaneTest, RealKubectlReadsAndPatchesThroughTheKubeconfig) {
  if (!kubectl_on_path())
    GTEST_SKIP() << "kubectl is not on PATH (it is not packaged by Debian); skipped";
  ASSERT_EQ(run({"up", "-d", "-f", "manifests/blog"}).status, 0);
  const std::string kubectl = "KUBECONFIG=" + (dir_ / "kubeconfig").string() + " kubectl ";
  auto [get_status, names] = shell(kubectl + "get deployments -o name");
  EXPECT_EQ(get_status, 0) << names;
  EXPECT_NE(names.find("deployment.apps/posts-depl"), std::string::npos) << names;
  // kubectl asks for a Table and prints the server's columns.
  auto [table_status, table] = shell(kubectl + "get deployments");
  EXPECT_EQ(table_status, 0) << table;
  EXPECT_TRUE(table.starts_with("NAME              READY   UP-TO-DATE   AVAILABLE   AGE\n"))
      << table;
  EXPECT_NE(table.find("posts-depl        0/1     1            0"), std::string::npos) << table;

  auto [patch_status, patched] =
      shell(kubectl + "patch deployment posts-depl -p '{\"spec\":{\"replicas\":2}}'");
  EXPECT_EQ(patch_status, 0) << patched;
  EXPECT_EQ(patched, "deployment.apps/posts-depl patched\n");
  Result d = run({"get", "deploy", "posts-depl", "-o", "json"});
  EXPECT_EQ(Json::parse(d.out)["spec"]["replicas"], 2);

  auto [bad_status, bad] =
      shell(kubectl + "patch deployment posts-depl -p '{\"spec\":{\"replicas\":\"x\"}}'");
  EXPECT_NE(bad_status, 0);
  EXPECT_NE(bad.find("spec.replicas: expected integer"), std::string::npos) << bad;
}

// kubectl's imperative creates send protobuf bodies; the course's commands work as written.
TEST_F(ControlPlaneTest, RealKubectlCreatesObjectsImperativelyOverProtobuf) {
  if (!kubectl_on_path())
    GTEST_SKIP() << "kubectl is not on PATH (it is not packaged by Debian); skipped";
  ASSERT_EQ(run({"up", "-d", "--empty"}).status, 0);
  const std::string kubectl = "KUBECONFIG=" + (dir_ / "kubeconfig").string() + " kubectl ";
  const std::pair<const char*, const char*> creates[] = {
      {"create secret generic jwt-secret --from-literal=JWT_KEY=asdf", "secret/jwt-secret"},
      {"create configmap app-config --from-literal=MODE=dev", "configmap/app-config"},
      {"create namespace tickets", "namespace/tickets"},
      {"create deployment web --image=nginx --replicas=2", "deployment.apps/web"},
      {"create service clusterip web --tcp=80:8080", "service/web"},
  };
  for (const auto& [args, name] : creates) {
    auto [status, out] = shell(kubectl + args);
    EXPECT_EQ(status, 0) << args << ": " << out;
    EXPECT_EQ(out, std::string(name) + " created\n") << args;
  }

  auto get = [&](const std::vector<std::string>& what) {
    std::vector<std::string> args = {"get"};
    args.insert(args.end(), what.begin(), what.end());
    args.insert(args.end(), {"-o", "json"});
    Result r = run(args);
    EXPECT_EQ(r.status, 0) << r.err;
    return r.status == 0 ? Json::parse(r.out) : Json();
  };
  EXPECT_EQ(get({"secret", "jwt-secret"})["data"]["JWT_KEY"], "YXNkZg==");  // base64 of asdf
  EXPECT_EQ(get({"configmap", "app-config"})["data"]["MODE"], "dev");
  EXPECT_EQ(get({"namespace", "tickets"})["metadata"]["name"], "tickets");
  const Json d = get({"deployment", "web"});
  EXPECT_EQ(d["spec"]["replicas"], 2);
  EXPECT_EQ(d["spec"]["selector"]["matchLabels"]["app"], "web");
  EXPECT_EQ(d["spec"]["template"]["spec"]["containers"][0]["image"], "nginx");
  const Json svc = get({"service", "web"});
  EXPECT_EQ(svc["spec"]["type"], "ClusterIP");
  EXPECT_EQ(svc["spec"]["selector"]["app"], "web");
  EXPECT_EQ(svc["spec"]["ports"][0]["port"], 80);
  EXPECT_EQ(svc["spec"]["ports"][0]["targetPort"], 8080);

  // An existing name is kubectl's usual error, not a decoding problem.
  auto [again, out] = shell(kubectl + "create secret generic jwt-secret --from-literal=JWT_KEY=x");
  EXPECT_EQ(again, 1);
  EXPECT_EQ(out, "error: failed to create secret secrets \"jwt-secret\" already exists\n");
}

// The course's `kubectl apply -f infra/k8s`, with kubectl's default --validate=strict: kubectl
// finds fieldValidation in the server's OpenAPI v3 and leaves validation to the server.
TEST_F(ControlPlaneTest, RealKubectlAppliesWithServerSideFieldValidation) {
  if (!kubectl_on_path())
    GTEST_SKIP() << "kubectl is not on PATH (it is not packaged by Debian); skipped";
  ASSERT_EQ(run({"up", "-d", "--empty"}).status, 0);
  const std::string kubectl = "KUBECONFIG=" + (dir_ / "kubeconfig").string() +
                              " KUBECACHEDIR=" + (dir_ / "kube-cache").string() + " kubectl ";
  auto [created_status, created] = shell(kubectl + "apply -f manifests/blog");
  EXPECT_EQ(created_status, 0) << created;
  EXPECT_NE(created.find("deployment.apps/posts-depl created\n"), std::string::npos) << created;
  EXPECT_NE(created.find("ingress.networking.k8s.io/ingress-srv created\n"), std::string::npos)
      << created;

  auto write = [&](const std::string& name, const std::string& replicas_line) {
    std::ifstream in("manifests/blog/posts-depl.yaml");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const size_t at = text.find("  replicas: 1\n");
    EXPECT_NE(at, std::string::npos);
    text.replace(at, std::string("  replicas: 1\n").size(), replicas_line);
    const fs::path file = dir_ / name;
    std::ofstream(file) << text;
    return file.string();
  };
  auto replicas = [&] {
    Result d = run({"get", "deploy", "posts-depl", "-o", "json"});
    return d.status == 0 ? Json::parse(d.out)["spec"]["replicas"] : Json();
  };
  // An existing object: kubectl's three-way patch, from its built-in types.
  auto [configured_status, configured] =
      shell(kubectl + "apply -f " + write("two.yaml", "  replicas: 2\n"));
  EXPECT_EQ(configured_status, 0) << configured;
  EXPECT_EQ(configured,
            "deployment.apps/posts-depl configured\nservice/posts-clusterip-srv unchanged\n");
  EXPECT_EQ(replicas(), 2);

  // A typo is refused by the server, for a patch and for a create, naming the field.
  auto [typo_status, typo] = shell(kubectl + "apply -f " + write("typo.yaml", "  replica: 3\n"));
  EXPECT_NE(typo_status, 0);
  EXPECT_NE(typo.find("spec.replica: unknown field \"replica\""), std::string::npos) << typo;
  EXPECT_EQ(replicas(), 2);
  ASSERT_EQ(run({"delete", "deploy", "posts-depl"}).status, 0);
  auto [new_typo_status, new_typo] = shell(kubectl + "apply -f " + dir_.string() + "/typo.yaml");
  EXPECT_NE(new_typo_status, 0);
  EXPECT_NE(new_typo.find("unknown field \"replica\""), std::string::npos) << new_typo;

  // --validate=false asks the server to drop unknown fields (fieldValidation=Ignore).
  auto [ignored_status, ignored] =
      shell(kubectl + "apply --validate=false -f " + dir_.string() + "/typo.yaml");
  EXPECT_EQ(ignored_status, 0) << ignored;
  Result d = run({"get", "deploy", "posts-depl", "-o", "json"});
  ASSERT_EQ(d.status, 0) << d.err;
  EXPECT_FALSE(Json::parse(d.out)["spec"].contains("replica")) << d.out;
}

TEST_F(ControlPlaneTest, WatchStreamsChangesFromAResourceVersion) {
  ASSERT_EQ(run({"up", "-d", "--empty"}).status, 0);
  api::ApiClient c = client();
  const std::string cms = "/api/v1/namespaces/default/configmaps";
  const Json cm = {{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", {{"name", "a"}}}};
  ASSERT_TRUE(c.post(cms, cm).ok());
  const std::string rv = c.get(cms).value()["metadata"]["resourceVersion"];

  // Changes made after the list's resourceVersion arrive in order; the watcher stops itself
  // after the deletion, so no timing is assumed.
  std::thread writer([&] {
    api::ApiClient w = client();
    Json b = cm;
    b["metadata"]["name"] = "b";
    w.post(cms, b);
    w.remove(cms + "/a");
  });
  std::vector<std::string> seen;
  auto done = c.watch(cms + "?watch=1&resourceVersion=" + rv, [&](const Json& e) {
    seen.push_back(e["type"].get<std::string>() + " " +
                   e["object"]["metadata"]["name"].get<std::string>());
    return seen.size() < 2;
  });
  writer.join();
  ASSERT_TRUE(done.ok()) << done.error().message;
  EXPECT_EQ(seen, (std::vector<std::string>{"ADDED b", "DELETED a"}));

  // Without a resourceVersion a watch starts with what exists now.
  seen.clear();
  c.watch(cms + "?watch=1", [&](const Json& e) {
    seen.push_back(e["type"].get<std::string>() + " " +
                   e["object"]["metadata"]["name"].get<std::string>());
    return false;
  });
  EXPECT_EQ(seen, (std::vector<std::string>{"ADDED b"}));
}

TEST_F(ControlPlaneTest, DescribeShowsTheDeploymentsReplicaSetAndHidesSecrets) {
  ASSERT_EQ(run({"up", "-d", "-f", "manifests/blog"}).status, 0);
  ASSERT_EQ(
      run({"create", "secret", "generic", "jwt-secret", "--from-literal=JWT_KEY=asdf"}).status, 0);
  Result d = run({"describe", "deployment", "posts-depl"});
  ASSERT_EQ(d.status, 0) << d.err;
  EXPECT_TRUE(d.out.starts_with("Name:                   posts-depl\n")) << d.out;
  EXPECT_NE(d.out.find("NewReplicaSet:   posts-depl-"), std::string::npos) << d.out;
  EXPECT_NE(
      d.out.find(
          "Normal  ScalingReplicaSet  deployment-controller  Scaled up replica set posts-depl-"),
      std::string::npos)
      << d.out;
  Result events = run({"get", "events"});
  EXPECT_EQ(events.status, 0);
  EXPECT_TRUE(events.out.starts_with("LAST SEEN   TYPE ")) << events.out;
  EXPECT_NE(events.out.find("SuccessfulCreate"), std::string::npos) << events.out;
  Result s = run({"describe", "secret", "jwt-secret"});
  ASSERT_EQ(s.status, 0);
  EXPECT_NE(s.out.find("JWT_KEY:  4 bytes"), std::string::npos) << s.out;
  EXPECT_EQ(s.out.find("asdf"), std::string::npos);
  EXPECT_EQ(s.out.find("YXNkZg"), std::string::npos);
  Result missing = run({"describe", "svc", "nope"});
  EXPECT_EQ(missing.status, 1);
  EXPECT_EQ(missing.err, "Error from server (NotFound): services \"nope\" not found\n");
}

TEST_F(ControlPlaneTest, UpInACourseRepositoryReadsSkaffoldYaml) {
  const fs::path repo = dir_.string() + "-repo";
  fs::create_directories(repo / "infra" / "k8s");
  fs::copy_file(fs::path(TICKETCTL_SOURCE_DIR) / "manifests/blog/posts-depl.yaml",
                repo / "infra/k8s/posts-depl.yaml");
  std::ofstream(repo / "skaffold.yaml")
      << "apiVersion: skaffold/v2alpha3\nkind: Config\n"
         "deploy:\n  kubectl:\n    manifests:\n      - ./infra/k8s/*\n";
  Result up = ticketctl({"up", "-d", "--state-dir", dir_.string()}, "", repo.string());
  EXPECT_EQ(up.status, 0) << up.out << up.err;
  EXPECT_NE(up.out.find("deployment.apps/posts-depl created\n"), std::string::npos) << up.out;

  std::ofstream(repo / "ticketctl.yaml") << "manifests: [infra/k8s]\nmanifestz: []\n";
  Result bad = ticketctl({"up", "-d", "--state-dir", dir_.string() + "-2"}, "", repo.string());
  EXPECT_EQ(bad.status, 1);
  EXPECT_NE(bad.err.find("ticketctl.yaml:2:1: error: manifestz: unknown field \"manifestz\" (did "
                         "you mean \"manifests\"?)"),
            std::string::npos)
      << bad.err;
  fs::remove_all(repo);
  fs::remove_all(dir_.string() + "-2");
}

// The foreground control plane: Ctrl-C (SIGINT) stops it cleanly with exit status 130, and the
// state directory comes from TICKETCTL_HOME when --state-dir is not given.
TEST_F(ControlPlaneTest, ForegroundUpStopsOnCtrlCWith130) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::setenv("TICKETCTL_HOME", dir_.c_str(), 1);
    ::setenv("TICKETCTL_INGRESS_HTTP", "0", 0);
    ::setenv("TICKETCTL_INGRESS_HTTPS", "0", 0);
    const int null = ::open("/dev/null", O_RDWR);
    ::dup2(null, 0);
    ::dup2(null, 1);
    ::dup2(null, 2);
    if (::chdir(TICKETCTL_SOURCE_DIR) != 0) ::_exit(126);
    ::execl(TICKETCTL_BIN, TICKETCTL_BIN, "up", "-f", "manifests/blog/posts-srv.yaml", nullptr);
    ::_exit(127);
  }
  // Ready when the API answers; waited for with a deadline.
  const bool ready = testing::eventually(
      [&] {
        auto c = daemon::connection_for(daemon::StateDir{dir_});
        return c.ok() &&
               api::ApiClient(c.value()).get("/api/v1/namespaces/default/services/posts-srv").ok();
      },
      std::chrono::seconds(20));
  ASSERT_TRUE(ready) << "the foreground control plane never answered";
  ASSERT_EQ(::kill(pid, SIGINT), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 130);
  EXPECT_FALSE(fs::exists(dir_ / "apiserver.json"));  // nothing claims to serve any more
  EXPECT_TRUE(fs::exists(dir_ / "state.db"));         // and nothing stored is lost
}

TEST_F(ControlPlaneTest, PodsWhoseImageIsNotMappedSayWhatToAdd) {
  const fs::path repo = dir_.string() + "-repo";
  fs::create_directories(repo / "k8s");
  fs::copy_file(fs::path(TICKETCTL_SOURCE_DIR) / "manifests/blog/posts-depl.yaml",
                repo / "k8s/posts.yaml");
  fs::copy_file(fs::path(TICKETCTL_SOURCE_DIR) / "manifests/blog/query-depl.yaml",
                repo / "k8s/query.yaml");
  // posts is mapped, query is not.
  std::ofstream(repo / "ticketctl.yaml") << "manifests: [k8s]\nimages:\n  demo/posts:\n"
                                            "    context: .\n    command: [node, index.js]\n";
  ASSERT_EQ(ticketctl({"up", "-d", "--state-dir", dir_.string()}, "", repo.string()).status, 0);
  // The kubelet writes the waiting reason moments after `up -d` returns: poll for it.
  Result pods;
  testing::eventually(
      [&] {
        pods = run({"get", "pods", "-o",
                    "jsonpath={range .items[*]}{.metadata.labels.app} "
                    "{.status.containerStatuses[0].state.waiting.reason}{\"\\n\"}{end}"});
        return pods.out.find("query ErrImageNotMapped") != std::string::npos;
      },
      std::chrono::seconds(20));
  // posts is mapped (it runs, and fails: there is no index.js); query cannot start at all.
  EXPECT_NE(pods.out.find("query ErrImageNotMapped\n"), std::string::npos) << pods.out << pods.err;
  EXPECT_EQ(pods.out.find("posts ErrImageNotMapped"), std::string::npos) << pods.out;
  Result table = run({"get", "pods", "-l", "app=query"});
  EXPECT_NE(table.out.find("ErrImageNotMapped"), std::string::npos) << table.out;
  Result events =
      run({"get", "events", "-o", "jsonpath={.items[?(@.reason==\"Failed\")].message}"});
  EXPECT_NE(events.out.find(
                "image demo/query is not mapped to a local command: add `images: {demo/query:"),
            std::string::npos)
      << events.out;
  fs::remove_all(repo);
}

TEST_F(ControlPlaneTest, StatusAndConfigView) {
  Result stopped = run({"status"});
  EXPECT_EQ(stopped.status, 1);
  EXPECT_NE(stopped.out.find("control plane:   not running"), std::string::npos) << stopped.out;

  ASSERT_EQ(run({"up", "-d", "-f", "manifests/blog"}).status, 0);
  Result status = run({"status"});
  EXPECT_EQ(status.status, 0) << status.err;
  EXPECT_NE(status.out.find("  deployments: 6\n"), std::string::npos) << status.out;
  EXPECT_NE(status.out.find("  ingresses: 1\n"), std::string::npos) << status.out;
  // The control plane's own log: where status says, private, with time, level and component.
  EXPECT_NE(status.out.find("operator log:    " + (dir_ / "operator.log").string() + "\n"),
            std::string::npos)
      << status.out;
  const std::string oplog = testing::slurp(dir_ / "operator.log");
  EXPECT_NE(oplog.find(" info    [control-plane] API serving on https://127.0.0.1:"),
            std::string::npos)
      << oplog;
  EXPECT_EQ(fs::status(dir_ / "operator.log").permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);

  const std::string token = testing::slurp(dir_ / "token").substr(0, 64);
  Result view = run({"config", "view"});
  EXPECT_EQ(view.status, 0);
  EXPECT_NE(view.out.find("token: REDACTED"), std::string::npos) << view.out;
  EXPECT_EQ(view.out.find(token), std::string::npos);
  Result raw = run({"config", "view", "--raw"});
  EXPECT_NE(raw.out.find(token), std::string::npos);
  EXPECT_EQ(run({"config", "path"}).out, (dir_ / "kubeconfig").string() + "\n");
}

// Many objects are read with one list per kind and merged locally, and sent over several
// connections at once: created (printed in the manifests' order, a Namespace before what is
// created in it wherever it is written), then unchanged without a write, then only the
// changed one configured.
TEST_F(ControlPlaneTest, ApplyOfManyObjectsCreatesThenLeavesThemUnchanged) {
  ASSERT_EQ(run({"up", "-d", "--empty"}).status, 0);
  const fs::path file = dir_ / "many.yaml";
  auto write = [&](const std::string& first_value) {
    std::ofstream out(file);
    for (int i = 0; i < 40; ++i)
      out << "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm-" << i
          << (i % 2 ? ", namespace: team" : "") << "}\ndata: {n: '"
          << (i == 0 ? first_value : std::to_string(i)) << "'}\n";
    out << "---\napiVersion: v1\nkind: Namespace\nmetadata: {name: team}\n";
  };
  write("0");
  Result first = run({"apply", "-f", file.string()});
  EXPECT_EQ(first.status, 0) << first.err;
  std::string expected;
  for (int i = 0; i < 40; ++i) expected += "configmap/cm-" + std::to_string(i) + " created\n";
  EXPECT_EQ(first.out, expected + "namespace/team created\n");
  EXPECT_EQ(run({"get", "cm", "cm-7", "-n", "team", "-o", "jsonpath={.data.n}"}).out, "7");
  const std::string version =
      run({"get", "cm", "cm-4", "-o", "jsonpath={.metadata.resourceVersion}"}).out;
  write("changed");
  Result second = run({"apply", "-f", file.string()});
  EXPECT_EQ(second.status, 0) << second.err;
  EXPECT_NE(second.out.find("configmap/cm-0 configured\n"), std::string::npos) << second.out;
  EXPECT_NE(second.out.find("configmap/cm-4 unchanged\n"), std::string::npos) << second.out;
  EXPECT_EQ(std::count(second.out.begin(), second.out.end(), '\n'), 41) << second.out;
  EXPECT_EQ(run({"get", "cm", "cm-0", "-o", "jsonpath={.data.n}"}).out, "changed");
  EXPECT_EQ(run({"get", "cm", "cm-4", "-o", "jsonpath={.metadata.resourceVersion}"}).out, version);
}

TEST_F(ControlPlaneTest, CreateSecretAsTheCourseDoes) {
  ASSERT_EQ(run({"up", "-d", "--empty"}).status, 0);
  Result created =
      run({"create", "secret", "generic", "jwt-secret", "--from-literal=JWT_KEY=asdf"});
  ASSERT_EQ(created.status, 0) << created.err;
  EXPECT_EQ(created.out, "secret/jwt-secret created\n");
  Result again = run({"create", "secret", "generic", "jwt-secret", "--from-literal=JWT_KEY=x"});
  EXPECT_EQ(again.status, 1);
  EXPECT_EQ(again.err, "error: failed to create secret secrets \"jwt-secret\" already exists\n");

  Result yaml = run({"get", "secret", "jwt-secret", "-o", "yaml"});
  ASSERT_EQ(yaml.status, 0);
  EXPECT_NE(yaml.out.find("  JWT_KEY: YXNkZg==\n"), std::string::npos) << yaml.out;
  EXPECT_EQ(yaml.out.find("asdf"), std::string::npos);  // only base64 on the wire and screen
  Result table = run({"get", "secrets"});
  EXPECT_NE(table.out.find("jwt-secret   Opaque   1      "), std::string::npos) << table.out;

  Result bad = run({"create", "configmap", "cfg", "--from-literal=no_equals_sign"});
  EXPECT_EQ(bad.status, 1);
  EXPECT_NE(bad.err.find("expected key=value"), std::string::npos) << bad.err;
}

TEST_F(ControlPlaneTest, DeleteTakesKindSlashNameAndAllAsKubectlDoes) {
  ASSERT_EQ(run({"up", "-d", "--empty"}).status, 0);
  for (const char* name : {"a", "b", "c", "d"})
    ASSERT_EQ(run({"create", "configmap", name, "--from-literal=k=v"}).status, 0);
  Result slash = run({"delete", "configmap/a", "cm/b"});
  ASSERT_EQ(slash.status, 0) << slash.err;
  EXPECT_EQ(slash.out, "configmap \"a\" deleted\nconfigmap \"b\" deleted\n");
  Result bare = run({"delete", "cm"});
  EXPECT_EQ(bare.status, 2);
  EXPECT_EQ(bare.err, "error: resource(s) were provided, but no name was specified\n");
  Result both = run({"delete", "cm", "c", "--all"});
  EXPECT_EQ(both.status, 2);
  EXPECT_NE(both.err.find("names cannot be provided"), std::string::npos) << both.err;
  Result all = run({"delete", "cm", "--all"});
  ASSERT_EQ(all.status, 0) << all.err;
  EXPECT_EQ(all.out, "configmap \"c\" deleted\nconfigmap \"d\" deleted\n");
  Result none = run({"delete", "cm", "--all"});
  EXPECT_EQ(none.status, 0);
  EXPECT_EQ(none.out, "");
  EXPECT_EQ(none.err, "No resources found\n");
}

TEST_F(ControlPlaneTest, ObjectsNeedAnExistingNamespace) {
  ASSERT_EQ(run({"up", "-d", "--empty"}).status, 0);
  Result missing = run({"create", "configmap", "cfg", "-n", "blog", "--from-literal=a=1"});
  EXPECT_EQ(missing.status, 1);
  EXPECT_NE(missing.err.find("namespaces \"blog\" not found"), std::string::npos) << missing.err;
  ASSERT_EQ(run({"create", "namespace", "blog"}).status, 0);
  Result ok = run({"create", "configmap", "cfg", "-n", "blog", "--from-literal=a=1"});
  EXPECT_EQ(ok.status, 0) << ok.err;
  Result list = run({"get", "cm", "-A", "-o", "name"});
  EXPECT_EQ(list.out, "configmap/cfg\n");
}

}  // namespace
}  // namespace ticketctl
