// The verbs kubectl users type, against one empty control plane (`up -d --empty`) shared by the
// suite: label, annotate, patch, set image, get -L and -o custom-columns, edit. Each test works
// on objects of its own names, so the order they run in does not matter.

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "tests/support/eventually.h"
#include "tests/support/process.h"

namespace {
namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;
using ticketctl::testing::Result;
using ticketctl::testing::ticketctl;

const char* kDeployment = R"(apiVersion: apps/v1
kind: Deployment
metadata:
  name: NAME
spec:
  replicas: 0
  selector:
    matchLabels: {app: NAME}
  template:
    metadata:
      labels: {app: NAME}
    spec:
      containers:
        - name: web
          image: demo/web:1
        - name: sidecar
          image: demo/sidecar:1
)";

class VerbsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = fs::temp_directory_path() / ("ticketctl-verbs-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    Result up = run({"up", "-d", "--empty"});
    ASSERT_EQ(up.status, 0) << up.out << up.err;
  }
  static void TearDownTestSuite() {
    run({"down"});
    fs::remove_all(dir_);
  }
  static Result run(std::vector<std::string> args, const std::string& input = "") {
    args.push_back("--state-dir");
    args.push_back(dir_.string());
    return ticketctl(std::move(args), input);
  }
  // kDeployment named `name` (and selecting app: `name`).
  static std::string manifest_of(const std::string& name) {
    std::string yaml = kDeployment;
    for (size_t at; (at = yaml.find("NAME")) != std::string::npos;) yaml.replace(at, 4, name);
    return yaml;
  }
  static void deployment(const std::string& name) {
    Result r = run({"apply", "-f", "-"}, manifest_of(name));
    ASSERT_EQ(r.status, 0) << r.err;
  }
  // deployment(), then until the controller has handled it: its first pass annotates the
  // revision and writes status.observedGeneration, changes an edit opened before them would meet
  // as a Conflict (the edit saves with the resourceVersion it read).
  static void settled_deployment(const std::string& name) {
    deployment(name);
    ASSERT_TRUE(ticketctl::testing::eventually(
        [&] {
          const Json d = object("deploy/" + name);
          return d["metadata"]["annotations"].contains("deployment.kubernetes.io/revision") &&
                 d["status"].value("observedGeneration", int64_t{0}) ==
                     d["metadata"].value("generation", int64_t{-1});
        },
        std::chrono::seconds(30)));
  }
  static Json object(const std::string& what) {
    Result r = run({"get", what, "-o", "json"});
    EXPECT_EQ(r.status, 0) << r.err;
    return Json::parse(r.out);
  }
  static inline fs::path dir_;
};

TEST_F(VerbsTest, LabelAddsRefusesWithoutOverwriteAndRemoves) {
  for (const char* name : {"lab-a", "lab-b"})
    ASSERT_EQ(run({"create", "configmap", name, "--from-literal=k=v"}).status, 0);
  Result add = run({"label", "cm/lab-a", "app=x"});
  EXPECT_EQ(add.status, 0) << add.err;
  EXPECT_EQ(add.out, "configmap/lab-a labeled\n");
  Result refused = run({"label", "cm", "lab-a", "app=y"});
  EXPECT_EQ(refused.status, 1);
  EXPECT_EQ(refused.err, "error: 'app' already has a value (x), and --overwrite is false\n");
  EXPECT_EQ(object("cm/lab-a")["metadata"]["labels"]["app"], "x");
  Result over = run({"label", "cm/lab-a", "app=y", "--overwrite"});
  EXPECT_EQ(over.out, "configmap/lab-a labeled\n") << over.err;
  EXPECT_EQ(object("cm/lab-a")["metadata"]["labels"]["app"], "y");
  EXPECT_EQ(run({"label", "cm/lab-a", "app=y"}).out, "configmap/lab-a not labeled\n");
  Result removed = run({"label", "cm/lab-a", "app-"});
  EXPECT_EQ(removed.out, "configmap/lab-a unlabeled\n") << removed.err;
  EXPECT_TRUE(object("cm/lab-a")["metadata"].value("labels", Json::object()).empty());

  // --all, then -l: every object of the kind, or the ones the selector matches.
  Result all = run({"label", "cm", "--all", "group=verbs-lab"});
  EXPECT_EQ(all.status, 0) << all.err;
  EXPECT_NE(all.out.find("configmap/lab-a labeled\n"), std::string::npos) << all.out;
  EXPECT_NE(all.out.find("configmap/lab-b labeled\n"), std::string::npos) << all.out;
  Result selected = run({"label", "cm", "-l", "group=verbs-lab", "tier=web"});
  EXPECT_NE(selected.out.find("configmap/lab-b labeled\n"), std::string::npos) << selected.out;
  Result listed = run({"get", "cm", "-l", "tier=web", "-o", "name"});
  EXPECT_NE(listed.out.find("configmap/lab-a\n"), std::string::npos) << listed.out;
  EXPECT_NE(listed.out.find("configmap/lab-b\n"), std::string::npos) << listed.out;
}

