#include "runtime/store/store.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <chrono>
#include <ctime>
#include <random>

namespace ticketctl::store {
namespace {

// One prepared statement, finalized on scope exit.
class Statement {
 public:
  Statement(sqlite3* db, const char* sql) {
    ok_ = sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr) == SQLITE_OK;
  }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  bool ok() const { return ok_; }
  Statement& bind(int i, const std::string& s) {
    sqlite3_bind_text(stmt_, i, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Statement& bind(int i, int64_t v) {
    sqlite3_bind_int64(stmt_, i, v);
    return *this;
  }
  int step() { return sqlite3_step(stmt_); }
  std::string text(int col) const {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
    return p ? std::string(p, sqlite3_column_bytes(stmt_, col)) : std::string();
  }
  int64_t integer(int col) const { return sqlite3_column_int64(stmt_, col); }

 private:
  sqlite3_stmt* stmt_ = nullptr;
  bool ok_ = false;
};

// Rolls back unless committed, so every early return leaves the database as it was.
class Transaction {
 public:
  explicit Transaction(sqlite3* db) : db_(db) {
    began_ = sqlite3_exec(db_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK;
  }
  ~Transaction() {
    if (began_ && !committed_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }
  bool began() const { return began_; }
  bool commit() {
    committed_ = sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr) == SQLITE_OK;
    return committed_;
  }

 private:
  sqlite3* db_;
  bool began_ = false, committed_ = false;
};

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

const std::string& meta_string(const Json& object, const char* field) {
  static const std::string kEmpty;
  auto m = object.find("metadata");
  if (m == object.end() || !m->is_object()) return kEmpty;
  auto f = m->find(field);
  return f != m->end() && f->is_string() ? f->get_ref<const std::string&>() : kEmpty;
}

// What a user wrote, without what the server keeps: the part apply compares.
Json user_content(Json object) {
  object.erase("status");
  if (object.contains("metadata") && object["metadata"].is_object()) {
    for (const char* f :
         {"uid", "resourceVersion", "generation", "creationTimestamp", "managedFields", "selfLink"})
      object["metadata"].erase(f);
  }
  return object;
}

std::string not_found(const std::string& resource, const std::string& name) {
  return fmt::format("{} {} not found", resource, Json(name).dump());
}

}  // namespace

std::string rfc3339_now() { return rfc3339_after(std::chrono::seconds(0)); }

std::string rfc3339_after(std::chrono::seconds from_now) {
  const std::time_t t = std::time(nullptr) + from_now.count();
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

Result<std::unique_ptr<Store>> Store::open(const std::filesystem::path& file) {
  // Create the file 0600 before SQLite does: its WAL and shared-memory files copy its mode.
  const int fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
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
  return store;
}

Store::~Store() {
  sqlite3_close(db_);
}

bool Store::exec(const char* sql) {
  return sqlite3_exec(db_, sql, nullptr, nullptr, nullptr) == SQLITE_OK;
}

int64_t Store::resource_version() const {
  Statement s(db_, "SELECT value FROM counters WHERE name = 'resourceVersion'");
  return s.ok() && s.step() == SQLITE_ROW ? s.integer(0) : 0;
}

Result<Json> Store::get(const Key& key) const {
  Statement s(db_, "SELECT body FROM objects WHERE resource = ? AND namespace = ? AND name = ?");
  if (!s.ok()) return internal(db_, "get");
  s.bind(1, key.resource).bind(2, key.ns).bind(3, key.name);
  const int rc = s.step();
  if (rc == SQLITE_ROW) return Json::parse(s.text(0));
  if (rc == SQLITE_DONE) return Error{ErrorCode::NotFound, not_found(key.resource, key.name)};
  return internal(db_, "get");
}

std::vector<Json> Store::list(const std::string& resource, const std::string& ns) const {
  std::vector<Json> out;
  Statement s(db_,
              ns.empty()
                  ? "SELECT body FROM objects WHERE resource = ? ORDER BY namespace, name"
                  : "SELECT body FROM objects WHERE resource = ? AND namespace = ? ORDER BY name");
  if (!s.ok()) return out;
  s.bind(1, resource);
  if (!ns.empty()) s.bind(2, ns);
  while (s.step() == SQLITE_ROW) out.push_back(Json::parse(s.text(0)));
  return out;
}

int64_t Store::next_resource_version() {
  Statement bump(
      db_, "UPDATE counters SET value = value + 1 WHERE name = 'resourceVersion' RETURNING value");
  if (!bump.ok() || bump.step() != SQLITE_ROW) return 0;
  const int64_t rv = bump.integer(0);
  // Run the statement to its end: a half-stepped statement would keep COMMIT from succeeding.
  return bump.step() == SQLITE_DONE ? rv : 0;
}

// The body of one write; callers hold a transaction.
Result<Json> Store::write(const std::string& resource, Json object, bool must_exist,
                          bool must_not_exist, Outcome* outcome) {
  const std::string name = meta_string(object, "name");
  const std::string ns = meta_string(object, "namespace");
  if (name.empty()) return Error{ErrorCode::Invalid, "metadata.name: required value is missing"};
  Result<Json> existing = get(Key{resource, ns, name});
  if (!existing.ok() && existing.error().code != ErrorCode::NotFound) return existing.error();
  const bool exists = existing.ok();
  if (exists && must_not_exist)
    return Error{ErrorCode::AlreadyExists,
                 fmt::format("{} {} already exists", resource, Json(name).dump())};
  if (!exists && must_exist) return Error{ErrorCode::NotFound, not_found(resource, name)};

  if (admission_) {
    Result<bool> admitted = admission_(*this, resource, object, exists ? &existing.value() : nullptr);
    if (!admitted.ok()) return admitted.error();
  }
  Json& meta = object["metadata"];
  if (exists) {
    const Json& old = existing.value();
    const std::string& sent_rv = meta_string(object, "resourceVersion");
    if (!sent_rv.empty() && sent_rv != meta_string(old, "resourceVersion"))
      return Error{
          ErrorCode::Conflict,
          fmt::format("Operation cannot be fulfilled on {} {}: the object has been modified; "
                      "please apply your changes to the latest version and try again",
                      resource, Json(name).dump())};
    if (user_content(object) == user_content(old)) {
      if (outcome) *outcome = Outcome::Unchanged;
      return old;
    }
    meta["uid"] = old["metadata"]["uid"];
    meta["creationTimestamp"] = old["metadata"]["creationTimestamp"];
    const int64_t generation = old["metadata"].value("generation", int64_t{1});
    const bool spec_changed = object.value("spec", Json()) != old.value("spec", Json());
    meta["generation"] = spec_changed ? generation + 1 : generation;
    // Status belongs to controllers, not to whoever writes the object.
    // Inserting moves the object's members: `meta` is not used after this.
    if (old.contains("status"))
      object["status"] = old["status"];
    else
      object.erase("status");
  } else {
    meta["uid"] = new_uid();
    meta["creationTimestamp"] = rfc3339_now();
    meta["generation"] = 1;
  }
  const int64_t rv = next_resource_version();
  if (rv == 0) return internal(db_, "resourceVersion");
  // Re-fetched: inserting "status" above may have moved the metadata object.
  object["metadata"]["resourceVersion"] = std::to_string(rv);
  Statement put(
      db_, "INSERT OR REPLACE INTO objects (resource, namespace, name, body) VALUES (?, ?, ?, ?)");
  if (!put.ok()) return internal(db_, "write");
  put.bind(1, resource).bind(2, ns).bind(3, name).bind(4, object.dump());
  if (put.step() != SQLITE_DONE) return internal(db_, "write");
  if (outcome) *outcome = exists ? Outcome::Configured : Outcome::Created;
  return object;
}

Result<Json> Store::create(const std::string& resource, Json object) {
  Transaction tx(db_);
  if (!tx.began()) return internal(db_, "begin");
  if (object.contains("metadata") && object["metadata"].is_object())
    object["metadata"].erase("resourceVersion");
  Result<Json> r = write(resource, std::move(object), false, true, nullptr);
  if (r.ok() && !tx.commit()) return internal(db_, "commit");
  if (r.ok()) notify(Event::Type::Added, resource, r.value());
  return r;
}

Result<Json> Store::update(const std::string& resource, Json object) {
  Transaction tx(db_);
  if (!tx.began()) return internal(db_, "begin");
  Outcome outcome = Outcome::Unchanged;
  Result<Json> r = write(resource, std::move(object), true, false, &outcome);
  if (r.ok() && !tx.commit()) return internal(db_, "commit");
  if (r.ok() && outcome != Outcome::Unchanged) notify(Event::Type::Modified, resource, r.value());
  return r;
}

Result<Json> Store::remove(const Key& key) {
  Transaction tx(db_);
  if (!tx.began()) return internal(db_, "begin");
  Result<Json> existing = get(key);
  if (!existing.ok()) return existing;
  const int64_t rv = next_resource_version();
  if (rv == 0) return internal(db_, "resourceVersion");
  Statement del(db_, "DELETE FROM objects WHERE resource = ? AND namespace = ? AND name = ?");
  if (!del.ok()) return internal(db_, "delete");
  del.bind(1, key.resource).bind(2, key.ns).bind(3, key.name);
  if (del.step() != SQLITE_DONE) return internal(db_, "delete");
  if (!tx.commit()) return internal(db_, "commit");
  // A deletion is a change too: its watch event carries the new resourceVersion.
  existing.value()["metadata"]["resourceVersion"] = std::to_string(rv);
  notify(Event::Type::Deleted, key.resource, existing.value());
  return existing;
}

Result<Json> Store::update_status(const Key& key, Json status) {
  Transaction tx(db_);
  if (!tx.began()) return internal(db_, "begin");
  Result<Json> existing = get(key);
  if (!existing.ok()) return existing;
  Json object = std::move(existing.value());
  if (object.value("status", Json()) == status) return object;
  object["status"] = std::move(status);
  const int64_t rv = next_resource_version();
  if (rv == 0) return internal(db_, "resourceVersion");
  object["metadata"]["resourceVersion"] = std::to_string(rv);
  Statement put(db_,
                "UPDATE objects SET body = ? WHERE resource = ? AND namespace = ? AND name = ?");
  if (!put.ok()) return internal(db_, "write");
  put.bind(1, object.dump()).bind(2, key.resource).bind(3, key.ns).bind(4, key.name);
  if (put.step() != SQLITE_DONE || !tx.commit()) return internal(db_, "write");
  notify(Event::Type::Modified, key.resource, object);
  return object;
}

Result<std::vector<Applied>> Store::apply(const std::vector<std::pair<std::string, Json>>& batch) {
  Transaction tx(db_);
  if (!tx.began()) return internal(db_, "begin");
  std::vector<Applied> out;
  out.reserve(batch.size());
  for (const auto& [resource, object] : batch) {
    Outcome outcome = Outcome::Unchanged;
    Result<Json> r = write(resource, object, false, false, &outcome);
    if (!r.ok()) return r.error();
    out.push_back({outcome, std::move(r.value())});
  }
  if (!tx.commit()) return internal(db_, "commit");
  for (size_t i = 0; i < out.size(); ++i)
    if (out[i].outcome != Outcome::Unchanged)
      notify(out[i].outcome == Outcome::Created ? Event::Type::Added : Event::Type::Modified,
             batch[i].first, out[i].object);
  return out;
}

}  // namespace ticketctl::store
