// Volumes without containers (docs/volumes.md), under a real control plane: a shell pod that
// reads and writes its mountPaths by those paths (the preload library maps them), an emptyDir that
// starts empty with each new pod, a PersistentVolumeClaim whose data outlives the pod and
// `down`/`up` and goes with the claim, a Secret volume that follows its Secret; and a well-known
// image whose server is not installed, which says how to get it.

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "tests/support/eventually.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

namespace ticketctl {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;
using testing::Result;
using testing::ticketctl;

bool eventually(const std::function<bool()>& condition,
                std::chrono::milliseconds limit = std::chrono::seconds(60)) {
  return testing::eventually(condition, limit);
}

std::string secret(const std::string& password) {
  return "apiVersion: v1\nkind: Secret\nmetadata: {name: creds}\n"
         "stringData: {password: " +
         password + "}\n";
}

const char* kFiles = R"(apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: keep}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: files}
spec:
  selector: {matchLabels: {app: files}}
  template:
    metadata: {labels: {app: files}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: main
        image: test/sleep
        volumeMounts:
        - {name: scratch, mountPath: /scratch}
        - {name: keep, mountPath: /var/lib/keep}
      volumes:
      - {name: scratch, emptyDir: {}}
      - {name: keep, persistentVolumeClaim: {claimName: keep}}
---
apiVersion: v1
kind: Pod
metadata: {name: reader}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: test/sleep
    volumeMounts: [{name: creds, mountPath: /etc/creds}]
  volumes: [{name: creds, secret: {secretName: creds}}]
)";

class VolumesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(project_ / "k8s");
    std::ofstream(project_ / "ticketctl.yaml")
        << "manifests: [k8s]\nimages:\n"
        << "  test/sleep: {context: " << project_ << ", command: [sleep, '3600']}\n";
  }
  void TearDown() override { run({"down"}); }
  Result run(std::vector<std::string> args) {
    args.push_back("--state-dir");
    args.push_back(state_.string());
    return ticketctl(std::move(args), "", project_.string());
  }
  // The running pod of Deployment `files` (not one being deleted).
  std::string pod() {
    std::string name;
    eventually([&] {
      const Result r = run({"get", "pods", "-l", "app=files", "-o", "json"});
      if (r.status != 0) return false;
      const json list = json::parse(r.out);
      for (const json& p : list["items"])
        if (!p["metadata"].contains("deletionTimestamp") &&
            p["status"].value("phase", "") == "Running") {
          name = p["metadata"]["name"];
          return true;
        }
      return false;
    });
    if (name.empty())
      ADD_FAILURE() << "no running pod of files: " << run({"get", "pods", "-o", "wide"}).out
                    << run({"describe", "pods"}).out;
    return name;
  }
  // `ticketctl exec` in the pod: the command sees the pod's mountPaths.
  Result sh(const std::string& pod, const std::string& script) {
    return ticketctl({"exec", pod, "--state-dir", state_.string(), "--", "sh", "-c", script}, "",
                     project_.string());
  }

  testing::TempDir tmp_{"ticketctl-volumes"};
  const fs::path state_ = tmp_.path() / "state";
  const fs::path project_ = tmp_.path() / "project";
};