TEST_F(VerbsTest, LabelChecksSyntaxAndNamesWhatIsMissing) {
  Result key = run({"label", "cm/anything", "bad key=1"});
  EXPECT_EQ(key.status, 2);
  EXPECT_TRUE(
      key.err.starts_with("error: invalid label spec \"bad key=1\": key: name part must "
                          "consist of alphanumeric characters"))
      << key.err;
  Result value = run({"label", "cm/anything", "k=no spaces"});
  EXPECT_EQ(value.status, 2);
  EXPECT_NE(value.err.find("invalid label spec \"k=no spaces\": value: a valid label must"),
            std::string::npos)
      << value.err;
  Result none = run({"label", "cm/anything"});
  EXPECT_EQ(none.status, 2);
  EXPECT_EQ(none.err, "error: at least one label update is required\n");
  Result both = run({"label", "cm/anything", "a=1", "a-"});
  EXPECT_EQ(both.status, 2);
  EXPECT_NE(both.err.find("can not both modify and remove label \"a\""), std::string::npos);
  Result missing = run({"label", "cm/no-such-map", "a=1"});
  EXPECT_EQ(missing.status, 1);
  EXPECT_EQ(missing.err, "Error from server (NotFound): configmaps \"no-such-map\" not found\n");
  Result bare = run({"label", "cm", "a=1"});
  EXPECT_EQ(bare.status, 2);
  EXPECT_EQ(bare.err, "error: resource(s) were provided, but no name was specified\n");
}

TEST_F(VerbsTest, AnnotateTakesAnyValueButRefusesToOverwrite) {
  ASSERT_EQ(run({"create", "configmap", "ann", "--from-literal=k=v"}).status, 0);
  Result add = run({"annotate", "cm/ann", "note=hello, world!"});
  EXPECT_EQ(add.out, "configmap/ann annotated\n") << add.err;
  Result refused = run({"annotate", "cm/ann", "note=again"});
  EXPECT_EQ(refused.status, 1);
  EXPECT_EQ(refused.err,
            "error: --overwrite is false but found the following declared annotation(s): 'note' "
            "already has a value (hello, world!)\n");
  EXPECT_EQ(object("cm/ann")["metadata"]["annotations"]["note"], "hello, world!");
  EXPECT_EQ(run({"annotate", "cm/ann", "note=again", "--overwrite"}).status, 0);
  EXPECT_EQ(object("cm/ann")["metadata"]["annotations"]["note"], "again");
  EXPECT_EQ(run({"annotate", "cm/ann", "note-"}).out, "configmap/ann annotated\n");
  EXPECT_TRUE(object("cm/ann")["metadata"].value("annotations", Json::object()).empty());
}

