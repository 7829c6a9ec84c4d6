#include "runtime/store/store.h"

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "tests/support/temp_dir.h"

#include <chrono>
#include <filesystem>
#include <map>

namespace ticketctl::store {
namespace {
namespace fs = std::filesystem;

class StoreTest : public ::testing::Test {
 protected:
  std::unique_ptr<Store> open() {
    auto r = Store::open(dir_ / "state.db");
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
    return std::move(r.value());
  }
  static Json deployment(const std::string& name, int replicas, const std::string& ns = "default") {
    return Json{{"apiVersion", "apps/v1"},
                {"kind", "Deployment"},
                {"metadata", {{"name", name}, {"namespace", ns}}},
                {"spec", {{"replicas", replicas}}}};
  }
  ticketctl::testing::TempDir tmp_{"ticketctl-store"};
  const fs::path& dir_ = tmp_.path();
};

TEST_F(StoreTest, CreateSetsServerFieldsAndGetReturnsTheObject) {
  auto s = open();
  auto created = s->create("deployments.apps", deployment("posts-depl", 1));
  ASSERT_TRUE(created.ok()) << created.error().message;
  const Json& meta = created.value()["metadata"];
  EXPECT_EQ(meta["resourceVersion"], "1");
  EXPECT_EQ(meta["generation"], 1);
  EXPECT_EQ(meta["uid"].get<std::string>().size(), 36u);
  EXPECT_TRUE(meta["creationTimestamp"].get<std::string>().ends_with("Z"));
  auto got = s->get({"deployments.apps", "default", "posts-depl"});
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got.value(), created.value());

  auto again = s->create("deployments.apps", deployment("posts-depl", 2));
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, ErrorCode::AlreadyExists);
  EXPECT_EQ(again.error().message, "deployments.apps \"posts-depl\" already exists");
  EXPECT_EQ(s->resource_version(), 1);
}

TEST_F(StoreTest, UpdateWithAStaleResourceVersionConflicts) {
  auto s = open();
  Json v1 = s->create("deployments.apps", deployment("posts-depl", 1)).value();
  Json edit = v1;
  edit["spec"]["replicas"] = 3;
  auto v2 = s->update("deployments.apps", edit);
  ASSERT_TRUE(v2.ok()) << v2.error().message;
  EXPECT_EQ(v2.value()["metadata"]["resourceVersion"], "2");
  EXPECT_EQ(v2.value()["metadata"]["generation"], 2);  // spec changed
  EXPECT_EQ(v2.value()["metadata"]["uid"], v1["metadata"]["uid"]);

  auto stale = s->update("deployments.apps", edit);  // still carries resourceVersion "1"
  ASSERT_FALSE(stale.ok());
  EXPECT_EQ(stale.error().code, ErrorCode::Conflict);
  EXPECT_EQ(s->get({"deployments.apps", "default", "posts-depl"}).value()["spec"]["replicas"], 3);

  Json labels_only = v2.value();
  labels_only["metadata"]["labels"] = {{"app", "posts"}};
  auto v3 = s->update("deployments.apps", labels_only);
  ASSERT_TRUE(v3.ok());
  EXPECT_EQ(v3.value()["metadata"]["generation"], 2);  // metadata is not spec

  auto missing = s->update("deployments.apps", deployment("nope", 1));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::NotFound);
}

TEST_F(StoreTest, StatusBelongsToControllers) {
  auto s = open();
  Json v1 = s->create("deployments.apps", deployment("posts-depl", 1)).value();
  auto with_status =
      s->update_status({"deployments.apps", "default", "posts-depl"}, {{"replicas", 1}});
  ASSERT_TRUE(with_status.ok());
  EXPECT_EQ(with_status.value()["metadata"]["generation"], 1);
  EXPECT_EQ(with_status.value()["metadata"]["resourceVersion"], "2");
  // A user's update without status (kubectl apply) keeps the controller's status.
  auto v3 = s->update("deployments.apps", deployment("posts-depl", 3));
  ASSERT_TRUE(v3.ok());
  EXPECT_EQ(v3.value()["status"]["replicas"], 1);
  EXPECT_EQ(v3.value()["metadata"]["resourceVersion"], "3");
  EXPECT_EQ(v3.value()["metadata"]["generation"], 2);
  // The same status again writes nothing.
  auto same = s->update_status({"deployments.apps", "default", "posts-depl"}, {{"replicas", 1}});
  EXPECT_EQ(same.value()["metadata"]["resourceVersion"], "3");
  EXPECT_EQ(s->update_status({"deployments.apps", "default", "nope"}, {}).error().code,
            ErrorCode::NotFound);
}

