// The store's memory and its database agree through nested transactions, rollbacks and
// reopening; watchers hear only of committed writes; snapshots do not move under a writer.
#include <gtest/gtest.h>

#include <vector>

#include "runtime/store/store.h"
#include "tests/support/temp_dir.h"

namespace ticketctl::store {
namespace {

Json config_map(const std::string& name, const std::string& value) {
  return Json{{"apiVersion", "v1"},
              {"kind", "ConfigMap"},
              {"metadata", {{"name", name}, {"namespace", "default"}}},
              {"data", {{"KEY", value}}}};
}

class TransactionTest : public ::testing::Test {
 protected:
  std::unique_ptr<Store> open() {
    auto r = Store::open(tmp_.path() / "state.db");
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
    auto s = std::move(r.value());
    s->set_observer([this](const Event& e) {
      heard_.push_back(e.object["metadata"]["name"].get<std::string>());
    });
    return s;
  }
  std::vector<std::string> names(const Store& s) {
    std::vector<std::string> out;
    for (const ObjectRef& o : s.items("configmaps", "default"))
      out.push_back((*o)["metadata"]["name"].get<std::string>());
    return out;
  }
  testing::TempDir tmp_{"ticketctl-tx"};
  std::vector<std::string> heard_;
};

TEST_F(TransactionTest, ARolledBackTransactionLeavesMemoryDatabaseAndWatchersAsTheyWere) {
  auto s = open();
  ASSERT_TRUE(s->create("configmaps", config_map("kept", "1")).ok());
  const int64_t rv = s->resource_version();
  heard_.clear();
  {
    Store::Transaction tx = s->transaction();
    ASSERT_TRUE(tx.began());
    ASSERT_TRUE(s->create("configmaps", config_map("gone", "1")).ok());
    ASSERT_TRUE(s->update("configmaps", config_map("kept", "2")).ok());
    ASSERT_TRUE(s->remove({"configmaps", "default", "kept"}).ok());
    // Inside the transaction its own writes are visible.
    EXPECT_EQ(names(*s), std::vector<std::string>{"gone"});
  }  // not committed
  EXPECT_EQ(names(*s), std::vector<std::string>{"kept"});
  EXPECT_EQ(s->get({"configmaps", "default", "kept"}).value()["data"]["KEY"], "1");
  EXPECT_EQ(s->resource_version(), rv);
  EXPECT_TRUE(heard_.empty());
  s.reset();
  auto reopened = open();
  EXPECT_EQ(names(*reopened), std::vector<std::string>{"kept"});
  EXPECT_EQ(reopened->resource_version(), rv);
}

TEST_F(TransactionTest, NestedTransactionsCommitWithTheOutermostAndRollBackAlone) {
  auto s = open();
  Store::Transaction outer = s->transaction();
  ASSERT_TRUE(s->create("configmaps", config_map("a", "1")).ok());
  {
    Store::Transaction inner = s->transaction();
    ASSERT_TRUE(s->create("configmaps", config_map("b", "1")).ok());
  }  // the inner one alone is undone
  {
    Store::Transaction inner = s->transaction();
    ASSERT_TRUE(s->create("configmaps", config_map("c", "1")).ok());
    ASSERT_TRUE(inner.commit().ok());
  }
  // A failing batch (a nameless object) is all or nothing inside the outer transaction too.
  Json nameless = config_map("x", "1");
  nameless["metadata"].erase("name");
  EXPECT_FALSE(s->apply({{"configmaps", config_map("d", "1")}, {"configmaps", nameless}}).ok());
  EXPECT_EQ(names(*s), (std::vector<std::string>{"a", "c"}));
  EXPECT_TRUE(heard_.empty());  // nothing is committed yet
  ASSERT_TRUE(outer.commit().ok());
  EXPECT_EQ(heard_, (std::vector<std::string>{"a", "c"}));
  s.reset();
  EXPECT_EQ(names(*open()), (std::vector<std::string>{"a", "c"}));
}

TEST_F(TransactionTest, ASnapshotStaysAsItWasWhileTheStoreMovesOn) {
  auto s = open();
  ASSERT_TRUE(s->create("configmaps", config_map("a", "1")).ok());
  const std::vector<ObjectRef> before = s->items("configmaps", "");
  ASSERT_TRUE(s->update("configmaps", config_map("a", "2")).ok());
  ASSERT_TRUE(s->remove({"configmaps", "default", "a"}).ok());
  ASSERT_EQ(before.size(), 1u);
  EXPECT_EQ((*before[0])["data"]["KEY"], "1");
  EXPECT_TRUE(s->items("configmaps", "").empty());
  EXPECT_EQ(s->find({"configmaps", "default", "a"}), nullptr);
}

TEST_F(TransactionTest, ListingByNamespaceKeepsTheDatabaseOrder) {
  auto s = open();
  for (const char* ns : {"b", "a", "ab"})
    for (const char* name : {"y", "x"}) {
      Json cm = config_map(name, "1");
      cm["metadata"]["namespace"] = ns;
      ASSERT_TRUE(s->create("configmaps", cm).ok());
    }
  std::vector<std::string> all;
  for (const ObjectRef& o : s->items("configmaps", ""))
    all.push_back((*o)["metadata"]["namespace"].get<std::string>() + "/" +
                  (*o)["metadata"]["name"].get<std::string>());
  EXPECT_EQ(all, (std::vector<std::string>{"a/x", "a/y", "ab/x", "ab/y", "b/x", "b/y"}));
  EXPECT_EQ(s->list("configmaps", "a").size(), 2u);
  EXPECT_TRUE(s->list("configmaps", "c").empty());
  EXPECT_TRUE(s->list("secrets", "").empty());
}

TEST_F(TransactionTest, AnUnchangedApplyComparesWhatTheUserWroteNotKeyOrderOrServerFields) {
  auto s = open();
  ASSERT_TRUE(s->create("configmaps", config_map("a", "1")).ok());
  Json reordered = {{"data", {{"KEY", "1"}}},
                    {"metadata", {{"namespace", "default"}, {"name", "a"}}},
                    {"kind", "ConfigMap"},
                    {"apiVersion", "v1"}};
  auto applied = s->apply({{"configmaps", reordered}});
  ASSERT_TRUE(applied.ok());
  EXPECT_EQ(applied.value()[0].outcome, Outcome::Unchanged);
  Json labelled = config_map("a", "1");
  labelled["metadata"]["labels"] = {{"tier", "web"}};
  applied = s->apply({{"configmaps", labelled}});
  ASSERT_TRUE(applied.ok());
  EXPECT_EQ(applied.value()[0].outcome, Outcome::Configured);
  // Taking the label away again is a change too.
  applied = s->apply({{"configmaps", config_map("a", "1")}});
  ASSERT_TRUE(applied.ok());
  EXPECT_EQ(applied.value()[0].outcome, Outcome::Configured);
}

}  // namespace
}  // namespace ticketctl::store