TEST_F(VerbsTest, PatchInEachFormat) {
  deployment("pat");
  Result strategic = run({"patch", "deploy/pat", "-p",
                          R"({"spec":{"template":{"spec":{"containers":[{"name":"web",)"
                          R"("image":"demo/web:2"}]}}}})"});
  EXPECT_EQ(strategic.status, 0) << strategic.err;
  EXPECT_EQ(strategic.out, "deployment.apps/pat patched\n");
  Json d = object("deploy/pat");
  // Strategic: the containers merged by name, the sidecar kept.
  ASSERT_EQ(d["spec"]["template"]["spec"]["containers"].size(), 2u);
  EXPECT_EQ(d["spec"]["template"]["spec"]["containers"][0]["image"], "demo/web:2");
  EXPECT_EQ(d["spec"]["template"]["spec"]["containers"][1]["image"], "demo/sidecar:1");

  // Until the controller has handled the new template (annotated its revision, observed the
  // generation, finished the rollout), its writes move resourceVersion under a patch that itself
  // changes nothing. The revision is 1 or 2, as its first pass came before or after the patch.
  ASSERT_TRUE(ticketctl::testing::eventually(
      [&] {
        const Json now = object("deploy/pat");
        std::string progress;
        for (const Json& c : now["status"].value("conditions", Json::array()))
          if (c.value("type", "") == "Progressing") progress = c.value("reason", "");
        return now["metadata"]["annotations"].contains("deployment.kubernetes.io/revision") &&
               now["status"].value("observedGeneration", int64_t{0}) ==
                   now["metadata"].value("generation", int64_t{-1}) &&
               progress == "NewReplicaSetAvailable";
      },
      std::chrono::seconds(30)));
  Result merge =
      run({"patch", "deployment", "pat", "--type", "merge", "-p", R"({"spec":{"replicas":0}})"});
  EXPECT_EQ(merge.out, "deployment.apps/pat patched (no change)\n") << merge.err;
  Result json = run({"patch", "deploy/pat", "--type", "json", "-p",
                     R"([{"op":"add","path":"/spec/minReadySeconds","value":5}])"});
  EXPECT_EQ(json.out, "deployment.apps/pat patched\n") << json.err;
  EXPECT_EQ(object("deploy/pat")["spec"]["minReadySeconds"], 5);

  Result invalid = run({"patch", "deploy/pat", "-p", R"({"spec":{"replicas":"two"}})"});
  EXPECT_EQ(invalid.status, 1);
  EXPECT_NE(invalid.err.find("spec.replicas: expected integer"), std::string::npos) << invalid.err;
  Result not_json = run({"patch", "deploy/pat", "-p", "{spec:"});
  EXPECT_EQ(not_json.status, 2);
  EXPECT_NE(not_json.err.find("the patch must be JSON"), std::string::npos) << not_json.err;
  Result not_array = run({"patch", "deploy/pat", "--type", "json", "-p", "{}"});
  EXPECT_EQ(not_array.status, 2);
  EXPECT_NE(not_array.err.find("must be a JSON array of operations"), std::string::npos);
  Result no_patch = run({"patch", "deploy/pat"});
  EXPECT_EQ(no_patch.status, 2);
  EXPECT_NE(no_patch.err.find("-p or --patch-file"), std::string::npos) << no_patch.err;
}

TEST_F(VerbsTest, SetImageByContainerOrAll) {
  deployment("img");
  Result one = run({"set", "image", "deploy/img", "web=demo/web:3"});
  EXPECT_EQ(one.status, 0) << one.err;
  EXPECT_EQ(one.out, "deployment.apps/img image updated\n");
  Json d = object("deploy/img");
  EXPECT_EQ(d["spec"]["template"]["spec"]["containers"][0]["image"], "demo/web:3");
  EXPECT_EQ(d["spec"]["template"]["spec"]["containers"][1]["image"], "demo/sidecar:1");

  Result all = run({"set", "image", "deployment", "img", "*=demo/all:1"});
  EXPECT_EQ(all.out, "deployment.apps/img image updated\n") << all.err;
  d = object("deploy/img");
  for (const Json& c : d["spec"]["template"]["spec"]["containers"])
    EXPECT_EQ(c["image"], "demo/all:1");

  Result same = run({"set", "image", "deploy/img", "web=demo/all:1"});
  EXPECT_EQ(same.status, 0);
  EXPECT_EQ(same.out, "");
  EXPECT_EQ(same.err, "info: deployment.apps/img was not changed\n");
  Result unknown = run({"set", "image", "deploy/img", "nope=x:1"});
  EXPECT_EQ(unknown.status, 1);
  EXPECT_EQ(unknown.err, "error: unable to find container named \"nope\" in deployment.apps/img\n");
  Result kind = run({"set", "image", "svc/x", "a=b"});
  EXPECT_EQ(kind.status, 2);
  EXPECT_NE(kind.err.find("cannot set the image of service"), std::string::npos) << kind.err;
}