TEST_F(StoreTest, ListByNamespaceAndRemove) {
  auto s = open();
  ASSERT_TRUE(s->create("deployments.apps", deployment("b", 1)).ok());
  ASSERT_TRUE(s->create("deployments.apps", deployment("a", 1)).ok());
  ASSERT_TRUE(s->create("deployments.apps", deployment("a", 1, "blog")).ok());
  EXPECT_EQ(s->list("deployments.apps", "default").size(), 2u);
  EXPECT_EQ(s->list("deployments.apps", "default")[0]["metadata"]["name"], "a");
  EXPECT_EQ(s->list("deployments.apps", "").size(), 3u);
  EXPECT_TRUE(s->list("services", "").empty());

  auto removed = s->remove({"deployments.apps", "default", "a"});
  ASSERT_TRUE(removed.ok());
  EXPECT_EQ(removed.value()["metadata"]["resourceVersion"], "4");
  EXPECT_EQ(s->get({"deployments.apps", "default", "a"}).error().code, ErrorCode::NotFound);
  EXPECT_EQ(s->remove({"deployments.apps", "default", "a"}).error().code, ErrorCode::NotFound);
}

TEST_F(StoreTest, ApplyReportsCreatedConfiguredUnchangedAndIsAllOrNothing) {
  auto s = open();
  auto first = s->apply({{"deployments.apps", deployment("posts-depl", 1)},
                         {"deployments.apps", deployment("query-depl", 1)}});
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first.value()[0].outcome, Outcome::Created);
  auto second = s->apply({{"deployments.apps", deployment("posts-depl", 1)},
                          {"deployments.apps", deployment("query-depl", 2)}});
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second.value()[0].outcome, Outcome::Unchanged);
  EXPECT_EQ(second.value()[1].outcome, Outcome::Configured);
  const int64_t rv = s->resource_version();

  Json stale = deployment("query-depl", 5);
  stale["metadata"]["resourceVersion"] = "1";
  auto third =
      s->apply({{"deployments.apps", deployment("new-depl", 1)}, {"deployments.apps", stale}});
  ASSERT_FALSE(third.ok());
  EXPECT_EQ(third.error().code, ErrorCode::Conflict);
  EXPECT_EQ(s->get({"deployments.apps", "default", "new-depl"}).error().code, ErrorCode::NotFound);
  EXPECT_EQ(s->resource_version(), rv);
}

TEST_F(StoreTest, StatePersistsAcrossReopenInPrivateFiles) {
  {
    auto s = open();
    ASSERT_TRUE(
        s->create("secrets", Json{{"metadata", {{"name", "jwt-secret"}, {"namespace", "default"}}}})
            .ok());
  }
  auto s = open();
  EXPECT_TRUE(s->get({"secrets", "default", "jwt-secret"}).ok());
  EXPECT_EQ(s->resource_version(), 1);
  ASSERT_TRUE(
      s->create("secrets", Json{{"metadata", {{"name", "other"}, {"namespace", "default"}}}}).ok());
  EXPECT_EQ(s->resource_version(), 2);
  for (const auto& e : fs::directory_iterator(dir_)) {
    struct stat st {};
    ASSERT_EQ(::stat(e.path().c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u) << e.path();
  }
}

// A control plane killed with SIGKILL in the middle of applying batches leaves every batch
// either wholly stored or wholly absent.
TEST_F(StoreTest, KillDuringWritesLeavesWholeBatches) {
  constexpr int kPerBatch = 40;
  // The database exists before the writer starts, as it does under a restarted control plane.
  auto reader = open();
  const pid_t child = ::fork();
  if (child == 0) {
    auto r = Store::open(dir_ / "state.db");  // its own connection: none crosses a fork
    if (!r.ok()) {
      fprintf(stderr, "%s\n", r.error().message.c_str());
      ::_exit(2);
    }
    for (int batch = 0;; ++batch) {
      std::vector<std::pair<std::string, Json>> objects;
      for (int i = 0; i < kPerBatch; ++i) {
        Json o = deployment("d-" + std::to_string(batch) + "-" + std::to_string(i), 1);
        o["metadata"]["labels"] = {{"batch", std::to_string(batch)}};
        objects.emplace_back("deployments.apps", std::move(o));
      }
      if (!r.value()->apply(objects).ok()) ::_exit(3);
    }
  }
  ASSERT_GT(child, 0);
  // Wait (with a deadline) until some batches are in, then kill mid-stream.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  int status = 0;
  bool exited = false;
  while (reader->resource_version() < 5 * kPerBatch &&
         std::chrono::steady_clock::now() < deadline) {
    if (::waitpid(child, &status, WNOHANG) == child) {
      exited = true;
      break;
    }
  }
  ASSERT_FALSE(exited) << "writer exited by itself: " << WEXITSTATUS(status);
  ASSERT_EQ(::kill(child, SIGKILL), 0);
  ::waitpid(child, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status)) << "writer exited by itself: " << WEXITSTATUS(status);
  reader.reset();

  auto s = open();
  std::map<std::string, int> per_batch;
  for (const Json& o : s->list("deployments.apps", "default"))
    ++per_batch[o["metadata"]["labels"]["batch"]];
  ASSERT_GE(per_batch.size(), 5u);
  for (const auto& [batch, count] : per_batch) EXPECT_EQ(count, kPerBatch) << "batch " << batch;
  EXPECT_EQ(s->resource_version(), static_cast<int64_t>(per_batch.size()) * kPerBatch);
}

}  // namespace
}  // namespace ticketctl::store
