#include "runtime/store/store.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cassert>
#include <chrono>
#include <cstring>
#include <ctime>
#include <random>

#include "runtime/core/rfc3339.h"

namespace ticketctl::store {
namespace {

// A prepared statement the store keeps; reset and unbound when this use ends, so the next use
// starts clean and no half-stepped statement keeps a transaction from ending.
class Use {
 public:
  explicit Use(sqlite3_stmt* stmt) : stmt_(stmt) {}
  ~Use() {
    if (stmt_) {
      sqlite3_reset(stmt_);
      sqlite3_clear_bindings(stmt_);
    }
  }
  Use(const Use&) = delete;
  Use& operator=(const Use&) = delete;
  bool ok() const { return stmt_ != nullptr; }
  Use& bind(int i, const std::string& s) {
    sqlite3_bind_text(stmt_, i, s.data(), static_cast<int>(s.size()), SQLITE_STATIC);
    return *this;
  }
  Use& bind(int i, int64_t v) {
    sqlite3_bind_int64(stmt_, i, v);
    return *this;
  }
  int step() { return sqlite3_step(stmt_); }
  std::string_view text(int col) const {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
    return p ? std::string_view(p, static_cast<size_t>(sqlite3_column_bytes(stmt_, col)))
             : std::string_view();
  }
  int64_t integer(int col) const { return sqlite3_column_int64(stmt_, col); }

 private:
  sqlite3_stmt* stmt_;
};

constexpr const char* kPut =
    "INSERT OR REPLACE INTO objects (resource, namespace, name, body) VALUES (?, ?, ?, ?)";
constexpr const char* kDelete =
    "DELETE FROM objects WHERE resource = ? AND namespace = ? AND name = ?";
constexpr const char* kSetVersion = "UPDATE counters SET value = ? WHERE name = 'resourceVersion'";

Error internal(sqlite3* db, std::string_view what) {
  return Error{ErrorCode::Internal, fmt::format("store: {}: {}", what, sqlite3_errmsg(db))};
}

std::string new_uid() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  const uint64_t a = rng(), b = rng();
  // UUID version 4, variant 1.
  return fmt::format("{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}", a >> 32, (a >> 16) & 0xffff, a & 0xfff,
                     ((b >> 48) & 0x3fff) | 0x8000, b & 0xffffffffffffULL);
}

std::string meta_string(const Json& object, const char* field) {
  const Json& v = json_at(json_at(object, "metadata"), field);
  return v.is_string() ? v.get<std::string>() : std::string();
}

// Server-kept metadata, which apply does not compare.
bool server_metadata(std::string_view key) {
  return key == "uid" || key == "resourceVersion" || key == "generation" ||
         key == "creationTimestamp" || key == "managedFields" || key == "selfLink";
}

// `a` and `b` have the same members apart from those `skip` names, each equal (or, for
// "metadata" at the top, the same apart from server-kept fields). No copies: apply compares
// every object it is sent.
bool same_members(const Json& a, const Json& b, bool (*skip)(std::string_view), bool top) {
  if (!a.is_object() || !b.is_object()) return a == b;
  size_t counted = 0;
  for (auto it = a.begin(); it != a.end(); ++it) {
    if (skip(it.key())) continue;
    ++counted;
    auto other = b.find(it.key());
    if (other == b.end()) return false;
    if (top && it.key() == "metadata" ? !same_members(*it, *other, server_metadata, false)
                                      : !same_json(*it, *other))
      return false;
  }
  for (auto it = b.begin(); it != b.end(); ++it)
    if (!skip(it.key())) --counted;
  return counted == 0;
}

// What a user wrote, without what the server keeps: the part apply compares.
bool same_user_content(const Json& a, const Json& b) {
  return same_members(
      a, b, [](std::string_view key) { return key == "status"; }, true);
}

std::string not_found(const std::string& resource, const std::string& name) {
  return fmt::format("{} {} not found", resource, Json(name).dump());
}

}  // namespace