TEST_F(VerbsTest, GetTakesTypeSlashNameLabelColumnsAndCustomColumns) {
  ASSERT_EQ(run({"create", "configmap", "col-a", "--from-literal=k=v"}).status, 0);
  ASSERT_EQ(run({"create", "configmap", "col-b", "--from-literal=k=v"}).status, 0);
  ASSERT_EQ(run({"label", "cm/col-a", "set=cols", "app.kubernetes.io/tier=web"}).status, 0);
  ASSERT_EQ(run({"label", "cm/col-b", "set=cols"}).status, 0);

  Result slash = run({"get", "cm/col-a", "configmap/col-b", "-o", "name"});
  EXPECT_EQ(slash.status, 0) << slash.err;
  EXPECT_EQ(slash.out, "configmap/col-a\nconfigmap/col-b\n");
  EXPECT_EQ(object("cm/col-a")["kind"], "ConfigMap");  // one name: the object, not a List

  Result labels = run({"get", "cm", "-l", "set=cols", "-L", "app.kubernetes.io/tier,set"});
  EXPECT_EQ(labels.status, 0) << labels.err;
  EXPECT_TRUE(labels.out.starts_with("NAME    DATA   AGE   TIER   SET\n")) << labels.out;
  EXPECT_NE(labels.out.find("col-a   1      "), std::string::npos) << labels.out;
  EXPECT_NE(labels.out.find("   web    cols\n"), std::string::npos) << labels.out;
  EXPECT_NE(labels.out.find("          cols\n"), std::string::npos) << labels.out;  // no tier

  Result custom =
      run({"get", "cm", "-l", "set=cols", "-o",
           "custom-columns=NAME:.metadata.name,TIER:metadata.labels['app.kubernetes.io/tier'],"
           "DATA:.data.*"});
  EXPECT_EQ(custom.status, 0) << custom.err;
  EXPECT_EQ(custom.out,
            "NAME    TIER     DATA\n"
            "col-a   web      v\n"
            "col-b   <none>   v\n");
  Result headless =
      run({"get", "cm/col-a", "--no-headers", "-o", "custom-columns=N:.metadata.name"});
  EXPECT_EQ(headless.out, "col-a\n");

  Result no_colon = run({"get", "cm", "-o", "custom-columns=NAME"});
  EXPECT_EQ(no_colon.status, 2);
  EXPECT_EQ(no_colon.err,
            "error: unexpected custom-columns spec: NAME, expected <header>:<json-path-expr>\n");
  Result bad_path = run({"get", "cm", "-o", "custom-columns=A:.x["});
  EXPECT_EQ(bad_path.status, 2);
  EXPECT_NE(bad_path.err.find("unclosed ["), std::string::npos) << bad_path.err;
  Result bad_key = run({"get", "cm", "-L", "no spaces"});
  EXPECT_EQ(bad_key.status, 2);
  EXPECT_NE(bad_key.err.find("-L no spaces: not a label key"), std::string::npos) << bad_key.err;
}

