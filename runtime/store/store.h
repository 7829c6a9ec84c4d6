#pragma once
// Desired state: Kubernetes objects as JSON in an embedded SQLite database (the k3s/kine idea),
// keyed by resource/namespace/name, with a global resourceVersion, uid, generation and
// creationTimestamp kept as the API server keeps them. Every write is one transaction, so a
// control plane killed mid-write leaves the object wholly there or wholly absent.
// Not thread-safe: the control plane calls it from one thread, and one process opens a state
// directory's store at a time (the control plane holds the directory's lock).

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "runtime/core/result.h"
#include "runtime/manifest/json.h"

struct sqlite3;

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

class Store {
 public:
  // Opens or creates the database (WAL; the file and its journals are mode 0600).
  static Result<std::unique_ptr<Store>> open(const std::filesystem::path& file);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // AlreadyExists when the key is taken. Sets uid, resourceVersion, generation 1 and
  // creationTimestamp; other server-set metadata the caller sent is replaced.
  Result<Json> create(const std::string& resource, Json object);
  // NotFound when absent; Conflict when the object carries a resourceVersion that is not the
  // stored one. Keeps uid and creationTimestamp; bumps generation when `spec` changed.
  Result<Json> update(const std::string& resource, Json object);
  Result<Json> get(const Key& key) const;
  // Objects of a resource in a namespace (all namespaces when `ns` is empty), by name.
  std::vector<Json> list(const std::string& resource, const std::string& ns) const;
  // Returns the object as it was; NotFound when absent.
  Result<Json> remove(const Key& key);
  // Replaces only `status` (the status subresource): what controllers write. Bumps
  // resourceVersion, not generation; unchanged status writes nothing.
  Result<Json> update_status(const Key& key, Json status);

  // kubectl apply for a batch: each object is created, updated when its content differs, or
  // left alone. All or nothing: on any error no object of the batch is written.
  Result<std::vector<Applied>> apply(const std::vector<std::pair<std::string, Json>>& batch);

  // The highest resourceVersion handed out so far.
  int64_t resource_version() const;

  // Called after every committed change, on the writer's thread, in resourceVersion order
  // (writers hold one lock); watches are fed from here.
  void set_observer(std::function<void(const Event&)> observer) { observer_ = std::move(observer); }

  // Called inside every create/update/apply before anything is compared or written, with the
  // stored object when there is one: the API server's admission step (allocating a Service's
  // ClusterIP and nodePorts, keeping them across updates that leave them out). An error rejects
  // the write, and the whole batch with it.
  using Admission =
      std::function<Result<bool>(Store&, const std::string& resource, Json& object, const Json* old)>;
  void set_admission(Admission admission) { admission_ = std::move(admission); }

 private:
  explicit Store(sqlite3* db) : db_(db) {}
  Result<Json> write(const std::string& resource, Json object, bool must_exist, bool must_not_exist,
                     Outcome* outcome);
  bool exec(const char* sql);
  int64_t next_resource_version();  // 0 on failure; inside the caller's transaction

  void notify(Event::Type type, const std::string& resource, const Json& object) {
    if (observer_) observer_(Event{type, resource, object});
  }

  sqlite3* db_;
  std::function<void(const Event&)> observer_;
  Admission admission_;
};

// "2026-11-25T22:06:16Z", as Kubernetes writes timestamps.
std::string rfc3339_now();
// The same for a moment `from_now` ahead (a deletionTimestamp).
std::string rfc3339_after(std::chrono::seconds from_now);

}  // namespace ticketctl::store
