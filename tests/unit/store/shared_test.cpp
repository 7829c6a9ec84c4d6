// The store's lock handle: one holder at a time, a transaction inside it, writes of two threads
// never interleaved within one holder's scope.
#include "runtime/store/shared.h"

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "tests/support/temp_dir.h"

namespace ticketctl::store {
namespace {

static_assert(!std::is_copy_constructible_v<Shared::Locked>,
              "one holder: the handle is not copied");
static_assert(std::is_nothrow_move_constructible_v<Shared::Locked>, "it can be returned");
static_assert(!std::is_default_constructible_v<Shared::Locked>, "only Shared::lock() makes one");

Json config_map(const std::string& name, const std::string& value) {
  return Json{{"apiVersion", "v1"},
              {"kind", "ConfigMap"},
              {"metadata", {{"name", name}, {"namespace", "default"}}},
              {"data", {{"KEY", value}}}};
}

class SharedStoreTest : public ::testing::Test {
 protected:
  std::unique_ptr<Store> open() {
    auto r = Store::open(tmp_.path() / "state.db");
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
    return std::move(r.value());
  }
  testing::TempDir tmp_{"ticketctl-shared"};
};

// While one handle lives, another thread's lock() waits; it then sees the first holder's write.
TEST_F(SharedStoreTest, ASecondHolderWaitsForTheFirstAndSeesItsWrites) {
  Shared shared(open());
  std::future<bool> second;
  {
    Shared::Locked s = shared.lock();
    second = std::async(std::launch::async, [&shared] {
      Shared::Locked t = shared.lock();
      const bool saw_first = t->get({"configmaps", "default", "first"}).ok();
      return saw_first && t->create("configmaps", config_map("second", "2")).ok();
    });
    // Not a synchronisation: a bound on how long the other thread is given to (wrongly) get in.
    EXPECT_EQ(second.wait_for(std::chrono::milliseconds(100)), std::future_status::timeout);
    ASSERT_TRUE(s->create("configmaps", config_map("first", "1")).ok());
  }
  EXPECT_TRUE(second.get());
  EXPECT_TRUE(shared.lock()->get({"configmaps", "default", "second"}).ok());
}

// Two threads each write a pair of objects per holding: the committed writes, in resourceVersion
// order as the observer hears them, come in pairs of one thread, and no increment is lost.
TEST_F(SharedStoreTest, WritesOfTwoThreadsAreSerialisedByHolding) {
  std::unique_ptr<Store> store = open();
  std::vector<std::string> heard;  // written by the observer, under the lock
  store->set_observer(
      [&heard](const Event& e) { heard.push_back(e.object["data"]["KEY"].get<std::string>()); });
  ASSERT_TRUE(store->create("configmaps", config_map("counter", "0")).ok());
  heard.clear();
  Shared shared(std::move(store));
  constexpr int kRounds = 200;
  auto writer = [&shared](const std::string& who) {
    for (int i = 0; i < kRounds; ++i) {
      Shared::Locked s = shared.lock();
      Result<Json> counter = s->get({"configmaps", "default", "counter"});
      if (!counter.ok()) return false;
      Json next = counter.value();
      next["data"]["KEY"] = std::to_string(std::stoi(next["data"]["KEY"].get<std::string>()) + 1);
      if (!s->create("configmaps", config_map(who + "-" + std::to_string(i), who)).ok() ||
          !s->update("configmaps", next).ok())
        return false;
    }
    return true;
  };
  std::future<bool> a = std::async(std::launch::async, writer, "a");
  std::future<bool> b = std::async(std::launch::async, writer, "b");
  ASSERT_TRUE(a.get());
  ASSERT_TRUE(b.get());
  Shared::Locked s = shared.lock();
  EXPECT_EQ(s->get({"configmaps", "default", "counter"}).value()["data"]["KEY"], "400");
  ASSERT_EQ(heard.size(), 2u * 2 * kRounds);
  // Each holding is a marker ("a" or "b") followed by that holding's counter value.
  int expected = 0;
  for (size_t i = 0; i < heard.size(); i += 2) {
    EXPECT_TRUE(heard[i] == "a" || heard[i] == "b") << "position " << i << ": " << heard[i];
    EXPECT_EQ(heard[i + 1], std::to_string(++expected)) << "position " << i + 1;
  }
}

// A transaction (and a savepoint inside it) lives inside one holding; a rollback undoes its
// writes for the next holder, and a moved handle keeps the lock.
TEST_F(SharedStoreTest, TransactionsNestInsideAHolding) {
  Shared shared(open());
  {
    Shared::Locked s = shared.lock();
    Store::Transaction outer = s->transaction();
    ASSERT_TRUE(s->create("configmaps", config_map("kept", "1")).ok());
    {
      Store::Transaction inner = s->transaction();
      ASSERT_TRUE(s->create("configmaps", config_map("undone", "2")).ok());
      inner.rollback();
    }
    ASSERT_TRUE(outer.commit().ok());
  }
  {
    Shared::Locked s = shared.lock();
    Store::Transaction tx = s->transaction();
    ASSERT_TRUE(s->create("configmaps", config_map("dropped", "3")).ok());
  }  // not committed: rolled back before the lock is released
  Shared::Locked moved = [&shared] {
    Shared::Locked s = shared.lock();
    return s;
  }();
  EXPECT_TRUE(moved->get({"configmaps", "default", "kept"}).ok());
  EXPECT_FALSE(moved->get({"configmaps", "default", "undone"}).ok());
  EXPECT_FALSE(moved->get({"configmaps", "default", "dropped"}).ok());
  std::future<bool> other = std::async(std::launch::async, [&shared] {
    return shared.lock()->get({"configmaps", "default", "kept"}).ok();
  });
  EXPECT_EQ(other.wait_for(std::chrono::milliseconds(50)), std::future_status::timeout);
  { Shared::Locked release = std::move(moved); }
  EXPECT_TRUE(other.get());
}

}  // namespace
}  // namespace ticketctl::store
