#pragma once
// Desired state: Kubernetes objects as JSON in an embedded SQLite database (the k3s/kine idea),
// keyed by resource/namespace/name, with a global resourceVersion, uid, generation and
// creationTimestamp kept as the API server keeps them. Every write is one transaction, so a
// control plane killed mid-write leaves the object wholly there or wholly absent.
//
// Reads never touch SQLite: every object is also held parsed in memory (loaded at open, kept in
// step with each write), because the controllers read everything on every pass and parsing
// stored JSON per read made each write cost O(all objects). Stored objects are immutable
// shared values: a write replaces the pointer, so an `items()` snapshot stays valid (and
// unchanged) while the store moves on.
//
// Not thread-safe: the control plane shares it as a store::Shared (shared.h), whose handle holds
// its one mutex, and one process opens a state directory's store at a time (the control plane
// holds the directory's lock), which is what makes the in-memory copy authoritative.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "runtime/core/result.h"
#include "runtime/manifest/json.h"

struct sqlite3;
struct sqlite3_stmt;

namespace ticketctl::store {

struct Key {
  std::string resource;  // plural, with group for non-core: "pods", "deployments.apps"
  std::string ns;        // empty for cluster-scoped resources
  std::string name;
};

enum class Outcome { Created, Configured, Unchanged };

// A committed change, as watchers see it. `object` carries its new resourceVersion.
struct Event {
  enum class Type { Added, Modified, Deleted } type;
  std::string resource;
  Json object;
};

struct Applied {
  Outcome outcome;
  Json object;
};

// A stored object; never modified in place.
using ObjectRef = std::shared_ptr<const Json>;

class Store {
 public:
  // Opens or creates the database (WAL; the file and its journals are mode 0600) and reads
  // every object into memory.
  static Result<std::unique_ptr<Store>> open(const std::filesystem::path& file);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // A unit of writes: everything written while it is open is undone (in the database and in
  // memory) unless commit() is called; watchers hear of the writes only once the outermost
  // transaction commits. Transactions nest (an inner one is a savepoint) and must end in the
  // reverse order they began, which scopes give.
  class Transaction {
   public:
    ~Transaction();
    Transaction(Transaction&& other) noexcept;
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;
    Transaction& operator=(Transaction&&) = delete;
    bool began() const { return store_ != nullptr; }
    Result<bool> commit();
    void rollback();

   private:
    friend class Store;
    explicit Transaction(Store* store);
    Store* store_ = nullptr;
    size_t undo_mark_ = 0, events_mark_ = 0;
    int64_t rv_mark_ = 0;
    int depth_ = 0;
  };
  Transaction transaction();

  // AlreadyExists when the key is taken. Sets uid, resourceVersion, generation 1 and
  // creationTimestamp; other server-set metadata the caller sent is replaced.
  Result<Json> create(const std::string& resource, Json object);
  // NotFound when absent; Conflict when the object carries a resourceVersion that is not the
  // stored one. Keeps uid and creationTimestamp; bumps generation when `spec` changed.
  Result<Json> update(const std::string& resource, Json object);
  Result<Json> get(const Key& key) const;
  // The stored object without a copy; nullptr when absent. Valid until the next write.
  const Json* find(const Key& key) const;
  // Objects of a resource in a namespace (all namespaces when `ns` is empty), by namespace and
  // name: copies.
  std::vector<Json> list(const std::string& resource, const std::string& ns) const;
  // The same, without copying: a snapshot that later writes do not change.
  std::vector<ObjectRef> items(const std::string& resource, const std::string& ns) const;
  // Returns the object as it was; NotFound when absent.
  Result<Json> remove(const Key& key);
  // Replaces only `status` (the status subresource): what controllers write. Bumps
  // resourceVersion, not generation; unchanged status writes nothing.
  Result<Json> update_status(const Key& key, Json status);

  // kubectl apply for a batch: each object is created, updated when its content differs, or
  // left alone. All or nothing: on any error no object of the batch is written.
  Result<std::vector<Applied>> apply(const std::vector<std::pair<std::string, Json>>& batch);

  // The highest resourceVersion handed out so far.
  int64_t resource_version() const { return rv_; }

  // A number that grows whenever an object of `resource` is written or deleted (also by a write
  // a transaction later rolls back): a controller that saw the same number saw the same objects.
  uint64_t changes_of(std::string_view resource) const {
    auto it = changes_.find(resource);
    return it == changes_.end() ? 0 : it->second;
  }

  // Called after every committed change, on the writer's thread, in resourceVersion order
  // (writers hold one lock); watches are fed from here.
  void set_observer(std::function<void(const Event&)> observer) { observer_ = std::move(observer); }

  // Called inside every create/update/apply before anything is compared or written, with the
  // stored object when there is one: the API server's admission step (allocating a Service's
  // ClusterIP and nodePorts, keeping them across updates that leave them out). An error rejects
  // the write, and the whole batch with it.
  using Admission = std::function<Result<bool>(Store&, const std::string& resource, Json& object,
                                               const Json* old)>;
  void set_admission(Admission admission) { admission_ = std::move(admission); }

 private:
  // (namespace, name) ordered as the database's primary key orders them.
  using Name = std::pair<std::string, std::string>;
  struct NameLess {
    using is_transparent = void;
    template <class A, class B>
    bool operator()(const A& a, const B& b) const {
      return std::pair<std::string_view, std::string_view>(a.first, a.second) <
             std::pair<std::string_view, std::string_view>(b.first, b.second);
    }
  };
  using Objects = std::map<Name, ObjectRef, NameLess>;
  struct Undo {
    std::string resource;
    Name name;
    ObjectRef previous;  // nullptr: the key was absent
  };

  explicit Store(sqlite3* db) : db_(db) {}
  Result<bool> load();
  Result<Json> write(const std::string& resource, Json object, bool must_exist, bool must_not_exist,
                     Outcome* outcome);
  // Puts `object` (or, when null, the key's absence) into memory and the database.
  Result<bool> put(const std::string& resource, const std::string& ns, const std::string& name,
                   ObjectRef object);
  bool exec(const char* sql);
  sqlite3_stmt* statement(const char* sql);  // prepared once, reset for each use
  int64_t next_resource_version();           // 0 on failure; inside the caller's transaction
  void notify(Event::Type type, const std::string& resource, const Json& object);

  sqlite3* db_;
  std::map<std::string, Objects, std::less<>> objects_;   // by resource
  std::map<std::string, uint64_t, std::less<>> changes_;  // by resource
  std::map<const char*, sqlite3_stmt*> statements_;
  std::vector<Undo> undo_;  // writes of the open transactions, oldest first
  std::vector<Event> pending_;
  int depth_ = 0;
  int64_t rv_ = 0;
  std::function<void(const Event&)> observer_;
  Admission admission_;
};

}  // namespace ticketctl::store