TEST_F(VerbsTest, UpDetachedWhenAlreadyUpIsANoOpThatSaysSo) {
  Result again = run({"up", "-d", "--empty"});
  EXPECT_EQ(again.status, 0) << again.err;
  EXPECT_EQ(again.out.find("ticketctl up: already running for " + dir_.string()), 0u) << again.out;
  EXPECT_NE(again.out.find("nothing to do"), std::string::npos) << again.out;
  EXPECT_EQ(run({"get", "ns", "default", "-o", "name"}).out, "namespace/default\n");  // still up
}

// An editor that is a script: what it does to the file stands for what a user types.
class EditorScript {
 public:
  EditorScript(const fs::path& dir, const std::string& name, const std::string& body)
      : path_(dir / name) {
    std::ofstream(path_) << "#!/bin/sh\n" << body << "\n";
    fs::permissions(path_, fs::perms::owner_all);
    ::setenv("KUBE_EDITOR", path_.c_str(), 1);
  }
  ~EditorScript() { ::unsetenv("KUBE_EDITOR"); }

 private:
  fs::path path_;
};

TEST_F(VerbsTest, EditSavesWhatTheEditorChanged) {
  ASSERT_NO_FATAL_FAILURE(settled_deployment("edt"));
  {
    EditorScript editor(dir_, "edit-replicas", "sed -i 's/replicas: 0/replicas: 2/' \"$1\"");
    Result r = run({"edit", "deploy/edt"});
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out, "deployment.apps/edt edited\n");
  }
  EXPECT_EQ(object("deploy/edt")["spec"]["replicas"], 2);
  {
    EditorScript editor(dir_, "edit-nothing", "true");
    Result r = run({"edit", "deployment", "edt"});
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out, "Edit cancelled, no changes made.\n");
  }
  {
    EditorScript editor(dir_, "edit-empty", ": > \"$1\"");
    EXPECT_EQ(run({"edit", "deploy/edt"}).out, "Edit cancelled, saved file was empty.\n");
  }
  {
    EditorScript editor(dir_, "edit-fails", "exit 3");
    Result r = run({"edit", "deploy/edt"});
    EXPECT_EQ(r.status, 1);
    EXPECT_NE(r.err.find("there was a problem with the editor"), std::string::npos) << r.err;
  }
  Result missing = run({"edit", "deploy/no-such"});
  EXPECT_EQ(missing.status, 1);
  EXPECT_EQ(missing.err, "Error from server (NotFound): deployments.apps \"no-such\" not found\n");
}

TEST_F(VerbsTest, EditReopensAnInvalidObjectWithTheErrorOnTop) {
  ASSERT_NO_FATAL_FAILURE(settled_deployment("edv"));
  // First save: an invalid value. Second: the error is in the file's comments; fix it.
  {
    EditorScript editor(dir_, "edit-twice",
                        "if grep -q '^# .*spec.replicas: expected integer' \"$1\"; then\n"
                        "  sed -i 's/replicas: two/replicas: 3/' \"$1\"\n"
                        "else\n"
                        "  sed -i 's/replicas: 0/replicas: two/' \"$1\"\n"
                        "fi");
    Result r = run({"edit", "deploy/edv"});
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out, "deployment.apps/edv edited\n");
  }
  EXPECT_EQ(object("deploy/edv")["spec"]["replicas"], 3);
  // Saving the refused file again unchanged gives up, and stores nothing.
  {
    EditorScript editor(dir_, "edit-stubborn", "sed -i 's/replicas: 3/replicas: two/' \"$1\"");
    Result r = run({"edit", "deploy/edv"});
    EXPECT_EQ(r.status, 1);
    EXPECT_EQ(r.err, "error: Edit cancelled, no valid changes were saved.\n");
  }
  EXPECT_EQ(object("deploy/edv")["spec"]["replicas"], 3);
}