Result<std::unique_ptr<Store>> Store::open(const std::filesystem::path& file) {
  // Create the file 0600 before SQLite does: its WAL and shared-memory files copy its mode.
  const int fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0)
    return Error{ErrorCode::Internal,
                 fmt::format("store: cannot open {}: {}", file.string(), std::strerror(errno))};
  ::fchmod(fd, 0600);
  ::close(fd);
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(file.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) !=
      SQLITE_OK) {
    Error e = internal(db, "open " + file.string());
    sqlite3_close(db);
    return e;
  }
  std::unique_ptr<Store> store(new Store(db));
  // WAL with synchronous=NORMAL survives a killed process (not a power cut) at a fraction of
  // FULL's fsyncs; that is the failure a local control plane meets.
  const char* setup =
      "PRAGMA busy_timeout=5000;"
      "PRAGMA journal_mode=WAL;"
      "PRAGMA synchronous=NORMAL;"
      "CREATE TABLE IF NOT EXISTS objects("
      "  resource TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL, body TEXT NOT NULL,"
      "  PRIMARY KEY (resource, namespace, name)) WITHOUT ROWID;"
      "CREATE TABLE IF NOT EXISTS counters(name TEXT PRIMARY KEY, value INTEGER NOT NULL);"
      "INSERT OR IGNORE INTO counters VALUES ('resourceVersion', 0);";
  if (!store->exec(setup)) return internal(db, "initialise " + file.string());
  if (Result<bool> loaded = store->load(); !loaded.ok()) return loaded.error();
  return store;
}

Result<bool> Store::load() {
  sqlite3_stmt* version = nullptr;
  if (sqlite3_prepare_v2(db_, "SELECT value FROM counters WHERE name = 'resourceVersion'", -1,
                         &version, nullptr) != SQLITE_OK)
    return internal(db_, "read resourceVersion");
  if (sqlite3_step(version) == SQLITE_ROW) rv_ = sqlite3_column_int64(version, 0);
  sqlite3_finalize(version);

  sqlite3_stmt* all = nullptr;
  if (sqlite3_prepare_v2(db_, "SELECT resource, namespace, name, body FROM objects", -1, &all,
                         nullptr) != SQLITE_OK)
    return internal(db_, "read objects");
  const auto text = [all](int col) {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(all, col));
    return p ? std::string_view(p, static_cast<size_t>(sqlite3_column_bytes(all, col)))
             : std::string_view();
  };
  int rc;
  while ((rc = sqlite3_step(all)) == SQLITE_ROW) {
    const std::string_view body = text(3);
    Json object = Json::parse(body.begin(), body.end(), nullptr, false);
    if (object.is_discarded()) {
      Error e{ErrorCode::Internal,
              fmt::format("store: {} {}/{} is not valid JSON", text(0), text(1), text(2))};
      sqlite3_finalize(all);
      return e;
    }
    objects_[std::string(text(0))].emplace(Name{text(1), text(2)},
                                           std::make_shared<const Json>(std::move(object)));
  }
  sqlite3_finalize(all);
  if (rc != SQLITE_DONE) return internal(db_, "read objects");
  return true;
}

Store::~Store() {
  for (auto& [sql, stmt] : statements_) sqlite3_finalize(stmt);
  sqlite3_close(db_);
}

bool Store::exec(const char* sql) {
  return sqlite3_exec(db_, sql, nullptr, nullptr, nullptr) == SQLITE_OK;
}

sqlite3_stmt* Store::statement(const char* sql) {
  auto it = statements_.find(sql);
  if (it != statements_.end()) return it->second;
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr) != SQLITE_OK)
    return nullptr;
  statements_[sql] = stmt;
  return stmt;
}

// --- transactions -----------------------------------------------------------------------------

Store::Transaction Store::transaction() {
  return Transaction(this);
}