TEST_F(VolumesTest, ClaimsOutliveThePodEmptyDirsDoNotAndSecretsFollowTheirObject) {
  std::ofstream(project_ / "k8s/files.yaml") << kFiles << "---\n" << secret("first");
  Result up = run({"up", "-d", "--timeout", "60s"});
  ASSERT_EQ(up.status, 0) << up.out << up.err;

  Result pvc = run({"get", "pvc", "keep"});
  EXPECT_NE(pvc.out.find("Bound"), std::string::npos) << pvc.out << pvc.err;
  EXPECT_NE(pvc.out.find("1Gi"), std::string::npos) << pvc.out;
  EXPECT_NE(pvc.out.find("RWO"), std::string::npos) << pvc.out;

  std::string first = pod();
  ASSERT_FALSE(first.empty());
  // A program that opens the mountPath reads the Secret's key as a file, 0600.
  Result cat = sh("reader", "cat /etc/creds/password; echo; stat -c %a /etc/creds/password");
  EXPECT_EQ(cat.out, "first\n600\n") << cat.err;
  Result write = sh(first,
                    "echo kept > /var/lib/keep/data && echo gone > /scratch/data && "
                    "ls /scratch; ls /var/lib/keep");
  ASSERT_EQ(write.status, 0) << write.out << write.err;
  EXPECT_EQ(write.out, "data\ndata\n");

  // The Secret changes: the file follows without a restart.
  std::ofstream(project_ / "k8s/files.yaml") << kFiles << "---\n" << secret("second");
  ASSERT_EQ(run({"apply", "-f", "k8s"}).status, 0);
  EXPECT_TRUE(eventually([&] { return sh("reader", "cat /etc/creds/password").out == "second"; }))
      << sh("reader", "cat /etc/creds/password").out;
  EXPECT_EQ(
      run({"get", "pod", "reader", "-o", "jsonpath={.status.containerStatuses[0].restartCount}"})
          .out,
      "0");
  // A program writing under a secret volume is refused, as on a read-only mount.
  EXPECT_NE(sh("reader", "echo x > /etc/creds/other").err.find("Read-only file system"),
            std::string::npos);

  // A new pod: the claim's data is there, the emptyDir starts empty.
  const Result del = run({"delete", "pod", first});
  ASSERT_EQ(del.status, 0) << del.out << del.err;
  std::string second;
  ASSERT_TRUE(eventually([&] { return (second = pod()) != first && !second.empty(); }));
  EXPECT_EQ(sh(second, "cat /var/lib/keep/data").out, "kept\n");
  Result scratch = sh(second, "ls -A /scratch");
  EXPECT_EQ(scratch.status, 0) << scratch.err;
  EXPECT_EQ(scratch.out, "");

  // down/up: the same, once more.
  ASSERT_EQ(sh(second, "echo again > /scratch/data").status, 0);
  ASSERT_EQ(run({"down"}).status, 0);
  up = run({"up", "-d", "--timeout", "60s"});
  ASSERT_EQ(up.status, 0) << up.out << up.err;
  const std::string third = pod();
  EXPECT_EQ(sh(third, "cat /var/lib/keep/data").out, "kept\n");
  EXPECT_EQ(sh(third, "ls -A /scratch").out, "");

  // Deleting the claim deletes its data.
  ASSERT_EQ(run({"delete", "deployment", "files"}).status, 0);
  ASSERT_EQ(run({"delete", "pvc", "keep"}).status, 0);
  EXPECT_TRUE(eventually([&] {
    std::error_code ec;
    return fs::is_empty(state_ / "volumes", ec) || !fs::exists(state_ / "volumes");
  }));
}

TEST_F(VolumesTest, AServerThatIsNotInstalledSaysHowToGetIt) {
  for (const char* program : {"mongod", "nats-streaming-server"})
    if (::system((std::string("command -v ") + program + " >/dev/null 2>&1").c_str()) == 0)
      GTEST_SKIP() << program << " is installed here: the missing-program message cannot show";
  std::ofstream(project_ / "k8s/mongo.yaml")
      << "apiVersion: v1\nkind: Pod\nmetadata: {name: mongo}\nspec:\n  containers:\n"
         "  - {name: mongo, image: 'mongo:6'}\n---\n"
         "apiVersion: v1\nkind: Pod\nmetadata: {name: nss}\nspec:\n  containers:\n"
         "  - name: nss\n    image: nats-streaming:0.17.0\n"
         "    args: [-p, '4222', -m, '8222', -cid, ticketing]\n";
  run({"up", "-d", "--timeout", "1s"});
  std::string mongo, nss;
  EXPECT_TRUE(eventually([&] {
    mongo = run({"get", "pod", "mongo", "-o",
                 "jsonpath={.status.containerStatuses[0].state.waiting.reason}: "
                 "{.status.containerStatuses[0].state.waiting.message}"})
                .out;
    nss = run({"get", "pod", "nss", "-o",
               "jsonpath={.status.containerStatuses[0].state.waiting.message}"})
              .out;
    return mongo.find("ErrImageBinaryMissing") == 0 && !nss.empty();
  })) << mongo;
  EXPECT_NE(mongo.find("Debian/Ubuntu: MongoDB's own packages"), std::string::npos) << mongo;
  EXPECT_NE(mongo.find("macOS: brew tap mongodb/brew"), std::string::npos) << mongo;
  EXPECT_NE(mongo.find("`images: {mongo: {command: [/path/to/mongod]}}`"), std::string::npos);
  EXPECT_NE(nss.find("nats-streaming-server/releases"), std::string::npos) << nss;
}

}  // namespace
}  // namespace ticketctl