// kubectl edit sends what the user changed, so a write by someone else while the editor is open
// (here the editor itself labels the object, as a controller or a second terminal would) is
// kept, and the edit still lands.
TEST_F(VerbsTest, EditKeepsAChangeMadeWhileTheEditorWasOpen) {
  ASSERT_NO_FATAL_FAILURE(settled_deployment("edc"));
  {
    EditorScript editor(dir_, "edit-meanwhile",
                        "'" TICKETCTL_BIN "' label deploy/edc meanwhile=yes --state-dir '" +
                            dir_.string() +
                            "' >/dev/null || exit 9\n"
                            "sed -i 's/replicas: 0/replicas: 2/' \"$1\"");
    Result r = run({"edit", "deploy/edc"});
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out, "deployment.apps/edc edited\n");
  }
  const Json d = object("deploy/edc");
  EXPECT_EQ(d["spec"]["replicas"], 2);
  EXPECT_EQ(d["metadata"]["labels"].value("meanwhile", ""), "yes") << d.dump();
  // Renaming in the editor would be another object: refused, with the line of each problem.
  {
    EditorScript editor(dir_, "edit-rename",
                        "if grep -q '^# .*metadata.name cannot be changed' \"$1\"; then\n"
                        "  sed -i 's/name: edc-renamed/name: edc/; s/replicas: 2/replicas: x/' "
                        "\"$1\"\n"
                        "elif grep -q '^# .*line [0-9]*: spec.replicas: expected integer' \"$1\";"
                        " then\n"
                        "  sed -i 's/replicas: x/replicas: 1/' \"$1\"\n"
                        "else\n"
                        "  sed -i 's/^  name: edc$/  name: edc-renamed/' \"$1\"\n"
                        "fi");
    Result r = run({"edit", "deploy/edc"});
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out, "deployment.apps/edc edited\n");
  }
  EXPECT_EQ(object("deploy/edc")["spec"]["replicas"], 1);
  EXPECT_EQ(run({"get", "deploy/edc-renamed"}).status, 1);
}