Store::Transaction::Transaction(Store* store) {
  const int depth = store->depth_ + 1;
  const std::string sql = depth == 1 ? "BEGIN IMMEDIATE" : fmt::format("SAVEPOINT s{}", depth);
  if (!store->exec(sql.c_str())) return;
  store_ = store;
  depth_ = store->depth_ = depth;
  undo_mark_ = store->undo_.size();
  events_mark_ = store->pending_.size();
  rv_mark_ = store->rv_;
}

Store::Transaction::Transaction(Transaction&& other) noexcept
    : store_(other.store_),
      undo_mark_(other.undo_mark_),
      events_mark_(other.events_mark_),
      rv_mark_(other.rv_mark_),
      depth_(other.depth_) {
  other.store_ = nullptr;
}

Store::Transaction::~Transaction() {
  if (store_) rollback();
}

Result<bool> Store::Transaction::commit() {
  if (!store_) return Error{ErrorCode::Internal, "store: commit without a transaction"};
  Store& s = *store_;
  assert(s.depth_ == depth_);
  const std::string sql = depth_ == 1 ? "COMMIT" : fmt::format("RELEASE s{}", depth_);
  if (!s.exec(sql.c_str())) {
    Error e = internal(s.db_, "commit");
    rollback();
    return e;
  }
  store_ = nullptr;
  s.depth_ = depth_ - 1;
  if (depth_ > 1) return true;  // the outer transaction may still take it all back
  s.undo_.clear();
  std::vector<Event> events = std::move(s.pending_);
  s.pending_.clear();
  if (s.observer_)
    for (const Event& e : events) s.observer_(e);
  return true;
}

void Store::Transaction::rollback() {
  if (!store_) return;
  Store& s = *store_;
  assert(s.depth_ == depth_);
  if (depth_ == 1) {
    s.exec("ROLLBACK");
  } else {
    const std::string sql = fmt::format("ROLLBACK TO s{0}; RELEASE s{0}", depth_);
    s.exec(sql.c_str());
  }
  // Memory follows the database back, newest write first.
  while (s.undo_.size() > undo_mark_) {
    Undo& u = s.undo_.back();
    Objects& objects = s.objects_[u.resource];
    if (u.previous)
      objects[u.name] = std::move(u.previous);
    else
      objects.erase(u.name);
    s.undo_.pop_back();
  }
  s.pending_.resize(events_mark_);
  s.rv_ = rv_mark_;
  s.depth_ = depth_ - 1;
  store_ = nullptr;
}

// --- reads ------------------------------------------------------------------------------------

const Json* Store::find(const Key& key) const {
  auto r = objects_.find(key.resource);
  if (r == objects_.end()) return nullptr;
  auto it = r->second.find(std::pair<std::string_view, std::string_view>(key.ns, key.name));
  return it == r->second.end() ? nullptr : it->second.get();
}

Result<Json> Store::get(const Key& key) const {
  if (const Json* o = find(key)) return *o;
  return Error{ErrorCode::NotFound, not_found(key.resource, key.name)};
}

std::vector<ObjectRef> Store::items(const std::string& resource, const std::string& ns) const {
  std::vector<ObjectRef> out;
  auto r = objects_.find(resource);
  if (r == objects_.end()) return out;
  const Objects& objects = r->second;
  if (ns.empty()) {
    out.reserve(objects.size());
    for (const auto& [name, object] : objects) out.push_back(object);
    return out;
  }
  for (auto it = objects.lower_bound(std::pair<std::string_view, std::string_view>(ns, ""));
       it != objects.end() && it->first.first == ns; ++it)
    out.push_back(it->second);
  return out;
}

std::vector<Json> Store::list(const std::string& resource, const std::string& ns) const {
  std::vector<Json> out;
  for (const ObjectRef& o : items(resource, ns)) out.push_back(*o);
  return out;
}

// --- writes -----------------------------------------------------------------------------------

int64_t Store::next_resource_version() {
  Use set(statement(kSetVersion));
  if (!set.ok()) return 0;
  set.bind(1, rv_ + 1);
  if (set.step() != SQLITE_DONE) return 0;
  return ++rv_;
}

void Store::notify(Event::Type type, const std::string& resource, const Json& object) {
  if (observer_) pending_.push_back(Event{type, resource, object});
}

Result<bool> Store::put(const std::string& resource, const std::string& ns, const std::string& name,
                        ObjectRef object) {
  assert(depth_ > 0);
  if (object) {
    Use put(statement(kPut));
    if (!put.ok()) return internal(db_, "write");
    const std::string body = object->dump();
    put.bind(1, resource).bind(2, ns).bind(3, name).bind(4, body);
    if (put.step() != SQLITE_DONE) return internal(db_, "write");
  } else {
    Use del(statement(kDelete));
    if (!del.ok()) return internal(db_, "delete");
    del.bind(1, resource).bind(2, ns).bind(3, name);
    if (del.step() != SQLITE_DONE) return internal(db_, "delete");
  }
  ++changes_[resource];
  Objects& objects = objects_[resource];
  auto it = objects.find(std::pair<std::string_view, std::string_view>(ns, name));
  ObjectRef previous = it == objects.end() ? nullptr : it->second;
  undo_.push_back(Undo{resource, Name{ns, name}, previous});
  if (object)
    objects[Name{ns, name}] = std::move(object);
  else if (it != objects.end())
    objects.erase(it);
  return true;
}

// The body of one write; callers hold a transaction.
Result<Json> Store::write(const std::string& resource, Json object, bool must_exist,
                          bool must_not_exist, Outcome* outcome) {
  const std::string name = meta_string(object, "name");
  const std::string ns = meta_string(object, "namespace");
  if (name.empty()) return Error{ErrorCode::Invalid, "metadata.name: required value is missing"};
  // Held, so that the stored object outlives whatever admission does.
  ObjectRef existing;
  if (auto r = objects_.find(resource); r != objects_.end())
    if (auto it = r->second.find(std::pair<std::string_view, std::string_view>(ns, name));
        it != r->second.end())
      existing = it->second;
  if (existing && must_not_exist)
    return Error{ErrorCode::AlreadyExists,
                 fmt::format("{} {} already exists", resource, Json(name).dump())};
  if (!existing && must_exist) return Error{ErrorCode::NotFound, not_found(resource, name)};

  if (admission_) {
    Result<bool> admitted = admission_(*this, resource, object, existing.get());
    if (!admitted.ok()) return admitted.error();
  }
  if (!object["metadata"].is_object()) object["metadata"] = Json::object();
  if (existing) {
    const Json& old = *existing;
    const std::string sent_rv = meta_string(object, "resourceVersion");
    if (!sent_rv.empty() && sent_rv != meta_string(old, "resourceVersion"))
      return Error{
          ErrorCode::Conflict,
          fmt::format("Operation cannot be fulfilled on {} {}: the object has been modified; "
                      "please apply your changes to the latest version and try again",
                      resource, Json(name).dump())};
    if (same_user_content(object, old)) {
      if (outcome) *outcome = Outcome::Unchanged;
      return old;
    }
    Json& meta = object["metadata"];
    meta["uid"] = old["metadata"]["uid"];
    meta["creationTimestamp"] = old["metadata"]["creationTimestamp"];
    const int64_t generation = old["metadata"].value("generation", int64_t{1});
    const bool spec_changed = !same_json(json_at(object, "spec"), json_at(old, "spec"));
    meta["generation"] = spec_changed ? generation + 1 : generation;
    // Status belongs to controllers, not to whoever writes the object.
    // Inserting moves the object's members: `meta` is not used after this.
    if (old.contains("status"))
      object["status"] = old["status"];
    else
      object.erase("status");
  } else {
    Json& meta = object["metadata"];
    meta["uid"] = new_uid();
    meta["creationTimestamp"] = rfc3339::now_seconds();
    meta["generation"] = 1;
  }
  const int64_t rv = next_resource_version();
  if (rv == 0) return internal(db_, "resourceVersion");
  // Re-fetched: inserting "status" above may have moved the metadata object.
  object["metadata"]["resourceVersion"] = std::to_string(rv);
  auto stored = std::make_shared<const Json>(std::move(object));
  if (Result<bool> w = put(resource, ns, name, stored); !w.ok()) return w.error();
  if (outcome) *outcome = existing ? Outcome::Configured : Outcome::Created;
  notify(existing ? Event::Type::Modified : Event::Type::Added, resource, *stored);
  return *stored;
}