// What bash offers after sourcing `ticketctl completion bash`, for the words typed so far.
// `cword` is the index of the word being completed (the binary being word 0).
std::string complete(const fs::path& dir, const std::vector<std::string>& words, size_t cword) {
  const fs::path script = dir / "completion.bash";
  std::ofstream(script) << ticketctl({"completion", "bash"}).out;
  std::string line = "source '" + script.string() + "'; COMP_WORDS=('" TICKETCTL_BIN "'";
  for (const std::string& w : words) line += " '" + w + "'";
  line +=
      "); COMP_CWORD=" + std::to_string(cword) + "; _ticketctl; printf '%s\\n' \"${COMPREPLY[@]}\"";
  const fs::path cmd = dir / "complete.sh";
  std::ofstream(cmd) << line << "\n";
  FILE* p = ::popen(("bash '" + cmd.string() + "'").c_str(), "r");
  std::string out;
  char buf[4096];
  for (size_t n; p && (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  if (p) ::pclose(p);
  return out;
}

TEST_F(VerbsTest, BashCompletionOffersObjectNamesFromTheControlPlane) {
  if (::system("bash -c true") != 0) GTEST_SKIP() << "bash is not installed; skipped";
  ASSERT_EQ(run({"create", "configmap", "cmp-one", "--from-literal=k=v"}).status, 0);
  ASSERT_EQ(run({"create", "configmap", "cmp-two", "--from-literal=k=v"}).status, 0);
  const std::string state = "--state-dir=" + dir_.string();
  EXPECT_EQ(complete(dir_, {"get", "cm/cmp-", state}, 2), "cm/cmp-one\ncm/cmp-two\n");
  EXPECT_EQ(complete(dir_, {"label", "configmap", "cmp-t", state}, 3), "cmp-two\n");
  EXPECT_EQ(complete(dir_, {"get", "--show-l"}, 2), "--show-labels\n");
  EXPECT_EQ(complete(dir_, {"ann"}, 1), "annotate\n");
}

TEST_F(VerbsTest, DescribeTakesTypeSlashNameAndALoneKind) {
  deployment("dsc");
  Result slash = run({"describe", "deploy/dsc"});
  EXPECT_EQ(slash.status, 0) << slash.err;
  EXPECT_TRUE(slash.out.starts_with("Name:")) << slash.out;
  EXPECT_NE(slash.out.find("dsc"), std::string::npos) << slash.out;
  Result all = run({"describe", "deployments"});
  EXPECT_EQ(all.status, 0) << all.err;
  EXPECT_NE(all.out.find("dsc"), std::string::npos) << all.out;
  Result missing = run({"describe", "deploy/no-such"});
  EXPECT_EQ(missing.status, 1);
  EXPECT_EQ(missing.err, "Error from server (NotFound): deployments.apps \"no-such\" not found\n");
}

// As the API server validates an update: once `immutable` is true, a ConfigMap's or Secret's
// data stays, and the refusal names the field; its metadata may still change.
TEST_F(VerbsTest, AnImmutableConfigMapOrSecretRefusesNewDataAsTheApiServerDoes) {
  const std::string map =
      "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: imm}\nimmutable: true\n"
      "data: {a: \"1\"}\n";
  ASSERT_EQ(run({"apply", "-f", "-"}, map).status, 0);
  std::string changed = map;
  changed.replace(changed.find("\"1\""), 3, "\"2\"");
  const Result refused = run({"apply", "-f", "-"}, changed);
  EXPECT_NE(refused.status, 0);
  EXPECT_NE(refused.err.find("ConfigMap \"imm\" is invalid: data: Forbidden: field is immutable "
                             "when `immutable` is set"),
            std::string::npos)
      << refused.err;
  EXPECT_EQ(object("configmap/imm")["data"]["a"], "1");
  EXPECT_EQ(run({"label", "cm/imm", "team=x"}).status, 0);

  const std::string secret =
      "apiVersion: v1\nkind: Secret\nmetadata: {name: imm-secret}\nimmutable: true\n"
      "stringData: {JWT_KEY: one}\n";
  ASSERT_EQ(run({"apply", "-f", "-"}, secret).status, 0);
  std::string rotated = secret;
  rotated.replace(rotated.find("one"), 3, "two");
  const Result kept = run({"apply", "-f", "-"}, rotated);
  EXPECT_NE(kept.status, 0);
  EXPECT_NE(kept.err.find("Secret \"imm-secret\" is invalid: data: Forbidden"), std::string::npos)
      << kept.err;
  EXPECT_EQ(object("secret/imm-secret")["data"]["JWT_KEY"], "b25l");  // "one"
}

// A Deployment's selector cannot change (the API server says so, and a cluster would too):
// apply and patch get its refusal and change nothing; apply --force deletes the Deployment and
// creates it again, and its old ReplicaSet goes with it.
TEST_F(VerbsTest, ANewSelectorIsRefusedAndApplyForceReplacesTheDeployment) {
  deployment("sel");
  std::string renamed = manifest_of("sel");
  for (size_t at; (at = renamed.find("app: sel}")) != std::string::npos;)
    renamed.replace(at, 9, "app: sel-v2}");
  const std::string uid = object("deploy/sel")["metadata"]["uid"];
  ASSERT_TRUE(ticketctl::testing::eventually(
      [&] {
        return run({"get", "rs", "-l", "app=sel", "-o", "name"}).out != "";
      },
      std::chrono::seconds(30)));

  const std::string refusal =
      "Deployment.apps \"sel\" is invalid: spec.selector: Invalid value: "
      "v1.LabelSelector{MatchLabels:map[string]string{\"app\":\"sel-v2\"}, "
      "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable";
  Result refused = run({"apply", "-f", "-"}, renamed);
  EXPECT_EQ(refused.status, 1);
  EXPECT_NE(refused.err.find(refusal), std::string::npos) << refused.err;
  EXPECT_NE(refused.err.find("hint: a Deployment's selector cannot change once created; "
                             "`apply --force` deletes it"),
            std::string::npos)
      << refused.err;
  Result patched = run({"patch", "deploy/sel", "--type", "merge", "-p",
                        R"({"spec":{"selector":{"matchLabels":{"app":"other"}},)"
                        R"("template":{"metadata":{"labels":{"app":"other"}}}}})"});
  EXPECT_EQ(patched.status, 1);
  EXPECT_NE(patched.err.find("spec.selector: Invalid value: v1.LabelSelector{MatchLabels:"
                             "map[string]string{\"app\":\"other\"}"),
            std::string::npos)
      << patched.err;
  EXPECT_EQ(object("deploy/sel")["spec"]["selector"]["matchLabels"]["app"], "sel");

  Result forced = run({"apply", "--force", "-f", "-"}, renamed);
  EXPECT_EQ(forced.status, 0) << forced.err;
  EXPECT_EQ(forced.out,
            "deployment.apps/sel replaced (spec.selector changed, and it cannot be updated: "
            "deleted and created again)\n");
  const Json now = object("deploy/sel");
  EXPECT_EQ(now["spec"]["selector"]["matchLabels"]["app"], "sel-v2");
  EXPECT_NE(now["metadata"]["uid"], uid);
  // The old ReplicaSet, owned by the Deployment that was deleted, is collected; the new one
  // selects the new labels.
  EXPECT_TRUE(ticketctl::testing::eventually(
      [&] {
        return run({"get", "rs", "-l", "app=sel", "-o", "name"}).out.empty() &&
               !run({"get", "rs", "-l", "app=sel-v2", "-o", "name"}).out.empty();
      },
      std::chrono::seconds(30)));
  // Applied again, the same manifest is unchanged: nothing is replaced twice.
  EXPECT_EQ(run({"apply", "--force", "-f", "-"}, renamed).out, "deployment.apps/sel unchanged\n");
}

TEST_F(VerbsTest, AnImmutableConfigMapsNewDataIsRefusedAndApplyForceReplacesIt) {
  auto config_map = [](const std::string& value) {
    return "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: frozen}\nimmutable: true\n"
           "data: {a: \"" +
           value + "\"}\n";
  };
  ASSERT_EQ(run({"apply", "-f", "-"}, config_map("1")).status, 0);
  const std::string uid = object("cm/frozen")["metadata"]["uid"];

  Result refused = run({"apply", "-f", "-"}, config_map("2"));
  EXPECT_EQ(refused.status, 1);
  EXPECT_EQ(refused.err,
            "Error from server (Invalid): ConfigMap \"frozen\" is invalid: data: Forbidden: "
            "field is immutable when `immutable` is set\n"
            "hint: an immutable ConfigMap's data cannot change; `apply --force` deletes it and "
            "creates it again, or delete it first\n");
  EXPECT_EQ(object("cm/frozen")["data"]["a"], "1");

  Result forced = run({"apply", "--force", "-f", "-"}, config_map("2"));
  EXPECT_EQ(forced.status, 0) << forced.err;
  EXPECT_EQ(forced.out,
            "configmap/frozen replaced (it is immutable and its data changed, so it cannot be "
            "updated: deleted and created again)\n");
  Json now = object("cm/frozen");
  EXPECT_EQ(now["data"]["a"], "2");
  EXPECT_NE(now["metadata"]["uid"], uid);
  EXPECT_EQ(run({"apply", "--force", "-f", "-"}, config_map("2")).out,
            "configmap/frozen unchanged\n");

  // A replacement the server refuses (its last-applied annotation is over the 256 KiB that
  // annotations may hold) leaves the ConfigMap as it was, created again.
  Result too_long = run({"apply", "--force", "-f", "-"}, config_map(std::string(300000, 'x')));
  EXPECT_EQ(too_long.status, 1);
  EXPECT_NE(too_long.err.find("metadata.annotations: Too long: must have at most 262144 bytes\n"
                              "configmap/frozen was deleted to be replaced, and the replacement "
                              "was refused: it is created again as it was\n"),
            std::string::npos)
      << too_long.err;
  now = object("cm/frozen");
  EXPECT_EQ(now["data"]["a"], "2");
  EXPECT_EQ(now["immutable"], true);
}

}  // namespace