Result<Json> Store::create(const std::string& resource, Json object) {
  Transaction tx(this);
  if (!tx.began()) return internal(db_, "begin");
  if (object.contains("metadata") && object["metadata"].is_object())
    object["metadata"].erase("resourceVersion");
  Result<Json> r = write(resource, std::move(object), false, true, nullptr);
  if (!r.ok()) return r;
  if (Result<bool> c = tx.commit(); !c.ok()) return c.error();
  return r;
}

Result<Json> Store::update(const std::string& resource, Json object) {
  Transaction tx(this);
  if (!tx.began()) return internal(db_, "begin");
  Result<Json> r = write(resource, std::move(object), true, false, nullptr);
  if (!r.ok()) return r;
  if (Result<bool> c = tx.commit(); !c.ok()) return c.error();
  return r;
}

Result<Json> Store::remove(const Key& key) {
  Transaction tx(this);
  if (!tx.began()) return internal(db_, "begin");
  const Json* found = find(key);
  if (!found) return Error{ErrorCode::NotFound, not_found(key.resource, key.name)};
  Json existing = *found;
  const int64_t rv = next_resource_version();
  if (rv == 0) return internal(db_, "resourceVersion");
  if (Result<bool> w = put(key.resource, key.ns, key.name, nullptr); !w.ok()) return w.error();
  // A deletion is a change too: its watch event carries the new resourceVersion.
  existing["metadata"]["resourceVersion"] = std::to_string(rv);
  notify(Event::Type::Deleted, key.resource, existing);
  if (Result<bool> c = tx.commit(); !c.ok()) return c.error();
  return existing;
}

Result<Json> Store::update_status(const Key& key, Json status) {
  const Json* found = find(key);
  if (!found) return Error{ErrorCode::NotFound, not_found(key.resource, key.name)};
  if (json_at(*found, "status") == status) return *found;
  Transaction tx(this);
  if (!tx.began()) return internal(db_, "begin");
  Json object = *found;
  object["status"] = std::move(status);
  const int64_t rv = next_resource_version();
  if (rv == 0) return internal(db_, "resourceVersion");
  object["metadata"]["resourceVersion"] = std::to_string(rv);
  auto stored = std::make_shared<const Json>(std::move(object));
  if (Result<bool> w = put(key.resource, key.ns, key.name, stored); !w.ok()) return w.error();
  notify(Event::Type::Modified, key.resource, *stored);
  if (Result<bool> c = tx.commit(); !c.ok()) return c.error();
  return *stored;
}

Result<std::vector<Applied>> Store::apply(const std::vector<std::pair<std::string, Json>>& batch) {
  Transaction tx(this);
  if (!tx.began()) return internal(db_, "begin");
  std::vector<Applied> out;
  out.reserve(batch.size());
  for (const auto& [resource, object] : batch) {
    Outcome outcome = Outcome::Unchanged;
    Result<Json> r = write(resource, object, false, false, &outcome);
    if (!r.ok()) return r.error();
    out.push_back({outcome, std::move(r.value())});
  }
  if (Result<bool> c = tx.commit(); !c.ok()) return c.error();
  return out;
}

}  // namespace ticketctl::store
